// Reading runs.jsonl, grouping runs into points and aggregating each metric over the repeats.
#include <algorithm>
#include <fstream>
#include <set>

#include "common/error.h"
#include "common/percentile.h"
#include "common/units.h"
#include "userspace/report/experiment_report.h"

namespace qpspread::report {
namespace {

using nlohmann::json;

void flatten(const json& config, const std::string& prefix, Settings& out) {
  for (const auto& [k, v] : config.items()) {
    if (v.is_object())
      flatten(v, prefix + k + ".", out);
    else
      out[prefix + k] = v;
  }
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The unit an axis is plotted in, judged by its name: durations in ms, rates in Mbit/s.
std::string unit_of(const std::string& name) {
  if (ends_with(name, "delay") || ends_with(name, "jitter")) return "ms";
  if (name == "rate" || ends_with(name, ".rate")) return "Mbit/s";
  if (ends_with(name, "loss")) return "%";
  if (name == "size") return "bytes";
  return "";
}

// The number a setting stands for in the axis's unit; false for a categorical value.
bool to_number(const std::string& name, const json& v, double& out) {
  if (v.is_number()) {
    out = v.get<double>();
    const std::string unit = unit_of(name);
    // A bare number of a rate is bit/s and of a duration us, as the parsers read them.
    if (unit == "Mbit/s") out /= 1e6;
    if (unit == "ms") out /= 1000;
    return true;
  }
  if (!v.is_string()) return false;
  const std::string s = v.get<std::string>(), unit = unit_of(name);
  try {
    if (unit == "ms") out = static_cast<double>(parse_duration_us(name, s)) / 1000.0;
    else if (unit == "Mbit/s") out = static_cast<double>(parse_rate_bps(name, s)) / 1e6;
    else if (unit == "%") out = parse_loss_percent(name, s);
    else return false;
  } catch (const Error&) {
    return false;
  }
  return true;
}

// Axes in the spec's order of `fixed`, so figures and tables read as the spec does.
int axis_rank(const std::string& name) {
  static const std::vector<std::string> order = {"mode", "collective", "ranks", "qps", "split", "sport", "size",
                                                 "iterations", "duration", "rate", "cc", "wan.delay", "wan.jitter",
                                                 "wan.loss", "wan.rate", "wan.ecn", "bfd", "events"};
  const auto it = std::find(order.begin(), order.end(), name);
  return it == order.end() ? static_cast<int>(order.size()) : static_cast<int>(it - order.begin());
}

std::vector<Axis> find_axes(const std::vector<Point>& points) {
  std::set<std::string> names;
  for (const Point& p : points)
    for (const auto& [k, v] : p.settings) names.insert(k);
  std::vector<Axis> axes;
  for (const std::string& name : names) {
    Axis a;
    a.name = name;
    for (const Point& p : points) {
      const auto it = p.settings.find(name);
      const json v = it == p.settings.end() ? json() : it->second;
      if (std::find(a.values.begin(), a.values.end(), v) == a.values.end()) a.values.push_back(v);
    }
    if (a.values.size() < 2) continue;
    a.numeric = std::all_of(a.values.begin(), a.values.end(), [&](const json& v) {
      double d;
      return to_number(name, v, d);
    });
    if (a.numeric) a.unit = unit_of(name);
    axes.push_back(std::move(a));
  }
  std::stable_sort(axes.begin(), axes.end(),
                   [](const Axis& a, const Axis& b) { return axis_rank(a.name) < axis_rank(b.name); });
  return axes;
}

void aggregate(Point& p, const std::vector<const RunRecord*>& ok_runs, std::vector<std::string>& metric_names) {
  std::map<std::string, std::vector<double>> values;
  for (const RunRecord* r : ok_runs) {
    if (!r->metrics.is_object()) continue;
    for (const auto& [k, v] : r->metrics.items()) {
      if (!v.is_number()) continue;  // null (no events), booleans (correct) are not plotted
      values[k].push_back(v.get<double>());
      if (std::find(metric_names.begin(), metric_names.end(), k) == metric_names.end()) metric_names.push_back(k);
    }
  }
  for (const auto& [k, v] : values) p.metrics[k] = summarize(v);
}

}  // namespace

double Axis::number(const json& v) const {
  double d = 0;
  to_number(name, v, d);
  return d;
}

size_t Study::ok_runs() const {
  return static_cast<size_t>(std::count_if(runs.begin(), runs.end(), [](const RunRecord& r) { return r.ok; }));
}

std::vector<const RunRecord*> Study::failed_runs() const {
  std::vector<const RunRecord*> out;
  for (const RunRecord& r : runs)
    if (!r.ok) out.push_back(&r);
  return out;
}

MetricSummary summarize(const std::vector<double>& values) {
  MetricSummary s;
  s.n = values.size();
  if (values.empty()) return s;
  s.median = percentile(values, 50);
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  return s;
}

std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  if (v.is_number_float()) return format_number(v.get<double>());
  return v.dump();
}

std::string settings_label(const Settings& s, const std::vector<const Axis*>& axes) {
  std::string out;
  for (const Axis* a : axes) {
    const auto it = s.find(a->name);
    out += (out.empty() ? "" : ", ") + a->name + "=" + (it == s.end() ? "-" : value_text(it->second));
  }
  return out;
}

RunRecord parse_run_record(const json& j) {
  if (!j.is_object()) throw Error("a record is not a JSON object");
  RunRecord r;
  r.run_id = j.value("run_id", "");
  if (r.run_id.empty()) throw Error("a record has no run_id");
  r.point = j.value("point", 0);
  r.repeat = j.value("repeat", 0);
  r.seed = j.value("seed", 0LL);
  r.status = j.value("status", "");
  r.ok = r.status == "ok";
  r.error = j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
  r.started = j.value("started", "");
  r.seconds = j.contains("seconds") && j["seconds"].is_number() ? j["seconds"].get<double>() : 0;
  if (j.contains("config") && j["config"].is_object()) flatten(j["config"], "", r.settings);
  r.versions = j.value("versions", json::object());
  r.metrics = j.value("metrics", json::object());
  return r;
}

Study load_study(const std::string& runs_jsonl) {
  std::ifstream in(runs_jsonl);
  if (!in) throw Error("cannot read " + runs_jsonl + "; run 'qpspread experiment run SPEC --out DIR' first");
  std::vector<RunRecord> runs;
  std::string line;
  for (size_t n = 1; std::getline(in, line); n++) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      runs.push_back(parse_run_record(json::parse(line)));
    } catch (const std::exception& e) {
      throw Error(runs_jsonl + ":" + std::to_string(n) + ": " + e.what() +
                  "; fix or remove that line (docs/experiment.md gives the record format)");
    }
  }
  return build_study(std::move(runs));
}

Study build_study(std::vector<RunRecord> runs) {
  Study st;
  st.runs = std::move(runs);
  // Group by configuration rather than by the recorded point number: a resumed or edited study
  // still aggregates the runs that really share their settings.
  std::map<std::string, std::vector<const RunRecord*>> groups;
  std::vector<std::string> order;
  for (const RunRecord& r : st.runs) {
    const std::string key = json(r.settings).dump();
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(&r);
  }
  for (const std::string& key : order) {
    Point p;
    const auto& members = groups[key];
    p.settings = members.front()->settings;
    p.index = members.front()->point;
    std::vector<const RunRecord*> ok;
    for (const RunRecord* r : members) {
      p.index = std::min(p.index, r->point);
      if (r->ok) {
        ok.push_back(r);
        p.ok_runs.push_back(r->run_id);
      } else {
        p.failed++;
      }
    }
    aggregate(p, ok, st.metrics);
    st.points.push_back(std::move(p));
  }
  std::stable_sort(st.points.begin(), st.points.end(),
                   [](const Point& a, const Point& b) { return a.index < b.index; });
  // The key metrics lead the tables, in the figures' order; the others follow by name.
  auto rank = [](const std::string& m) {
    const auto& k = key_metrics();
    return static_cast<size_t>(std::find(k.begin(), k.end(), m) - k.begin());
  };
  std::stable_sort(st.metrics.begin(), st.metrics.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  st.axes = find_axes(st.points);
  return st;
}

}  // namespace qpspread::report
