// The study's report from hand-made records (docs/experiment.md): repeats aggregated per point,
// failed runs left out of the aggregates but listed, axes found, figures chosen, reports written.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "common/error.h"
#include "userspace/report/experiment_report.h"

namespace qpspread::report {
namespace {

using nlohmann::json;

json config(const json& overrides) {
  json c = {{"name", "spread"}, {"topology", "lab/scaleacross.clab.yml"}, {"runner", "qpspread"},
            {"mode", "off"},    {"collective", "allreduce"},              {"vni", 100},
            {"ranks", 2},       {"qps", 8},                               {"split", "rr"},
            {"sport", "fixed"}, {"size", 1000000},                        {"iterations", 4},
            {"rate", "24mbit"}, {"bfd", true},                            {"events", json::array()},
            {"wan", {{"delay", "10ms"}, {"jitter", "0"}, {"loss", 0}, {"rate", "20mbit"}}}};
  for (const auto& [k, v] : overrides.items()) {
    if (k.rfind("wan.", 0) == 0)
      c["wan"][k.substr(4)] = v;
    else
      c[k] = v;
  }
  return c;
}

json record(int point, int repeat, const json& overrides, const json& metrics, bool ok = true) {
  char id[32];
  std::snprintf(id, sizeof(id), "p%04d-r%d", point, repeat);
  json r = {{"run_id", id}, {"point", point}, {"repeat", repeat}, {"seed", 1 + 1000 * point + repeat},
            {"status", ok ? "ok" : "failed"}, {"config", config(overrides)},
            {"versions", {{"qpspread", "0.1.0"}, {"kernel", "6.18.0"}}}};
  if (ok)
    r["metrics"] = metrics;
  else
    r["error"] = "lab did not converge";
  return r;
}

json metrics(double wan_imbalance) {
  return {{"wan_imbalance", wan_imbalance}, {"wan_jain", 1 / wan_imbalance}, {"iteration_ms_p50", 800},
          {"algbw_bps", 9.5e6},             {"correct", true},             {"interruption_ms", nullptr}};
}

Study study_of(const std::vector<json>& records) {
  std::vector<RunRecord> runs;
  for (const json& r : records) runs.push_back(parse_run_record(r));
  return build_study(std::move(runs));
}

// 2 modes x 4 qps x 3 repeats; qp-hash gets better with more QPs.
std::vector<json> sweep() {
  std::vector<json> out;
  int point = 0;
  for (const std::string mode : {"off", "qp-hash"})
    for (int qps : {2, 4, 8, 16}) {
      for (int r = 0; r < 3; r++)
        out.push_back(record(point, r, {{"mode", mode}, {"qps", qps}},
                             metrics((mode == "off" ? 2.0 : 1.0 + 1.0 / qps) + 0.01 * r)));
      point++;
    }
  return out;
}

const Point& point_with(const Study& st, const std::string& mode, int qps) {
  for (const Point& p : st.points)
    if (p.settings.at("mode") == mode && p.settings.at("qps") == qps) return p;
  throw std::runtime_error("no point " + mode + "/" + std::to_string(qps));
}

TEST(ExperimentReport, MedianMinMaxOverRepeats) {
  const Study st = study_of({record(0, 0, {}, metrics(1.5)), record(0, 1, {}, metrics(1.1)),
                             record(0, 2, {}, metrics(1.3))});
  ASSERT_EQ(st.points.size(), 1u);
  const MetricSummary& m = st.points[0].metrics.at("wan_imbalance");
  EXPECT_EQ(m.n, 3u);
  EXPECT_DOUBLE_EQ(m.median, 1.3);
  EXPECT_DOUBLE_EQ(m.min, 1.1);
  EXPECT_DOUBLE_EQ(m.max, 1.5);
}

TEST(ExperimentReport, GroupsRunsByConfigurationNotSeed) {
  const Study st = study_of(sweep());
  ASSERT_EQ(st.points.size(), 8u);
  for (const Point& p : st.points) EXPECT_EQ(p.ok_runs.size(), 3u) << p.index;
  EXPECT_DOUBLE_EQ(point_with(st, "qp-hash", 4).metrics.at("wan_imbalance").median, 1.26);
  EXPECT_EQ(st.runs.size(), 24u);
  EXPECT_EQ(st.ok_runs(), 24u);
}

TEST(ExperimentReport, FailedRunsAreLeftOutAndListed) {
  std::vector<json> recs = {record(0, 0, {}, metrics(1.2)), record(0, 1, {}, metrics(1.4)),
                            record(0, 2, {}, json(), false)};
  const Study st = study_of(recs);
  ASSERT_EQ(st.points.size(), 1u);
  EXPECT_EQ(st.points[0].failed, 1u);
  EXPECT_EQ(st.points[0].metrics.at("wan_imbalance").n, 2u);
  EXPECT_DOUBLE_EQ(st.points[0].metrics.at("wan_imbalance").max, 1.4);
  ASSERT_EQ(st.failed_runs().size(), 1u);
  EXPECT_EQ(st.failed_runs()[0]->run_id, "p0000-r2");
  EXPECT_EQ(st.failed_runs()[0]->error, "lab did not converge");
}

TEST(ExperimentReport, NullAndBooleanMetricsAreNotAggregated) {
  const Study st = study_of({record(0, 0, {}, metrics(1.2))});
  EXPECT_FALSE(st.points[0].metrics.count("interruption_ms"));
  EXPECT_FALSE(st.points[0].metrics.count("correct"));
  EXPECT_EQ(std::count(st.metrics.begin(), st.metrics.end(), "interruption_ms"), 0);
}

TEST(ExperimentReport, AxesAreTheSettingsThatVaryWithUnits) {
  const Study st = study_of({record(0, 0, {{"mode", "off"}, {"wan.delay", "10ms"}, {"wan.rate", "20mbit"}}, metrics(2)),
                             record(1, 0, {{"mode", "qp-hash"}, {"wan.delay", "1500us"}, {"wan.rate", "1gbit"}},
                                    metrics(1.2))});
  ASSERT_EQ(st.axes.size(), 3u);
  EXPECT_EQ(st.axes[0].name, "mode");
  EXPECT_FALSE(st.axes[0].numeric);
  EXPECT_EQ(st.axes[1].name, "wan.delay");
  EXPECT_TRUE(st.axes[1].numeric);
  EXPECT_EQ(st.axes[1].unit, "ms");
  EXPECT_DOUBLE_EQ(st.axes[1].number("1500us"), 1.5);
  EXPECT_EQ(st.axes[2].name, "wan.rate");
  EXPECT_DOUBLE_EQ(st.axes[2].number("1gbit"), 1000);
}

TEST(ExperimentReport, NumericAxisGivesOneLinePlotPerKeyMetric) {
  const std::vector<FigurePlan> figs = plan_figures(study_of(sweep()));
  // wan_imbalance, wan_jain, iteration_ms_p50, algbw_bps: the key metrics these records carry.
  ASSERT_EQ(figs.size(), 4u);
  EXPECT_EQ(figs[0].id, "wan_imbalance-vs-qps");
  EXPECT_EQ(figs[0].x_axis, "qps");
  EXPECT_TRUE(figs[0].log_x);
  ASSERT_EQ(figs[0].series.size(), 2u);
  EXPECT_EQ(figs[0].series[1].label, "mode=qp-hash");
  ASSERT_EQ(figs[0].series[1].marks.size(), 4u);
  EXPECT_DOUBLE_EQ(figs[0].series[1].marks[0].x, 2);
  EXPECT_DOUBLE_EQ(figs[0].series[1].marks[0].y.median, 1.51);
  EXPECT_DOUBLE_EQ(figs[0].series[1].marks[0].y.max, 1.52);
  EXPECT_NE(figs[0].caption.find("one line per mode"), std::string::npos) << figs[0].caption;
}

// Each part of a study is its own sweep: the spread part over qps, the latency part over the WAN
// delay, neither holding the other's axis.
TEST(ExperimentReport, EachPartIsDrawnOverItsOwnAxes) {
  std::vector<json> runs;
  int p = 0;
  for (int qps : {2, 8})
    for (const char* mode : {"off", "qp-hash"})
      runs.push_back(record(p++, 0, {{"part", "spread"}, {"qps", qps}, {"mode", mode}}, metrics(1.5)));
  for (const char* delay : {"0ms", "20ms", "50ms"})
    runs.push_back(record(p++, 0, {{"part", "wan latency"}, {"wan.delay", delay}, {"collective", "ps"}}, metrics(1.2)));
  const std::vector<FigurePlan> figs = plan_figures(study_of(runs));
  ASSERT_EQ(figs.size(), 8u);  // 4 key metrics x (qps in spread, wan.delay in latency)
  EXPECT_EQ(figs[0].id, "spread-wan_imbalance-vs-qps");
  EXPECT_EQ(figs[0].series.size(), 2u);  // off, qp-hash
  EXPECT_EQ(figs[4].id, "wan-latency-wan_imbalance-vs-wan_delay");
  EXPECT_EQ(figs[4].series.size(), 1u);
  EXPECT_EQ(figs[4].series[0].marks.size(), 3u);
  EXPECT_EQ(figs[4].title.rfind("wan latency: ", 0), 0u) << figs[4].title;
}

// Hosts offering 1.2x the WAN rate: the host rate moves with the WAN rate, so it is neither an x of
// its own nor held at its first value (which would leave one mark per line).
TEST(ExperimentReport, AnAxisThatMovesWithAnotherIsNotHeld) {
  std::vector<json> runs;
  int p = 0;
  for (const char* mode : {"off", "qp-hash"})
    for (const auto& [wan, host] : {std::pair{"10mbit", "12mbit"}, {"20mbit", "24mbit"}, {"50mbit", "60mbit"}})
      runs.push_back(record(p++, 0, {{"mode", mode}, {"wan.rate", wan}, {"rate", host}}, metrics(1.5)));
  const std::vector<FigurePlan> figs = plan_figures(study_of(runs));
  ASSERT_EQ(figs.size(), 4u);  // the key metrics vs wan.rate only
  EXPECT_EQ(figs[0].x_axis, "wan.rate");
  ASSERT_EQ(figs[0].series.size(), 2u);
  EXPECT_EQ(figs[0].series[0].marks.size(), 3u);
  EXPECT_NE(figs[0].caption.find("rate moves with wan.rate"), std::string::npos) << figs[0].caption;
}

TEST(ExperimentReport, OtherNumericAxesAreHeldAtTheirFirstValue) {
  std::vector<json> recs;
  int point = 0;
  for (const std::string delay : {"10ms", "40ms"})
    for (int qps : {2, 8}) recs.push_back(record(point++, 0, {{"wan.delay", delay}, {"qps", qps}}, metrics(1 + qps)));
  const std::vector<FigurePlan> figs = plan_figures(study_of(recs));
  ASSERT_EQ(figs.size(), 8u);  // 4 key metrics x 2 numeric axes
  const FigurePlan& by_qps = figs[0];
  EXPECT_EQ(by_qps.id, "wan_imbalance-vs-qps");
  ASSERT_EQ(by_qps.series.size(), 1u);
  EXPECT_EQ(by_qps.series[0].marks.size(), 2u);
  EXPECT_NE(by_qps.caption.find("wan.delay = 10ms"), std::string::npos) << by_qps.caption;
  EXPECT_EQ(figs[1].id, "wan_imbalance-vs-wan_delay");
  EXPECT_EQ(figs[1].x_label, "wan.delay (ms)");
  EXPECT_DOUBLE_EQ(figs[1].series[0].marks[1].x, 40);
}

TEST(ExperimentReport, CategoricalStudyGetsBarCharts) {
  std::vector<json> recs;
  int point = 0;
  for (const std::string mode : {"off", "qp-hash"})
    for (const std::string sport : {"fixed", "qpn"}) {
      for (int r = 0; r < 2; r++)
        recs.push_back(record(point, r, {{"mode", mode}, {"sport", sport}}, metrics(1.5 + r)));
      point++;
    }
  const std::vector<FigurePlan> figs = plan_figures(study_of(recs));
  ASSERT_EQ(figs.size(), 4u);
  EXPECT_TRUE(figs[0].x_axis.empty());
  EXPECT_EQ(figs[0].id, "wan_imbalance-by-mode_and_sport");
  ASSERT_EQ(figs[0].series.size(), 1u);
  ASSERT_EQ(figs[0].series[0].marks.size(), 4u);
  EXPECT_EQ(figs[0].series[0].marks[3].x_label, "mode=qp-hash, sport=qpn");
}

// A metric gets a figure where some point has it above 0 (CNPs where congestion control ran), none
// where it is 0 everywhere.
TEST(ExperimentReport, AMetricThatIsZeroEverywhereGetsNoFigure) {
  auto recs_with = [](double dcqcn_cnps) {
    std::vector<json> recs;
    int point = 0;
    for (const std::string cc : {"dcqcn", "none"}) {
      json m = metrics(1.5);
      m["cnp_tx"] = cc == "dcqcn" ? dcqcn_cnps : 0;
      recs.push_back(record(point++, 0, {{"cc", cc}}, m));
    }
    return recs;
  };
  auto ids = [](const std::vector<FigurePlan>& figs) {
    std::vector<std::string> out;
    for (const auto& f : figs) out.push_back(f.id);
    return out;
  };
  const auto with = ids(plan_figures(study_of(recs_with(160))));
  EXPECT_NE(std::find(with.begin(), with.end(), "cnp_tx-by-cc"), with.end());
  const auto without = ids(plan_figures(study_of(recs_with(0))));
  EXPECT_EQ(std::find(without.begin(), without.end(), "cnp_tx-by-cc"), without.end());
  EXPECT_EQ(without.size() + 1, with.size());
}

TEST(ExperimentReport, MalformedLineIsNamedWithItsLine) {
  char path[] = "/tmp/qps-expreport-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << record(0, 0, {}, metrics(1)).dump() << "\n{not json\n";
  try {
    load_study(path);
    ADD_FAILURE() << "a malformed line was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::string(path) + ":2:"), std::string::npos) << e.what();
  }
  ::unlink(path);
}

TEST(ExperimentReport, HtmlIsSelfContainedAndEscapesTheSpec) {
  const Study st = study_of(sweep());
  const std::vector<FigurePlan> figs = plan_figures(st);
  ReportInputs in;
  in.dir = "/tmp/study";
  in.spec_text = "name: <spread> & co\n";
  in.figure_svgs.assign(figs.size(), "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>");
  const std::string html = render_html(st, figs, in);
  EXPECT_NE(html.find("name: &lt;spread&gt; &amp; co"), std::string::npos);
  EXPECT_NE(html.find("qpspread experiment run /tmp/study/spec.yml --out /tmp/study"), std::string::npos);
  EXPECT_NE(html.find("qpspread experiment report /tmp/study"), std::string::npos);
  size_t imgs = 0;
  for (size_t at = 0; (at = html.find("src=\"data:image/svg+xml;base64,", at)) != std::string::npos; at++) imgs++;
  EXPECT_EQ(imgs, figs.size());
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
  const std::string md = render_markdown(st, figs, in);
  EXPECT_NE(md.find("![WAN imbalance (max/mean share) vs qps](figures/wan_imbalance-vs-qps.png)"), std::string::npos);
}

TEST(ExperimentReport, ReproduceUsesTheRecordedCommandLine) {
  ReportInputs in;
  in.dir = "out dir";
  in.meta = {{"command", {"qpspread", "experiment", "run", "experiments/spread.yml", "--out", "out dir"}}};
  const auto cmds = reproduce_commands(in);
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0], "qpspread experiment run experiments/spread.yml --out 'out dir'");
  EXPECT_EQ(cmds[1], "qpspread experiment report 'out dir'");
}

TEST(ExperimentReport, SummaryCsvHasOneRowPerPointAndMetric) {
  const Study st = study_of(sweep());
  const std::string csv = render_summary_csv(st);
  EXPECT_EQ(csv.rfind("point,", 0), 0u);
  EXPECT_EQ(static_cast<size_t>(std::count(csv.begin(), csv.end(), '\n')), 1 + 8 * st.metrics.size());
  EXPECT_NE(csv.find(",qp-hash,"), std::string::npos);
}

}  // namespace
}  // namespace qpspread::report
