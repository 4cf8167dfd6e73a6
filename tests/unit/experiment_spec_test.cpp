// The study's spec: the product of the axes in file order, listed points over fixed, seeds as the
// doc says, and every bad key or value refused with its line before anything runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/error.h"
#include "userspace/scenario/experiment_spec.h"

namespace qpspread::scenario {
namespace {

ExperimentSpec parse(const std::string& text) { return parse_experiment_spec(text, "/study/spec.yml"); }

// The message of the Error parse throws ("" when it does not).
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ExperimentSpec, AxesExpandToTheirProductLastAxisFastest) {
  const ExperimentSpec s = parse(
      "name: t\ntopology: lab/x.clab.yml\nfixed: {qps: 8, size: 64kb}\n"
      "axes:\n  mode: [off, qp-hash]\n  qps: [2, 4, 16]\nrepeats: 2\nseed_base: 5\n");
  ASSERT_EQ(s.points.size(), 6u);
  ASSERT_EQ(s.runs.size(), 12u);
  EXPECT_EQ(s.points[0].config.mode, "off");
  EXPECT_EQ(s.points[0].config.qps, 2);
  EXPECT_EQ(s.points[2].config.qps, 16);
  EXPECT_EQ(s.points[3].config.mode, "qp-hash");
  EXPECT_EQ(s.points[3].config.qps, 2);
  EXPECT_EQ(s.points[5].config.size, 64000u);  // fixed kept where no axis reaches
  EXPECT_EQ(s.points[4].label, (std::vector<std::string>{"mode=qp-hash", "qps=4"}));
  EXPECT_EQ(s.topology, "/study/lab/x.clab.yml");
  EXPECT_EQ(s.lab, "t");  // the spec's name when no lab is given
  // A lab containerlab deployed is named by its topology file: known when the engine reads it.
  EXPECT_EQ(parse_experiment_spec("name: t\ntopology: x.yml\nrunner: containerlab\n", "s.yml").lab, "");
}

TEST(ExperimentSpec, RunsArePointMajorWithSeedBasePlus1000PointPlusRepeat) {
  const ExperimentSpec s = parse("name: t\ntopology: /x.yml\naxes: {mode: [off, qp-hash]}\nrepeats: 3\nseed_base: 7\n");
  ASSERT_EQ(s.runs.size(), 6u);
  EXPECT_EQ(s.runs[0].run_id, "p0000-r0");
  EXPECT_EQ(s.runs[0].seed, 7u);
  EXPECT_EQ(s.runs[4].run_id, "p0001-r1");
  EXPECT_EQ(s.runs[4].point, 1);
  EXPECT_EQ(s.runs[4].repeat, 1);
  EXPECT_EQ(s.runs[4].seed, 1008u);
}

TEST(ExperimentSpec, PointsOverrideFixedIncludingPartOfWan) {
  const ExperimentSpec s = parse(
      "name: t\ntopology: /x.yml\nfixed:\n  wan: {delay: 10ms, rate: 20mbit}\n  rate: 24mbit\n"
      "points:\n  - {mode: off, wan: {delay: 0ms}}\n  - {mode: qp-hash, wan.loss: 0.5}\n");
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_EQ(s.points[0].config.wan.delay_us, 0u);
  EXPECT_EQ(s.points[0].config.wan.rate_bps, 20'000'000u);
  EXPECT_EQ(s.points[1].config.wan.delay_us, 10'000u);
  EXPECT_DOUBLE_EQ(s.points[1].config.wan.loss_percent, 0.5);
  EXPECT_EQ(s.points[1].config.rate_bps, 24'000'000u);
  EXPECT_EQ(s.runs.size(), 2u);
}

TEST(ExperimentSpec, NoAxesNorPointsIsOnePointOfTheDefaults) {
  const ExperimentSpec s = parse("name: t\ntopology: /x.yml\n");
  ASSERT_EQ(s.points.size(), 1u);
  const RunConfig& c = s.points[0].config;
  EXPECT_EQ(c.mode, "off");
  EXPECT_EQ(c.collective, "allreduce");
  EXPECT_EQ(c.size, 1000000u);
  EXPECT_EQ(c.wan.rate_bps, 20'000'000u);
  EXPECT_TRUE(c.bfd);
}

TEST(ExperimentSpec, EventsParseAndPrint) {
  const ExperimentSpec s = parse(
      "name: t\ntopology: /x.yml\nfixed:\n  events:\n    - {at: 2s, link: wan1, state: down}\n"
      "    - {at: 4s, node: dc1-spine1, state: stop}\n");
  const auto& e = s.points[0].config.events;
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].at_us, 2'000'000u);
  EXPECT_EQ(events_text(e), "2s link wan1 down; 4s node dc1-spine1 stop");
  EXPECT_EQ(config_json(s, s.points[0].config)["events"][1]["node"], "dc1-spine1");
}

TEST(ExperimentSpec, ConfigJsonHasTheDocsKeys) {
  const ExperimentSpec s = parse("name: t\ntopology: lab/x.yml\n");
  const auto j = config_json(s, s.points[0].config);
  for (const char* k : {"name", "topology", "runner", "mode", "collective", "vni", "ranks", "qps", "split", "sport",
                        "size", "iterations", "duration", "rate", "cc", "ack_timeout", "wan", "bfd", "events"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["cc"], "dcqcn") << "as the workload's --cc";
  EXPECT_EQ(j["wan"]["ecn"], "0");
  // The congestion settings: DCQCN per QP, ECN marking at the WAN queue, a one-way stream.
  const ExperimentSpec c = parse("name: t\ntopology: x\nfixed: {cc: dcqcn, collective: stream, wan: {ecn: \"10kb,60kb,10%\"}}\n");
  EXPECT_EQ(c.points[0].config.cc, "dcqcn");
  EXPECT_EQ(c.points[0].config.collective, "stream");
  EXPECT_EQ(c.points[0].config.wan.ecn.kmax_bytes, 60000u);
  EXPECT_NE(error_of("name: t\ntopology: x\nfixed:\n  cc: reno\n").find("spec.yml:4: fixed.cc: 'reno' is not one of dcqcn, none"),
            std::string::npos);
  // A timed stream: the duration recorded, and refused for the collectives that have no stream to time.
  const ExperimentSpec d = parse("name: t\ntopology: x\nfixed: {collective: stream, duration: 20s}\n");
  EXPECT_EQ(d.points[0].config.duration_us, 20'000'000u);
  EXPECT_EQ(config_json(d, d.points[0].config)["duration"], "20s");
  EXPECT_NE(error_of("name: t\ntopology: x\nfixed: {collective: allreduce, duration: 20s}\n")
                .find("spec.yml: point 0 (allreduce): duration applies to collective: stream only"),
            std::string::npos);
  EXPECT_NE(error_of("name: t\ntopology: x\nfixed:\n  duration: 20 s\n").find("spec.yml:4: fixed.duration"),
            std::string::npos);
  EXPECT_EQ(j["rate"], "24mbit");
  EXPECT_EQ(j["ack_timeout"], "20ms");
  const ExperimentSpec t = parse("name: t\ntopology: x\nfixed: {ack_timeout: 300ms}\n");
  EXPECT_EQ(t.points[0].config.ack_timeout_us, 300000u);
  EXPECT_NE(error_of("name: t\ntopology: x\nfixed:\n  ack_timeout: 50us\n").find("spec.yml:4: fixed.ack_timeout"),
            std::string::npos);
  EXPECT_EQ(j["wan"]["delay"], "10ms");
  EXPECT_EQ(j["topology"], "lab/x.yml");
}

struct BadSpec {
  const char* text;
  const char* error;  // a part of the message
};

TEST(ExperimentSpec, PartsExpandInOrderEachOverItsOwnFixed) {
  const ExperimentSpec s = parse(
      "name: t\ntopology: x.yml\nfixed: {qps: 8, rate: 24mbit}\nrepeats: 2\nparts:\n"
      "  - name: spread\n    axes: {mode: [off, qp-hash], qps: [2, 4]}\n"
      "  - name: latency\n    fixed: {collective: ps}\n    points: [{wan.delay: 0ms}, {wan.delay: 50ms}]\n"
      "  - name: one\n    repeats: 1\n");
  ASSERT_EQ(s.points.size(), 7u);
  ASSERT_EQ(s.runs.size(), 13u);  // the last part runs once
  for (int i = 0; i < 7; i++) EXPECT_EQ(s.points[static_cast<size_t>(i)].index, i);
  EXPECT_EQ(s.points[3].part, "spread");
  EXPECT_EQ(s.points[3].config.qps, 4);
  EXPECT_EQ(s.points[4].part, "latency");
  EXPECT_EQ(s.points[4].config.collective, "ps");  // the part's fixed
  EXPECT_EQ(s.points[4].config.qps, 8);            // the spec's fixed under it
  EXPECT_EQ(s.points[5].config.wan.delay_us, 50000u);
  EXPECT_EQ(s.points[6].part, "one");  // no axes: the part's fixed settings alone
  EXPECT_EQ(s.points[0].config.collective, "allreduce");
  EXPECT_EQ(s.runs[11].seed, 1u + 5000 + 1);
  EXPECT_EQ(s.runs[12].run_id, "p0006-r0");
  EXPECT_EQ(config_json(s, s.points[4])["part"], "latency");
  EXPECT_FALSE(config_json(s, s.points[4].config).contains("part"));
  EXPECT_NE(error_of("name: t\ntopology: x\nparts: [{name: a}, {name: a}]\n").find("names two parts"), std::string::npos);
  EXPECT_NE(error_of("name: t\ntopology: x\naxes: {qps: [1]}\nparts: [{name: a}]\n").find("not both"), std::string::npos);
  EXPECT_NE(error_of("name: t\ntopology: x\nparts:\n  - name: a\n    axis: {qps: [1]}\n").find("spec.yml:5: parts[0].axis"),
            std::string::npos);
}

TEST(ExperimentSpec, BadKeysAndValuesAreRefusedWithTheirLine) {
  const BadSpec cases[] = {
      {"name: t\ntopology: /x.yml\nfixed:\n  qsp: 4\n", "spec.yml:4: fixed.qsp: unknown key"},
      {"name: t\ntopology: /x.yml\nfixed:\n  qps: lots\n", "spec.yml:4: fixed.qps: 'lots' is not an integer"},
      {"name: t\ntopology: /x.yml\nfixed:\n  rate: 24\n", "spec.yml:4: fixed.rate"},
      {"name: t\ntopology: /x.yml\nfixed:\n  wan: {delay: 10xs}\n", "spec.yml:4: fixed.wan.delay"},
      {"name: t\ntopology: /x.yml\nfixed:\n  wan: {loss: 150}\n", "spec.yml:4: fixed.wan.loss"},
      {"name: t\ntopology: /x.yml\nfixed:\n  wan: {drop: 1}\n", "fixed.wan.drop: unknown key"},
      {"name: t\ntopology: /x.yml\nfixed:\n  size: 1mib\n", "spec.yml:4: fixed.size"},
      {"name: t\ntopology: /x.yml\naxes:\n  mode: [off, ecmp]\n", "spec.yml:4: axes.mode: 'ecmp' is not one of off, qp-hash"},
      {"name: t\ntopology: /x.yml\naxes:\n  color: [red]\n", "spec.yml:4: axes.color: unknown key"},
      {"name: t\ntopology: /x.yml\naxes:\n  qps: []\n", "spec.yml:4: axes.qps: an axis is a non-empty list"},
      {"name: t\ntopology: /x.yml\npoints:\n  - {mode: off}\n  - {qps: 0}\n", "spec.yml:5: points[1].qps"},
      {"name: t\ntopology: /x.yml\naxes: {qps: [1]}\npoints: [{qps: 2}]\n", "spec.yml:4: points: give either"},
      {"name: t\ntopology: /x.yml\nrepeat: 3\n", "spec.yml:3: repeat: unknown key"},
      {"name: t\ntopology: /x.yml\nrunner: docker\n", "spec.yml:3: runner: 'docker' is not one of"},
      {"name: t\n", "'topology' is missing"},
      {"name: t\ntopology: /x.yml\nfixed:\n  events:\n    - {at: 2s, link: wan1, state: stop}\n", "spec.yml:5: fixed.events[0]: a link's state"},
      {"name: t\ntopology: /x.yml\nfixed:\n  events:\n    - {link: wan1, state: down}\n", "the event has no 'at'"},
      {"name: t\ntopology: /x.yml\nfixed: {bfd: maybe}\n", "spec.yml:3: fixed.bfd: 'maybe' is not true or false"},
      {"name: t\ntopology: [\n", "not YAML"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.error), std::string::npos) << "spec:\n" << c.text << "error: '" << e << "'\nwanted: " << c.error;
  }
}

// The specs the repository ships parse and expand (their topologies resolved next to them).
TEST(ExperimentSpec, ShippedSpecsParse) {
  int specs = 0;
  for (const auto& e : std::filesystem::directory_iterator(QPS_EXPERIMENTS_DIR)) {
    if (e.path().extension() != ".yml") continue;
    const ExperimentSpec s = load_experiment_spec(e.path());
    EXPECT_FALSE(s.runs.empty()) << e.path();
    EXPECT_TRUE(std::filesystem::exists(s.topology)) << e.path() << ": " << s.topology;
    specs++;
  }
  EXPECT_GE(specs, 2);
}

}  // namespace
}  // namespace qpspread::scenario
