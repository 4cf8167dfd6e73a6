// The study's report (qpspread experiment report DIR): reads the records `experiment run` wrote
// (docs/experiment.md), aggregates the repeats of each point, draws figures with gnuplot and writes
// report.html (self-contained), report.md and summary.csv. Works from the record format alone.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace qpspread::report {

// A run's settings flattened: "mode" -> "qp-hash", "wan.delay" -> "10ms", "events" -> [].
using Settings = std::map<std::string, nlohmann::json>;

struct RunRecord {
  std::string run_id;
  int point = 0, repeat = 0;
  long long seed = 0;
  bool ok = false;  // "status": "ok"
  std::string status, error, started;
  double seconds = 0;
  Settings settings;
  nlohmann::json versions, metrics;
};

struct MetricSummary {
  size_t n = 0;  // repeats with a value (null values do not count)
  double median = 0, min = 0, max = 0;
};

// The runs that share a configuration (all but seed and repeat).
struct Point {
  int index = 0;  // the smallest recorded point number
  Settings settings;
  std::vector<std::string> ok_runs;
  size_t failed = 0;
  std::map<std::string, MetricSummary> metrics;  // over the ok runs only
};

// A setting that differs between points. Numeric axes (qps, size, wan.delay in ms, wan.rate in
// Mbit/s, ...) become the x of line plots; the others (mode, sport, bfd, ...) name the lines.
struct Axis {
  std::string name;
  bool numeric = false;
  std::string unit;                  // of number(): "ms", "Mbit/s", "bytes", "%" or ""
  std::vector<nlohmann::json> values;  // distinct, in order of first appearance
  double number(const nlohmann::json& v) const;  // numeric axes only
};

struct Study {
  std::vector<RunRecord> runs;  // every record, in file order
  std::vector<Point> points;    // by point index
  std::vector<Axis> axes;       // in the order of the config's keys
  std::vector<std::string> metrics;  // numeric metrics of the ok runs: key_metrics() first, then by name
  size_t ok_runs() const;
  std::vector<const RunRecord*> failed_runs() const;
};

// Throws qpspread::Error naming the file and line of a malformed record.
RunRecord parse_run_record(const nlohmann::json& j);
Study load_study(const std::string& runs_jsonl);
Study build_study(std::vector<RunRecord> runs);
MetricSummary summarize(const std::vector<double>& values);
// "mode=qp-hash, qps=8" for the given axes of a point's settings.
std::string settings_label(const Settings& s, const std::vector<const Axis*>& axes);
std::string value_text(const nlohmann::json& v);

struct FigureMark {
  double x = 0;         // the axis value, or the bar's position
  std::string x_label;  // bar charts: the category
  MetricSummary y;
};
struct FigureSeries {
  std::string label;
  std::vector<FigureMark> marks;
};
struct FigurePlan {
  std::string id;      // file stem in DIR/figures/
  std::string metric;
  std::string x_axis;  // empty: a bar chart over the points
  std::string title, x_label, y_label, caption;
  bool log_x = false;
  std::vector<FigureSeries> series;
};

// The metrics the figures show, in this order, when a run reports them.
const std::vector<std::string>& key_metrics();
// Each numeric axis x each key metric (lines: the categorical axes; other numeric axes fixed at
// their first value); with no numeric axis, one bar chart per key metric over the points.
std::vector<FigurePlan> plan_figures(const Study& study);
// Writes DIR/figures/ID.{dat,gp} and renders ID.png and ID.svg with gnuplot.
void render_figure(const FigurePlan& fig, const std::string& figures_dir);

struct ReportInputs {
  std::string dir;
  std::string spec_text;       // DIR/spec.yml, empty when absent
  nlohmann::json meta;         // DIR/meta.json, null when absent
  std::vector<std::string> figure_svgs;  // parallel to figures
};
std::string render_html(const Study& study, const std::vector<FigurePlan>& figures, const ReportInputs& in);
std::string render_markdown(const Study& study, const std::vector<FigurePlan>& figures, const ReportInputs& in);
// Tidy: one row per point and metric (point, each setting, metric, n, median, min, max).
std::string render_summary_csv(const Study& study);
// The commands that reproduce the study: the recorded `experiment run` command line (or one built
// from DIR/spec.yml), then `experiment report DIR`.
std::vector<std::string> reproduce_commands(const ReportInputs& in);

struct ReportResult {
  std::string html, markdown, summary_csv;
  std::vector<std::string> figures;  // ids; each has .png and .svg in DIR/figures/
  size_t points = 0, runs = 0, ok = 0, failed = 0;
};
// The whole report of DIR. Throws qpspread::Error without DIR/runs.jsonl or without gnuplot.
ReportResult write_experiment_report(const std::string& dir);

}  // namespace qpspread::report
