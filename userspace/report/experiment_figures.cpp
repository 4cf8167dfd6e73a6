// Which figures a study gets, and drawing them with gnuplot (a .dat and a .gp per figure, rendered
// to PNG for the Markdown report and SVG for the HTML one).
#include <algorithm>
#include <cctype>
#include <map>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/command.h"
#include "common/error.h"
#include "common/units.h"
#include "userspace/report/experiment_report.h"

namespace qpspread::report {
namespace {

using nlohmann::json;

// More lines than this make a plot unreadable: then only the first categorical axis names the
// lines and the others are held at their first value.
constexpr size_t kMaxLines = 8;
// A study sweeping many numeric axes still gets a handful of figures per metric.
constexpr size_t kMaxNumericAxes = 3;

std::string metric_title(const std::string& m) {
  static const std::map<std::string, std::string> titles = {
      {"wan_imbalance", "WAN imbalance (max/mean share)"},
      {"uplink_imbalance", "uplink imbalance (max/mean share)"},
      {"wan_jain", "WAN Jain's index"},
      {"uplink_jain", "uplink Jain's index"},
      {"iteration_ms_p50", "iteration time p50 (ms)"},
      {"iteration_ms_p99", "iteration time p99 (ms)"},
      {"algbw_bps", "algorithm bandwidth (bit/s)"},
      {"retransmitted_frames", "retransmitted frames"},
      {"cnp_tx", "CNPs sent"},
      {"interruption_ms", "interruption (ms)"},
      {"bfd_detect_ms", "BFD detection (ms)"}};
  const auto it = titles.find(m);
  return it == titles.end() ? m : it->second;
}

std::string axis_title(const Axis& a) { return a.unit.empty() ? a.name : a.name + " (" + a.unit + ")"; }

std::string file_id(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return s;
}

// Every combination of the values of `axes`, as settings to match.
std::vector<Settings> combinations(const std::vector<const Axis*>& axes) {
  std::vector<Settings> out(1);
  for (const Axis* a : axes) {
    std::vector<Settings> next;
    for (const Settings& s : out)
      for (const json& v : a->values) {
        Settings t = s;
        t[a->name] = v;
        next.push_back(std::move(t));
      }
    out = std::move(next);
  }
  return out;
}

bool matches(const Point& p, const Settings& want) {
  for (const auto& [k, v] : want) {
    const auto it = p.settings.find(k);
    if ((it == p.settings.end() ? json() : it->second) != v) return false;
  }
  return true;
}

struct Layout {
  std::vector<const Axis*> numeric, lines, held;  // held: fixed at their first value
  // Numeric axes that move with an earlier one (a host rate set to 1.2x the WAN rate): neither an
  // x of their own nor held, named in the captions.
  std::vector<std::pair<const Axis*, const Axis*>> companions;  // (follower, leader)
};

// True when, over every point, each value of `a` comes with one value of `b` and back.
bool move_together(const Study& st, const Axis& a, const Axis& b) {
  std::map<std::string, std::string> ab, ba;
  for (const Point& p : st.points) {
    const auto ia = p.settings.find(a.name), ib = p.settings.find(b.name);
    if (ia == p.settings.end() || ib == p.settings.end()) return false;
    const std::string va = value_text(ia->second), vb = value_text(ib->second);
    if (ab.emplace(va, vb).first->second != vb || ba.emplace(vb, va).first->second != va) return false;
  }
  return true;
}

Layout layout_of(const Study& st) {
  Layout l;
  std::vector<const Axis*> categorical;
  for (const Axis& a : st.axes) {
    if (!a.numeric) {
      categorical.push_back(&a);
      continue;
    }
    auto leader = std::find_if(l.numeric.begin(), l.numeric.end(), [&](const Axis* n) { return move_together(st, a, *n); });
    if (leader == l.numeric.end()) {
      l.numeric.push_back(&a);
    } else if (a.name.rfind("wan.", 0) == 0 && (*leader)->name.rfind("wan.", 0) != 0) {
      // The study is of the WAN: a WAN setting leads the one that follows it (wan.rate over rate).
      l.companions.emplace_back(*leader, &a);
      *leader = &a;
    } else {
      l.companions.emplace_back(&a, *leader);
    }
  }
  while (l.numeric.size() > kMaxNumericAxes) {
    l.held.push_back(l.numeric.back());
    l.numeric.pop_back();
  }
  l.lines = categorical;
  if (combinations(categorical).size() > kMaxLines && !categorical.empty()) {
    l.lines = {categorical.front()};
    l.held.insert(l.held.end(), categorical.begin() + 1, categorical.end());
  }
  return l;
}

std::string held_text(const std::vector<const Axis*>& held) {
  std::string out;
  for (const Axis* a : held) out += (out.empty() ? "" : ", ") + a->name + " = " + value_text(a->values.front());
  return out;
}

FigurePlan line_figure(const Study& st, const Layout& l, const Axis& x, const std::string& metric) {
  FigurePlan f;
  f.metric = metric;
  f.x_axis = x.name;
  f.id = file_id(metric + "-vs-" + x.name);
  f.title = metric_title(metric) + " vs " + x.name;
  f.x_label = axis_title(x);
  f.y_label = metric_title(metric);
  Settings fixed;
  std::vector<const Axis*> held = l.held;
  for (const Axis* a : l.numeric)
    if (a != &x) held.push_back(a);
  for (const Axis* a : held) fixed[a->name] = a->values.front();
  std::vector<double> xs;
  for (const Settings& combo : combinations(l.lines)) {
    FigureSeries s;
    s.label = l.lines.empty() ? metric : settings_label(combo, l.lines);
    Settings want = fixed;
    want.insert(combo.begin(), combo.end());
    for (const Point& p : st.points) {
      const auto m = p.metrics.find(metric);
      if (!matches(p, want) || m == p.metrics.end() || m->second.n == 0) continue;
      s.marks.push_back({x.number(p.settings.at(x.name)), "", m->second});
    }
    std::sort(s.marks.begin(), s.marks.end(), [](const FigureMark& a, const FigureMark& b) { return a.x < b.x; });
    for (const FigureMark& m : s.marks) xs.push_back(m.x);
    if (!s.marks.empty()) f.series.push_back(std::move(s));
  }
  // qps 1..64, sizes and rates spanning decades read better on a log axis.
  if (!xs.empty()) {
    const auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
    f.log_x = *lo > 0 && *hi / *lo >= 8 && x.values.size() >= 3;
  }
  std::string names;
  for (const Axis* a : l.lines) names += (names.empty() ? "" : " and ") + a->name;
  f.caption = "Median " + metric + " vs " + x.name + " over the repeats of each point (error bars: min to max)" +
              (names.empty() ? "." : ", one line per " + names + ".");
  if (!held.empty()) f.caption += " Fixed: " + held_text(held) + ".";
  for (const auto& [follower, leader] : l.companions)
    if (leader == &x) f.caption += " " + follower->name + " moves with " + x.name + ".";
  return f;
}

FigurePlan bar_figure(const Study& st, const Layout& l, const std::string& metric) {
  FigurePlan f;
  f.metric = metric;
  std::vector<const Axis*> cats = l.lines;
  std::string names;
  for (const Axis* a : cats) names += (names.empty() ? "" : " and ") + a->name;
  f.id = file_id(metric + (names.empty() ? "" : "-by-" + names));
  f.title = metric_title(metric) + (names.empty() ? "" : " by " + names);
  f.x_label = names;
  f.y_label = metric_title(metric);
  Settings fixed;
  for (const Axis* a : l.held) fixed[a->name] = a->values.front();
  FigureSeries s;
  s.label = metric;
  for (const Point& p : st.points) {
    const auto m = p.metrics.find(metric);
    if (!matches(p, fixed) || m == p.metrics.end() || m->second.n == 0) continue;
    const std::string label = cats.empty() ? "point " + std::to_string(p.index) : settings_label(p.settings, cats);
    s.marks.push_back({static_cast<double>(s.marks.size()), label, m->second});
  }
  if (!s.marks.empty()) f.series.push_back(std::move(s));
  f.caption = "Median " + metric + " per point over its repeats (error bars: min to max).";
  if (!l.held.empty()) f.caption += " Fixed: " + held_text(l.held) + ".";
  return f;
}

std::vector<std::string> shown_metrics(const Study& st) {
  std::vector<std::string> out;
  // A metric that is 0 (or absent) at every point draws nothing worth a figure: CNPs without
  // congestion control, retransmissions where none happened.
  auto all_zero = [&](const std::string& m) {
    return std::all_of(st.points.begin(), st.points.end(), [&](const Point& p) {
      const auto it = p.metrics.find(m);
      return it == p.metrics.end() || (it->second.min == 0 && it->second.max == 0);
    });
  };
  for (const std::string& m : key_metrics())
    if (std::find(st.metrics.begin(), st.metrics.end(), m) != st.metrics.end() && !all_zero(m)) out.push_back(m);
  // Records without any key metric still get figures: their first few metrics.
  for (size_t i = 0; out.empty() && i < st.metrics.size() && i < 6; i++) out.push_back(st.metrics[i]);
  return out;
}

// gnuplot single-quoted strings: only the quote itself needs doubling.
std::string gq(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  return buf;
}

std::string data_text(const FigurePlan& f) {
  std::ostringstream d;
  for (const FigureSeries& s : f.series) {
    d << "# " << s.label << "\n";
    for (const FigureMark& m : s.marks) {
      d << num(m.x) << " " << num(m.y.median) << " " << num(m.y.min) << " " << num(m.y.max);
      if (f.x_axis.empty()) {
        std::string label = m.x_label;
        std::replace(label.begin(), label.end(), '"', '\'');
        d << " \"" << label << "\"";
      }
      d << "\n";
    }
    d << "\n\n";  // a new gnuplot index per series
  }
  return d.str();
}

std::string plot_text(const FigurePlan& f, const std::string& dat) {
  std::ostringstream g;
  g << "set title " << gq(f.title) << "\nset xlabel " << gq(f.x_label) << "\nset ylabel " << gq(f.y_label) << "\n";
  g << "set grid\nset key below\nset offsets graph 0.04, graph 0.04, graph 0.08, graph 0.08\n";
  if (f.metric.size() > 4 && f.metric.compare(f.metric.size() - 4, 4, "_bps") == 0) g << "set format y '%.1s%c'\n";
  if (f.x_axis.empty()) {
    const size_t n = f.series.empty() ? 0 : f.series.front().marks.size();
    g << "set offsets 0, 0, graph 0.08, 0\nset style fill solid 0.35\nset boxwidth 0.6\nset yrange [0:*]\n"
      << "set xrange [-0.6:" << num(static_cast<double>(n) - 0.4) << "]\n";
    // Turned when they would run into each other: more than 4 bars, or labels longer than a bar's width.
    size_t longest = 0;
    if (!f.series.empty())
      for (const FigureMark& m : f.series.front().marks) longest = std::max(longest, m.x_label.size());
    if (n > 4 || longest * n > 80) g << "set xtics rotate by 30 right\n";
    g << "plot " << gq(dat) << " using 1:2 with boxes lc rgb '#4477aa' notitle, '' using 1:2:3:4:xtic(5) "
      << "with yerrorbars pt 7 lc rgb '#222222' notitle\n";
    return g.str();
  }
  if (f.log_x) g << "set logscale x 2\n";
  g << "plot ";
  for (size_t i = 0; i < f.series.size(); i++)
    g << (i ? ", " : "") << gq(dat) << " index " << i << " using 1:2:3:4 with yerrorlines lw 2 pt 7 title "
      << gq(f.series[i].label);
  g << "\n";
  return g.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) throw Error("cannot write " + path + "; is the folder writable?");
}

}  // namespace

const std::vector<std::string>& key_metrics() {
  static const std::vector<std::string> m = {"wan_imbalance", "uplink_imbalance", "wan_jain", "iteration_ms_p50",
                                             "algbw_bps",     "retransmitted_frames", "cnp_tx", "interruption_ms"};
  return m;
}

namespace {

// The figures of one sweep: its numeric axes as x, the categorical ones as lines.
std::vector<FigurePlan> plan_sweep(const Study& st) {
  const Layout l = layout_of(st);
  std::vector<FigurePlan> out;
  for (const std::string& m : shown_metrics(st)) {
    if (l.numeric.empty()) {
      FigurePlan f = bar_figure(st, l, m);
      if (!f.series.empty()) out.push_back(std::move(f));
    }
    for (const Axis* x : l.numeric) {
      FigurePlan f = line_figure(st, l, *x, m);
      if (!f.series.empty()) out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace

std::vector<FigurePlan> plan_figures(const Study& st) {
  // A study of several parts (config.part) is several sweeps: each is drawn over its own axes.
  std::vector<std::string> parts;
  for (const auto& r : st.runs) {
    auto it = r.settings.find("part");
    const std::string part = it == r.settings.end() ? "" : value_text(it->second);
    if (std::find(parts.begin(), parts.end(), part) == parts.end()) parts.push_back(part);
  }
  if (parts.size() < 2) return plan_sweep(st);
  std::vector<FigurePlan> out;
  for (const std::string& part : parts) {
    std::vector<RunRecord> runs;
    for (const auto& r : st.runs) {
      auto it = r.settings.find("part");
      if ((it == r.settings.end() ? "" : value_text(it->second)) == part) runs.push_back(r);
    }
    for (FigurePlan f : plan_sweep(build_study(std::move(runs)))) {
      std::string stem = part.empty() ? "main" : part;
      for (char& c : stem)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '-';
      f.id = stem + "-" + f.id;
      f.title = part + ": " + f.title;
      f.caption = "Part " + part + ". " + f.caption;
      out.push_back(std::move(f));
    }
  }
  return out;
}

void render_figure(const FigurePlan& f, const std::string& dir) {
  // File names in the script are relative, so DIR can be moved and a figure redrawn in place.
  write_file(dir + "/" + f.id + ".dat", data_text(f));
  std::ostringstream g;
  g << "# " << f.caption << "\n# Drawn by 'qpspread experiment report'; to redraw: cd figures && gnuplot " << f.id
    << ".gp\n";
  g << "set terminal pngcairo size 900,540 noenhanced font 'Sans,11'\nset output " << gq(f.id + ".png") << "\n"
    << plot_text(f, f.id + ".dat");
  g << "set terminal svg size 900,540 noenhanced font 'Sans,11' background '#ffffff'\nset output "
    << gq(f.id + ".svg") << "\nreplot\nunset output\n";
  const std::string script = dir + "/" + f.id + ".gp";
  write_file(script, g.str());
  // gnuplot reads the script after its `cd`: the script's own path must not be relative.
  const std::string abs_dir = std::filesystem::absolute(dir).string();
  const CommandOutput r = run_command({"gnuplot", "-e", "cd " + gq(abs_dir), abs_dir + "/" + f.id + ".gp"});
  if (r.exit_code == 127)
    throw Error("gnuplot not found; install it (scripts/install-deps.sh, Debian package gnuplot)");
  if (r.exit_code != 0) throw Error("gnuplot failed on " + script + ": " + r.err);
}

}  // namespace qpspread::report
