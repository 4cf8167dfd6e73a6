// The study's report as HTML (self-contained: figures as data: URIs, inline style and script),
// as Markdown (PNGs linked from figures/) and as a tidy CSV of the aggregates.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "userspace/report/experiment_report.h"

namespace qpspread::report {
namespace {

using nlohmann::json;

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += {t[v >> 18], t[(v >> 12) & 63], i + 1 < in.size() ? t[(v >> 6) & 63] : '=', '='};
  }
  return out;
}

std::string fmt(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
  return buf;
}

// For tables: 4 digits, large values with an SI prefix (algbw 9.53M rather than 9.53e+06).
std::string short_num(double v) {
  const double a = v < 0 ? -v : v;
  if (a >= 1e9) return fmt(v / 1e9) + "G";
  if (a >= 1e6) return fmt(v / 1e6) + "M";
  if (a >= 1e5) return fmt(v / 1e3) + "k";
  return fmt(v);
}

std::string cell(const MetricSummary& m) {
  if (m.n == 0) return "-";
  if (m.min == m.max) return short_num(m.median);
  return short_num(m.median) + " (" + short_num(m.min) + "–" + short_num(m.max) + ")";
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,@+-") ==
                        std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// One table: a row per point, the axes, the runs, then each metric as median (min-max).
struct Table {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
};

Table results_table(const Study& st) {
  Table t;
  t.head.push_back("point");
  for (const Axis& a : st.axes) t.head.push_back(a.name);
  t.head.push_back("ok runs");
  for (const std::string& m : st.metrics) t.head.push_back(m);
  for (const Point& p : st.points) {
    std::vector<std::string> row{std::to_string(p.index)};
    for (const Axis& a : st.axes) {
      const auto it = p.settings.find(a.name);
      row.push_back(it == p.settings.end() ? "-" : value_text(it->second));
    }
    row.push_back(std::to_string(p.ok_runs.size()) + "/" + std::to_string(p.ok_runs.size() + p.failed));
    for (const std::string& m : st.metrics) {
      const auto it = p.metrics.find(m);
      row.push_back(it == p.metrics.end() ? "-" : cell(it->second));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table failed_table(const Study& st) {
  Table t{{"run", "point", "repeat", "seed", "error"}, {}};
  for (const RunRecord* r : st.failed_runs())
    t.rows.push_back({r->run_id, std::to_string(r->point), std::to_string(r->repeat), std::to_string(r->seed),
                      r->error.empty() ? r->status : r->error});
  return t;
}

// meta.json's versions, else the first record's (the runner writes both; either may be missing).
Table versions_table(const Study& st, const ReportInputs& in) {
  json v = in.meta.is_object() && in.meta.contains("versions") ? in.meta["versions"] : json();
  for (size_t i = 0; (v.is_null() || v.empty()) && i < st.runs.size(); i++) v = st.runs[i].versions;
  Table t{{"component", "version"}, {}};
  if (v.is_object())
    for (const auto& [k, val] : v.items()) t.rows.push_back({k, value_text(val)});
  return t;
}

std::string html_table(const Table& t) {
  std::ostringstream h;
  h << "<div class=\"scroll\"><table><thead><tr>";
  for (const std::string& c : t.head) h << "<th>" << esc(c) << "</th>";
  h << "</tr></thead><tbody>\n";
  for (const auto& row : t.rows) {
    h << "<tr>";
    for (const std::string& c : row) h << "<td>" << esc(c) << "</td>";
    h << "</tr>\n";
  }
  h << "</tbody></table></div>\n";
  return h.str();
}

std::string md_table(const Table& t) {
  std::ostringstream m;
  m << "|";
  for (const std::string& c : t.head) m << " " << md_cell(c) << " |";
  m << "\n|";
  for (size_t i = 0; i < t.head.size(); i++) m << " --- |";
  m << "\n";
  for (const auto& row : t.rows) {
    m << "|";
    for (const std::string& c : row) m << " " << md_cell(c) << " |";
    m << "\n";
  }
  return m.str();
}

std::string study_name(const Study& st, const ReportInputs& in) {
  for (const RunRecord& r : st.runs) {
    const auto it = r.settings.find("name");
    if (it != r.settings.end() && it->second.is_string()) return it->second.get<std::string>();
  }
  return in.dir;
}

std::string overview(const Study& st) {
  std::string axes;
  for (const Axis& a : st.axes) axes += (axes.empty() ? "" : ", ") + a.name + (a.numeric ? " (numeric)" : "");
  return std::to_string(st.runs.size()) + " runs (" + std::to_string(st.ok_runs()) + " ok, " +
         std::to_string(st.failed_runs().size()) + " failed) over " + std::to_string(st.points.size()) +
         " points; axes: " + (axes.empty() ? "none" : axes) + ".";
}

const char* kAggregateNote =
    "Median over the ok repeats (the lower middle value for an even count), (min–max) when they differ.";

const char* kStyle = R"(body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}
table{border-collapse:collapse;font-size:.85em}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}
th{background:#f3f3f3}.scroll{overflow-x:auto}pre{background:#f6f6f6;padding:.8em;overflow-x:auto}
)";

// Marks on <body> how many figures the browser decoded: the test (and a reader's eye) checks it.
const char* kScript = R"(window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img.figure'), ok = 0;
  imgs.forEach(function (i) {
    if (i.complete && i.naturalWidth > 0) ok++; else i.insertAdjacentText('afterend', ' (figure failed to load)');
  });
  document.body.setAttribute('data-figures-loaded', ok + '/' + imgs.length);
});
)";

}  // namespace

std::vector<std::string> reproduce_commands(const ReportInputs& in) {
  std::string run;
  const json cmd = in.meta.is_object() && in.meta.contains("command") ? in.meta["command"] : json();
  if (cmd.is_array()) {
    for (const json& a : cmd)
      run += (run.empty() ? "" : " ") + shell_quote(a.is_string() ? a.get<std::string>() : a.dump());
  } else if (cmd.is_string()) {
    run = cmd.get<std::string>();
  }
  if (run.empty()) {
    const std::string spec = in.meta.is_object() && in.meta.value("spec", json()).is_string()
                                 ? in.meta["spec"].get<std::string>()
                                 : in.dir + "/spec.yml";
    run = "qpspread experiment run " + shell_quote(spec) + " --out " + shell_quote(in.dir);
  }
  return {run, "qpspread experiment report " + shell_quote(in.dir)};
}

std::string render_html(const Study& st, const std::vector<FigurePlan>& figs, const ReportInputs& in) {
  const std::string name = study_name(st, in);
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>qpspread study: " << esc(name)
    << "</title>\n<style>" << kStyle << "</style>\n<script>" << kScript << "</script></head>\n<body>\n";
  h << "<h1>qpspread study: " << esc(name) << "</h1>\n<p>" << esc(overview(st)) << "</p>\n";
  h << "<h2>Reproduce</h2>\n<pre>";
  for (const std::string& c : reproduce_commands(in)) h << esc(c) << "\n";
  h << "</pre>\n<h2>Figures</h2>\n";
  if (figs.empty()) h << "<p>No figures: no run reported a metric.</p>\n";
  for (size_t i = 0; i < figs.size(); i++) {
    const std::string svg = i < in.figure_svgs.size() ? in.figure_svgs[i] : "";
    h << "<figure id=\"" << esc(figs[i].id) << "\"><img class=\"figure\" alt=\"" << esc(figs[i].title)
      << "\" src=\"data:image/svg+xml;base64," << base64(svg) << "\">\n<figcaption>Figure " << i + 1 << ": "
      << esc(figs[i].caption) << "</figcaption></figure>\n";
  }
  h << "<h2>Results per point</h2>\n<p>" << kAggregateNote << "</p>\n"
    << html_table(results_table(st));
  const Table failed = failed_table(st);
  h << "<h2>Failed runs (" << failed.rows.size() << ")</h2>\n"
    << (failed.rows.empty() ? std::string("<p>None.</p>\n") : html_table(failed));
  h << "<h2>Versions</h2>\n" << html_table(versions_table(st, in));
  h << "<h2>Spec</h2>\n<pre>" << esc(in.spec_text.empty() ? "(no spec.yml in " + in.dir + ")" : in.spec_text)
    << "</pre>\n";
  if (!in.meta.is_null()) h << "<h2>Run metadata (meta.json)</h2>\n<pre>" << esc(in.meta.dump(2)) << "</pre>\n";
  h << "</body></html>\n";
  return h.str();
}

std::string render_markdown(const Study& st, const std::vector<FigurePlan>& figs, const ReportInputs& in) {
  std::ostringstream m;
  m << "# qpspread study: " << study_name(st, in) << "\n\n" << overview(st) << "\n\n## Reproduce\n\n```sh\n";
  for (const std::string& c : reproduce_commands(in)) m << c << "\n";
  m << "```\n\n## Figures\n\n";
  if (figs.empty()) m << "No figures: no run reported a metric.\n\n";
  for (size_t i = 0; i < figs.size(); i++)
    m << "![" << figs[i].title << "](figures/" << figs[i].id << ".png)\n\n*Figure " << i + 1 << ": "
      << figs[i].caption << "* ([SVG](figures/" << figs[i].id << ".svg))\n\n";
  m << "## Results per point\n\n" << kAggregateNote << "\n\n"
    << md_table(results_table(st)) << "\n";
  const Table failed = failed_table(st);
  m << "## Failed runs (" << failed.rows.size() << ")\n\n" << (failed.rows.empty() ? "None.\n" : md_table(failed))
    << "\n## Versions\n\n" << md_table(versions_table(st, in)) << "\n## Spec\n\n```yaml\n"
    << (in.spec_text.empty() ? "# (no spec.yml in " + in.dir + ")\n" : in.spec_text) << "```\n";
  return m.str();
}

std::string render_summary_csv(const Study& st) {
  auto csv = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  std::vector<std::string> keys;
  for (const Point& p : st.points)
    for (const auto& [k, v] : p.settings)
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  std::ostringstream c;
  c << "point";
  for (const std::string& k : keys) c << "," << csv(k);
  c << ",metric,n,median,min,max\n";
  for (const Point& p : st.points)
    for (const std::string& m : st.metrics) {
      const auto it = p.metrics.find(m);
      if (it == p.metrics.end()) continue;
      c << p.index;
      for (const std::string& k : keys) {
        const auto s = p.settings.find(k);
        c << "," << csv(s == p.settings.end() ? "" : value_text(s->second));
      }
      c << "," << m << "," << it->second.n << "," << fmt(it->second.median, 10) << "," << fmt(it->second.min, 10)
        << "," << fmt(it->second.max, 10) << "\n";
    }
  return c.str();
}

}  // namespace qpspread::report
