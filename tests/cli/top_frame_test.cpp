// The frame of `top` from hand-made stats reports: rates over the measured time, shares and
// fairness over the interval's RoCEv2 bytes, counter resets, the busiest QPs first, the text.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "userspace/cli/output.h"
#include "userspace/report/top_frame.h"

namespace qpspread::report {
namespace {

using nlohmann::json;

VniPath path(const std::string& ifname, uint64_t packets, uint64_t bytes, uint64_t roce_bytes) {
  VniPath p;
  p.ifname = ifname;
  p.remote_vtep = "10.0.0.2";
  p.tx = {packets, bytes, packets, roce_bytes};
  return p;
}

QpRow qp(uint32_t qpn, uint64_t packets, uint64_t bytes, uint64_t moves = 0) {
  QpRow q;
  q.qpn = qpn;
  q.packets = packets;
  q.bytes = bytes;
  q.sport = 49152;
  q.path = "up1";
  q.moves = moves;
  return q;
}

StatsReport report(std::vector<VniPath> paths, std::vector<QpRow> qps = {}) {
  StatsReport r;
  r.netns = "ns1";
  VniReport v;
  v.vni = 100;
  v.mode = QPS_MODE_QP_HASH;
  v.paths = std::move(paths);
  v.qps = std::move(qps);
  r.vnis.push_back(std::move(v));
  return r;
}

TEST(TopFrame, RatesAreDeltasOverTheMeasuredTime) {
  const json f = top_frame(report({path("up1", 100, 10'000, 0)}), report({path("up1", 600, 1'010'000, 0)}), 0.5, 10);
  const json& p = f["vnis"][0]["paths"][0];
  EXPECT_DOUBLE_EQ(p["tx_pps"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(p["tx_bps"].get<double>(), 16e6);
  EXPECT_DOUBLE_EQ(f["elapsed"].get<double>(), 0.5);
  EXPECT_EQ(f["netns"], "ns1");
  EXPECT_EQ(f["vnis"][0]["vni"], 100);
  EXPECT_EQ(f["vnis"][0]["mode"], "qp-hash");
}

TEST(TopFrame, ReceiveCountersAreUsedWhenTheReportHasThem) {
  VniPath a = path("up1", 0, 0, 0), b = path("up1", 0, 0, 0);
  a.rx.packets = 10;
  a.rx.bytes = 1000;
  b.rx.packets = 30;
  b.rx.bytes = 3000;
  const json f = top_frame(report({a}), report({b}), 2.0, 10);
  const json& p = f["vnis"][0]["paths"][0];
  EXPECT_DOUBLE_EQ(p["rx_pps"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(p["rx_bps"].get<double>(), 8000.0);
}

TEST(TopFrame, ReportsWithoutReceiveCountersGiveZeroReceiveRates) {
  const json f = top_frame(report({path("up1", 1, 1, 1)}), report({path("up1", 2, 2, 2)}), 1.0, 10);
  const json& p = f["vnis"][0]["paths"][0];
  EXPECT_EQ(p["rx_pps"].get<double>(), 0.0);
  EXPECT_EQ(p["rx_bps"].get<double>(), 0.0);
}

TEST(TopFrame, SharesImbalanceAndJainAreOverTheIntervalNotTheTotals) {
  // Cumulatively up1 carried far more; in this interval up1 moved 300 bytes, up2 100.
  const StatsReport before = report({path("up1", 0, 0, 1'000'000), path("up2", 0, 0, 0)});
  const StatsReport after = report({path("up1", 0, 0, 1'000'300), path("up2", 0, 0, 100)});
  const json f = top_frame(before, after, 1.0, 10);
  const json& v = f["vnis"][0];
  EXPECT_DOUBLE_EQ(v["paths"][0]["share"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(v["paths"][1]["share"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(v["imbalance"].get<double>(), 1.5);              // 300 / mean 200
  EXPECT_DOUBLE_EQ(v["jain"].get<double>(), 400.0 * 400 / (2 * 100'000.0));  // 0.8
}

// Paths to a remote VTEP the VNI sends nothing to are not idle alternatives: the balance is over
// the uplinks, each with all its remote VTEPs together.
TEST(TopFrame, ImbalanceIsOverUplinksNotOverEveryRemoteVtep) {
  VniPath a1 = path("up1", 0, 0, 0), a2 = path("up2", 0, 0, 0), b1 = path("up1", 0, 0, 100), b2 = path("up2", 0, 0, 100);
  VniPath idle1 = path("up1", 0, 0, 0), idle2 = path("up2", 0, 0, 0);
  idle1.remote_vtep = idle2.remote_vtep = "10.9.9.9";
  const json f = top_frame(report({a1, a2, idle1, idle2}), report({b1, b2, idle1, idle2}), 1.0, 10);
  EXPECT_DOUBLE_EQ(f["vnis"][0]["imbalance"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(f["vnis"][0]["jain"].get<double>(), 1.0);
  EXPECT_EQ(f["vnis"][0]["paths"].size(), 4u);
}

TEST(TopFrame, PathsAreMatchedByNameNotByPosition) {
  const StatsReport before = report({path("up1", 100, 0, 0), path("up2", 200, 0, 0)});
  const StatsReport after = report({path("up2", 210, 0, 0), path("up1", 101, 0, 0)});
  const json f = top_frame(before, after, 1.0, 10);
  const json& paths = f["vnis"][0]["paths"];
  EXPECT_EQ(paths[0]["ifname"], "up2");
  EXPECT_DOUBLE_EQ(paths[0]["tx_pps"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(paths[1]["tx_pps"].get<double>(), 1.0);
}

TEST(TopFrame, CounterThatWentDownCountsFromZeroInsteadOfWrapping) {
  EXPECT_EQ(counter_delta(1000, 1200), 200u);
  EXPECT_EQ(counter_delta(1000, 200), 200u);
  EXPECT_EQ(counter_delta(5, 0), 0u);
  const json f = top_frame(report({path("up1", 1'000'000, 9'000'000, 0)}, {qp(7, 5000, 500'000)}),
                           report({path("up1", 40, 4000, 0)}, {qp(7, 3, 300)}), 1.0, 10);
  EXPECT_DOUBLE_EQ(f["vnis"][0]["paths"][0]["tx_pps"].get<double>(), 40.0);
  EXPECT_DOUBLE_EQ(f["vnis"][0]["paths"][0]["tx_bps"].get<double>(), 32000.0);
  EXPECT_DOUBLE_EQ(f["vnis"][0]["qps"][0]["pps"].get<double>(), 3.0);
}

TEST(TopFrame, PathOrQpNewInTheIntervalCountsAllItsTraffic) {
  const json f = top_frame(report({}), report({path("up1", 50, 5000, 0)}, {qp(9, 50, 5000)}), 1.0, 10);
  EXPECT_DOUBLE_EQ(f["vnis"][0]["paths"][0]["tx_pps"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(f["vnis"][0]["qps"][0]["bps"].get<double>(), 40000.0);
}

TEST(TopFrame, BusiestQpsByIntervalByteRateFirstAndOnlyK) {
  // QP 1 has the most bytes in total but was idle in this interval.
  const StatsReport before = report({}, {qp(1, 0, 9'000'000), qp(2, 0, 0), qp(3, 0, 0), qp(4, 0, 0)});
  const StatsReport after = report({}, {qp(1, 0, 9'000'000), qp(2, 10, 1000), qp(3, 30, 3000), qp(4, 20, 2000)});
  const json f = top_frame(before, after, 1.0, 2);
  const json& qps = f["vnis"][0]["qps"];
  ASSERT_EQ(qps.size(), 2u);
  EXPECT_EQ(qps[0]["qpn"], 3);
  EXPECT_EQ(qps[1]["qpn"], 4);
  EXPECT_EQ(f["vnis"][0]["qp_count"], 4);
}

TEST(TopFrame, IdleQpsKeepTheirOrderByQpn) {
  const StatsReport r = report({}, {qp(30, 0, 0), qp(10, 0, 0), qp(20, 0, 0)});
  const json f = top_frame(r, r, 1.0, 10);
  const json& qps = f["vnis"][0]["qps"];
  ASSERT_EQ(qps.size(), 3u);
  EXPECT_EQ(qps[0]["qpn"], 10);
  EXPECT_EQ(qps[2]["qpn"], 30);
}

TEST(TopFrame, MovesReorderedAndGapsAreTheIntervalsCounts) {
  QpRow a = qp(5, 0, 0, 4), b = qp(5, 0, 0, 6);
  a.reordered = 100;
  a.gaps = 7;
  b.reordered = 103;
  b.gaps = 7;
  const json f = top_frame(report({}, {a}), report({}, {b}), 1.0, 10);
  const json& q = f["vnis"][0]["qps"][0];
  EXPECT_EQ(q["moves"], 2);
  EXPECT_EQ(q["reordered"], 3);
  EXPECT_EQ(q["gaps"], 0);
  EXPECT_EQ(q["path"], "up1");
}

TEST(TopFrame, NoElapsedTimeGivesZeroRatesNotInfinity) {
  const json f = top_frame(report({path("up1", 0, 0, 0)}), report({path("up1", 10, 10, 0)}), 0.0, 10);
  const json& p = f["vnis"][0]["paths"][0];
  EXPECT_EQ(p["tx_pps"].get<double>(), 0.0);
  EXPECT_EQ(p["tx_bps"].get<double>(), 0.0);
}

TEST(TopFrame, TextHasHeaderTablesUnitsAndNoEscapeCodes) {
  const StatsReport before = report({path("up1", 0, 0, 0), path("up2", 0, 0, 0)}, {qp(0x1234, 0, 0)});
  const StatsReport after = report({path("up1", 100'000, 150'000'000, 300), path("up2", 0, 0, 100)}, {qp(0x1234, 10, 1000, 1)});
  json f = top_frame(before, after, 1.0, 10);
  f["interval"] = 1.0;
  f["time"] = "2024-01-02 03:04:05";
  const std::string text = render_top_frame(f);
  EXPECT_EQ(text.rfind("qpspread top: netns ns1, interval 1 s (measured 1.000 s), 2024-01-02 03:04:05\n", 0), 0u) << text;
  EXPECT_NE(text.find("VNI 100 (mode qp-hash)"), std::string::npos) << text;
  EXPECT_NE(text.find("UPLINK"), std::string::npos);
  EXPECT_NE(text.find("TX-BIT/S"), std::string::npos);
  EXPECT_NE(text.find("1.2 Gbit/s"), std::string::npos) << text;
  EXPECT_NE(text.find("75.0%"), std::string::npos) << text;
  EXPECT_NE(text.find("imbalance 1.50, Jain's index 0.800"), std::string::npos) << text;
  EXPECT_NE(text.find("REORD"), std::string::npos);
  EXPECT_NE(text.find("0x1234"), std::string::npos) << text;
  EXPECT_EQ(text.find('\033'), std::string::npos);
}

TEST(HumanRate, SiPrefixesAsLinkSpeedsAreGiven) {
  EXPECT_EQ(human_rate(0, "bit/s"), "0 bit/s");
  EXPECT_EQ(human_rate(999, "bit/s"), "999 bit/s");
  EXPECT_EQ(human_rate(1500, "bit/s"), "1.5 kbit/s");
  EXPECT_EQ(human_rate(1.2e9, "bit/s"), "1.2 Gbit/s");
  EXPECT_EQ(human_rate(4e15, "bit/s"), "4000.0 Tbit/s");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
}

}  // namespace
}  // namespace qpspread::report
