#include "userspace/scenario/experiment_spec.h"

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/units.h"
#include "common/yaml_field.h"

namespace qpspread::scenario {
namespace {

using nlohmann::json;

using yaml::boolean;
using yaml::integer;
using yaml::one_of;
using yaml::scalar;
using yaml::Where;

// Bytes: a plain number, or with b, kb, mb, gb (1000-based, common/units.h).
uint64_t bytes(const Where& w, const YAML::Node& n) {
  const std::string s = scalar(w, n);
  uint64_t v = 0;
  try {
    v = parse_size_bytes(w.key(), s);
  } catch (const Error&) {
    v = 0;
  }
  if (v < 64 || v > (1u << 30)) w.fail("'" + s + "' is not a size from 64 bytes to 1gb like 4096, 64kb or 1mb");
  return v;
}

ExperimentEvent event(const std::filesystem::path& file, const YAML::Node& n, const std::string& key) {
  const Where w(file, n, key);
  if (!n.IsMap()) w.fail("an event is a map like {at: 2s, link: wan1, state: down}");
  ExperimentEvent e;
  bool has_at = false;
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar();
    const Where kw(file, kv.first, key + "." + k);
    if (k == "at") {
      e.at_us = parse_duration_us(kw.text(), scalar(kw, kv.second));
      has_at = true;
    } else if (k == "link") {
      e.link = scalar(kw, kv.second);
    } else if (k == "node") {
      e.node = scalar(kw, kv.second);
    } else if (k == "state") {
      e.state = one_of(kw, kv.second, {"down", "up", "stop", "start"});
    } else {
      kw.fail("unknown key; an event has at, link or node, state");
    }
  }
  if (!has_at) w.fail("the event has no 'at'");
  if (e.link.empty() == e.node.empty()) w.fail("an event names either a link or a node");
  if (!e.link.empty() && e.state != "down" && e.state != "up") w.fail("a link's state is down or up");
  if (!e.node.empty() && e.state != "stop" && e.state != "start") w.fail("a node's state is stop or start");
  return e;
}

void set_wan(RunConfig& c, const std::string& sub, const YAML::Node& v, const Where& w) {
  const std::string s = scalar(w, v);
  if (sub == "delay") c.wan.delay_us = parse_duration_us(w.text(), s);
  else if (sub == "jitter") c.wan.jitter_us = parse_duration_us(w.text(), s);
  else if (sub == "loss") c.wan.loss_percent = parse_loss_percent(w.text(), s);
  else if (sub == "rate") c.wan.rate_bps = parse_rate_bps(w.text(), s);
  else if (sub == "ecn") c.wan.ecn = wan::parse_ecn(w.text(), s);
  else w.fail("unknown key; wan has delay, jitter, loss, rate, ecn");
}

// One setting (a key of `fixed`, or wan.X) from its YAML value.
void set_key(const std::filesystem::path& file, RunConfig& c, const std::string& key, const YAML::Node& v,
             const YAML::Node& key_node, const std::string& prefix) {
  const Where w(file, v, prefix + key);
  if (key == "mode") c.mode = one_of(w, v, {"off", "qp-hash", "balance"});
  else if (key == "collective") c.collective = one_of(w, v, {"allreduce", "ps", "stream"});
  else if (key == "cc") c.cc = one_of(w, v, {"dcqcn", "none"});
  else if (key == "vni") c.vni = static_cast<uint32_t>(integer(w, v, 1, 0xffffff));
  else if (key == "ranks") c.ranks = static_cast<int>(integer(w, v, 2, 64));
  else if (key == "qps") c.qps = static_cast<int>(integer(w, v, 1, 256));
  else if (key == "split") c.split = one_of(w, v, {"rr", "split"});
  else if (key == "sport") c.sport = one_of(w, v, {"fixed", "qpn", "few"});
  else if (key == "size") c.size = bytes(w, v);
  else if (key == "duration") c.duration_us = parse_duration_us(w.text(), scalar(w, v));
  else if (key == "iterations") c.iterations = static_cast<int>(integer(w, v, 1, 100000));
  else if (key == "rate") c.rate_bps = parse_rate_bps(w.text(), scalar(w, v));
  else if (key == "ack_timeout") {
    c.ack_timeout_us = parse_duration_us(w.text(), scalar(w, v));
    if (c.ack_timeout_us < 100) w.fail("'" + scalar(w, v) + "' is shorter than 100us");
  }
  else if (key == "balance_interval") {
    c.balance_interval_us = parse_duration_us(w.text(), scalar(w, v));
    if (c.balance_interval_us < 10'000) w.fail("'" + scalar(w, v) + "' is shorter than 10ms");
  }
  else if (key == "bfd") c.bfd = boolean(w, v);
  else if (key.starts_with("wan.")) set_wan(c, key.substr(4), v, w);
  else if (key == "wan") {
    if (!v.IsMap()) w.fail("wan is a map like {delay: 10ms, rate: 20mbit}");
    for (const auto& kv : v) set_key(file, c, "wan." + kv.first.Scalar(), kv.second, kv.first, prefix);
  } else if (key == "events") {
    if (!v.IsSequence()) w.fail("events is a list like [{at: 2s, link: wan1, state: down}]");
    c.events.clear();
    for (size_t i = 0; i < v.size(); i++) c.events.push_back(event(file, v[i], prefix + key + "[" + std::to_string(i) + "]"));
  } else {
    Where(file, key_node, prefix + key)
        .fail("unknown key; settings are mode, collective, vni, ranks, qps, split, sport, size, iterations, duration, rate, "
              "cc, ack_timeout, balance_interval, wan (delay, jitter, loss, rate, ecn), bfd, events");
  }
}

void apply_map(const std::filesystem::path& file, RunConfig& c, const YAML::Node& m, const std::string& prefix) {
  if (!m.IsMap()) Where(file, m, prefix.substr(0, prefix.size() - 1)).fail("expected a map of settings");
  for (const auto& kv : m) set_key(file, c, kv.first.Scalar(), kv.second, kv.first, prefix);
}

std::string label_of(const std::string& key, const YAML::Node& v) {
  if (v.IsScalar()) return key + "=" + v.Scalar();
  YAML::Emitter e;
  e << YAML::Flow << v;
  return key + "=" + e.c_str();
}

// The product of the axes, the first axis outermost (the last one varies fastest).
void expand_axes(ExperimentSpec& s, const RunConfig& fixed, const YAML::Node& axes, const std::string& part) {
  if (!axes.IsMap() || axes.size() == 0) Where(s.file, axes, "axes").fail("expected a map of axis: [values]");
  std::vector<std::pair<std::string, YAML::Node>> list;
  for (const auto& kv : axes) {
    const std::string key = kv.first.Scalar();
    if (!kv.second.IsSequence() || kv.second.size() == 0)
      Where(s.file, kv.first, "axes." + key).fail("an axis is a non-empty list of values");
    RunConfig probe = fixed;  // each value checked now, before anything runs
    for (const auto& v : kv.second) set_key(s.file, probe, key, v, kv.first, "axes.");
    list.emplace_back(key, kv.second);
  }
  std::vector<size_t> idx(list.size(), 0);
  for (;;) {
    ExperimentPoint p{static_cast<int>(s.points.size()), part, fixed, {}};
    for (size_t a = 0; a < list.size(); a++) {
      const YAML::Node v = list[a].second[idx[a]];
      set_key(s.file, p.config, list[a].first, v, v, "axes.");
      p.label.push_back(label_of(list[a].first, v));
    }
    s.points.push_back(std::move(p));
    size_t a = list.size();
    while (a > 0 && ++idx[a - 1] == list[a - 1].second.size()) idx[--a] = 0;
    if (a == 0) break;
  }
}

void expand_points(ExperimentSpec& s, const RunConfig& fixed, const YAML::Node& points, const std::string& part) {
  if (!points.IsSequence() || points.size() == 0) Where(s.file, points, "points").fail("expected a non-empty list of points");
  for (size_t i = 0; i < points.size(); i++) {
    ExperimentPoint p{static_cast<int>(s.points.size()), part, fixed, {}};
    const std::string prefix = "points[" + std::to_string(i) + "].";
    apply_map(s.file, p.config, points[i], prefix);
    for (const auto& kv : points[i]) p.label.push_back(label_of(kv.first.Scalar(), kv.second));
    s.points.push_back(std::move(p));
  }
}

// The points of one sweep: its axes, its points, or the fixed settings alone.
void expand(ExperimentSpec& s, const RunConfig& fixed, const YAML::Node& m, const std::string& part) {
  if (m["axes"] && m["points"]) Where(s.file, m["points"], "points").fail("give either axes or points, not both");
  if (m["axes"]) expand_axes(s, fixed, m["axes"], part);
  else if (m["points"]) expand_points(s, fixed, m["points"], part);
  else s.points.push_back({static_cast<int>(s.points.size()), part, fixed, {}});
}

// `parts`: several sweeps in one study, each with a name, its own fixed settings (over the
// spec's) and its axes or points; the report draws each part apart.
void expand_parts(ExperimentSpec& s, const RunConfig& fixed, const YAML::Node& parts) {
  if (!parts.IsSequence() || parts.size() == 0)
    Where(s.file, parts, "parts").fail("expected a list of parts like {name: spread, axes: {...}}");
  std::set<std::string> names;
  for (size_t i = 0; i < parts.size(); i++) {
    const YAML::Node part = parts[i];
    const std::string where = "parts[" + std::to_string(i) + "]";
    if (!part.IsMap()) Where(s.file, part, where).fail("a part is a map: name, fixed, axes or points");
    for (const auto& kv : part)
      if (kv.first.Scalar() != "name" && kv.first.Scalar() != "fixed" && kv.first.Scalar() != "axes" &&
          kv.first.Scalar() != "points" && kv.first.Scalar() != "repeats")
        Where(s.file, kv.first, where + "." + kv.first.Scalar())
            .fail("unknown key; a part has name, fixed, axes or points, repeats");
    if (!part["name"]) Where(s.file, part, where).fail("the part has no name");
    const std::string name = scalar(Where(s.file, part["name"], where + ".name"), part["name"]);
    if (!names.insert(name).second) Where(s.file, part["name"], where + ".name").fail("'" + name + "' names two parts");
    RunConfig own = fixed;
    if (part["fixed"]) apply_map(s.file, own, part["fixed"], where + ".fixed.");
    const size_t first = s.points.size();
    expand(s, own, part, name);
    if (part["repeats"]) {
      const int r = static_cast<int>(integer(Where(s.file, part["repeats"], where + ".repeats"), part["repeats"], 1, 1000));
      for (size_t i = first; i < s.points.size(); i++) s.points[i].repeats = r;
    }
  }
}

std::string top_scalar(const ExperimentSpec& s, const YAML::Node& root, const char* key, bool required) {
  const YAML::Node n = root[key];
  if (!n) {
    if (required) throw Error(s.file.filename().string() + ": '" + key + "' is missing");
    return "";
  }
  return scalar(Where(s.file, n, key), n);
}

}  // namespace

ExperimentSpec parse_experiment_spec(const std::string& yaml_text, const std::filesystem::path& file) {
  ExperimentSpec s;
  s.file = file;
  s.text = yaml_text;
  const YAML::Node root = yaml::load(yaml_text, file);
  if (!root.IsMap()) throw Error(file.filename().string() + ": a spec is a map (name, topology, fixed, axes, ...)");
  static const std::set<std::string> known = {"name",  "topology", "runner", "lab",     "fixed",
                                              "axes",  "points",   "parts",  "repeats", "seed_base"};
  for (const auto& kv : root)
    if (!known.count(kv.first.Scalar()))
      Where(file, kv.first, kv.first.Scalar())
          .fail("unknown key; a spec has name, topology, runner, lab, fixed, axes or points or parts, repeats, seed_base");
  s.name = top_scalar(s, root, "name", true);
  s.topology_text = top_scalar(s, root, "topology", true);
  s.topology = std::filesystem::path(s.topology_text).is_absolute() ? std::filesystem::path(s.topology_text)
                                                                   : file.parent_path() / s.topology_text;
  if (root["runner"]) s.runner = one_of(Where(file, root["runner"], "runner"), root["runner"], {"qpspread", "containerlab"});
  // Not given: the spec's name for a lab qpspread brings up; the topology's name for a lab containerlab
  // deployed (containerlab names it from the file), known once the topology is read.
  if (root["lab"]) s.lab = top_scalar(s, root, "lab", false);
  else if (s.runner == "qpspread") s.lab = s.name;
  if (root["repeats"]) s.repeats = static_cast<int>(integer(Where(file, root["repeats"], "repeats"), root["repeats"], 1, 1000));
  if (root["seed_base"])
    s.seed_base = static_cast<uint64_t>(integer(Where(file, root["seed_base"], "seed_base"), root["seed_base"], 0, int64_t{1} << 48));
  RunConfig fixed;
  if (root["fixed"]) apply_map(file, fixed, root["fixed"], "fixed.");
  if (root["parts"] && (root["axes"] || root["points"]))
    Where(file, root["parts"], "parts").fail("give parts, or axes or points, not both");
  if (root["parts"]) expand_parts(s, fixed, root["parts"]);
  else expand(s, fixed, root, "");
  for (const auto& p : s.points)
    if (p.config.duration_us && p.config.collective != "stream")
      throw Error(file.filename().string() + ": point " + std::to_string(p.index) + " (" + p.config.collective +
                  "): duration applies to collective: stream only");
  for (const auto& p : s.points)
    for (int r = 0; r < (p.repeats ? p.repeats : s.repeats); r++) {
      char id[32];
      std::snprintf(id, sizeof id, "p%04d-r%d", p.index, r);
      s.runs.push_back({id, p.index, r, s.seed_base + 1000 * static_cast<uint64_t>(p.index) + static_cast<uint64_t>(r)});
    }
  return s;
}

ExperimentSpec load_experiment_spec(const std::filesystem::path& file) {
  std::ifstream f(file);
  if (!f) throw Error("cannot read the spec " + file.string() + "; check the path");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_experiment_spec(ss.str(), file);
}

std::string events_text(const std::vector<ExperimentEvent>& events) {
  std::string out;
  for (const auto& e : events)
    out += (out.empty() ? "" : "; ") + format_duration_us(e.at_us) + (e.link.empty() ? " node " + e.node : " link " + e.link) +
           " " + e.state;
  return out;
}

json config_json(const ExperimentSpec& spec, const ExperimentPoint& p) {
  json j = config_json(spec, p.config);
  if (!p.part.empty()) j["part"] = p.part;
  return j;
}

json config_json(const ExperimentSpec& spec, const RunConfig& c) {
  json events = json::array();
  for (const auto& e : c.events) {
    json j = {{"at", format_duration_us(e.at_us)}, {"state", e.state}};
    j[e.link.empty() ? "node" : "link"] = e.link.empty() ? e.node : e.link;
    events.push_back(j);
  }
  return {{"name", spec.name}, {"topology", spec.topology_text}, {"runner", spec.runner}, {"mode", c.mode},
          {"collective", c.collective}, {"vni", c.vni}, {"ranks", c.ranks}, {"qps", c.qps}, {"split", c.split},
          {"sport", c.sport}, {"size", c.size}, {"iterations", c.iterations},
          {"duration", format_duration_us(c.duration_us)}, {"rate", format_rate_bps(c.rate_bps)},
          {"cc", c.cc},
          {"ack_timeout", format_duration_us(c.ack_timeout_us)},
          {"balance_interval", format_duration_us(c.balance_interval_us)},
          {"wan", wan::to_json(c.wan)}, {"bfd", c.bfd}, {"events", events}};
}

}  // namespace qpspread::scenario
