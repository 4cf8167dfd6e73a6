// Mode balance's placement against hand-computed plans: LPT's choices, ties, ports per path, no
// needless move, two stages at once, and its refusal when too few ports are known.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/error.h"
#include "userspace/scenario/balance_plan.h"

namespace qpspread::scenario {
namespace {

// Two uplinks; ports 40000.. alternate between them, as an ECMP hash might not: every other one.
BalanceStage two_paths(int ports_each = 16) {
  BalanceStage s;
  s.name = "leaf";
  s.paths = {"up1", "up2"};
  for (int i = 0; i < 2 * ports_each; i++) s.port_path[static_cast<uint16_t>(40000 + i)] = i % 2 ? "up2" : "up1";
  return s;
}

std::vector<QpLoad> equal(int n, double w = 100) {
  std::vector<QpLoad> q;
  for (int i = 0; i < n; i++) q.push_back({static_cast<uint32_t>(0x100 + i), w, std::nullopt});
  return q;
}

TEST(BalancePlan, EqualQpsSplitEvenlyEachOnAPortOfItsPath) {
  const BalanceStage s = two_paths();
  const BalancePlan p = plan_balance(equal(8), {s});
  EXPECT_EQ(p.stages[0].count.at("up1"), 4);
  EXPECT_EQ(p.stages[0].count.at("up2"), 4);
  EXPECT_DOUBLE_EQ(p.imbalance, 1.0);
  std::set<uint16_t> ports;
  for (const auto& q : p.qps) {
    EXPECT_EQ(q.paths, std::vector<std::string>{s.port_path.at(q.sport)}) << q.qpn;
    ports.insert(q.sport);
    EXPECT_TRUE(q.moved);
  }
  EXPECT_EQ(ports.size(), 8u) << "a port of its own per QP";
}

// LPT on 3,3,2,2,2 over 2 paths: 3 | 3, then 2 on either (first listed), 2 on the other, the last 2
// on the first: 7 | 5 (the optimum 6 | 6 puts 3,3 together; LPT is within 4/3 - 1/6 of it).
TEST(BalancePlan, UnequalQpsFollowLongestProcessingTimeFirst) {
  std::vector<QpLoad> q = {{1, 2, {}}, {2, 3, {}}, {3, 2, {}}, {4, 3, {}}, {5, 2, {}}};
  const BalancePlan p = plan_balance(q, {two_paths()});
  EXPECT_DOUBLE_EQ(p.stages[0].load.at("up1"), 7);
  EXPECT_DOUBLE_EQ(p.stages[0].load.at("up2"), 5);
  EXPECT_DOUBLE_EQ(p.imbalance, 7.0 / 6.0);
  EXPECT_LE(std::max(p.stages[0].load.at("up1"), p.stages[0].load.at("up2")), 6.0 * (4 * 2 - 1) / (3 * 2));  // 4/3 - 1/(3K), K = 2
  // The heaviest QPs went first, QPN 2 before QPN 4 (equal weight: by QPN).
  auto path_of = [&](uint32_t qpn) {
    return std::find_if(p.qps.begin(), p.qps.end(), [&](const QpPlacement& x) { return x.qpn == qpn; })->paths.at(0);
  };
  EXPECT_EQ(path_of(2), "up1");
  EXPECT_EQ(path_of(4), "up2");
}

// A QP whose present port already leads where the plan puts it keeps that port: no move.
TEST(BalancePlan, AQpAlreadyWhereItBelongsKeepsItsPort) {
  std::vector<QpLoad> q = equal(2);
  q[0].sport = 40001;  // up2
  q[1].sport = 40003;  // up2 as well: one of them has to move
  const BalancePlan p = plan_balance(q, {two_paths()});
  EXPECT_EQ(p.qps[0].paths.at(0), "up2");
  EXPECT_EQ(p.qps[0].sport, 40001);
  EXPECT_FALSE(p.qps[0].moved);
  EXPECT_EQ(p.qps[1].paths.at(0), "up1");
  EXPECT_TRUE(p.qps[1].moved);
  EXPECT_EQ(two_paths().port_path.at(p.qps[1].sport), "up1");
}

// Nothing sent yet (all weights 0): the QPs are still spread evenly by count.
TEST(BalancePlan, QpsThatSentNothingAreSpreadByCount) {
  const BalancePlan p = plan_balance(equal(6, 0), {two_paths()});
  EXPECT_EQ(p.stages[0].count.at("up1"), 3);
  EXPECT_EQ(p.stages[0].count.at("up2"), 3);
  EXPECT_DOUBLE_EQ(p.imbalance, 1.0);
}

TEST(BalancePlan, TheSameQpsInAnotherOrderGiveTheSamePlan) {
  std::vector<QpLoad> q = {{7, 5, {}}, {3, 1, {}}, {9, 5, {}}, {1, 2, {}}};
  std::vector<QpLoad> r(q.rbegin(), q.rend());
  const BalancePlan a = plan_balance(q, {two_paths()}), b = plan_balance(r, {two_paths()});
  EXPECT_EQ(to_json(a), to_json(b));
}

TEST(BalancePlan, TooFewKnownPortsIsRefused) {
  EXPECT_THROW(plan_balance(equal(8), {two_paths(3)}), Error);
  BalanceStage none;
  EXPECT_THROW(plan_balance(equal(1), {none}), Error);
  EXPECT_THROW(plan_balance(equal(1), {}), Error);
}

// A path whose known ports are all given: the next QPs go to the least-loaded path that has one.
TEST(BalancePlan, APathOutOfPortsTakesNoMoreQps) {
  BalanceStage s = two_paths();
  for (auto it = s.port_path.begin(); it != s.port_path.end();)
    it = it->second == "up1" && it->first > 40002 ? s.port_path.erase(it) : std::next(it);  // up1: 40000, 40002
  const BalancePlan p = plan_balance(equal(5), {s});
  EXPECT_EQ(p.stages[0].count.at("up1"), 2);
  EXPECT_EQ(p.stages[0].count.at("up2"), 3);
}

// A further stage (a border's two WAN links) whose paths follow the port by another pattern than
// the uplinks': ports 40000.. go up1, up2, up1, ... and wan1, wan1, wan2, wan2, ...; every
// combination of uplink and WAN link has ports.
BalanceStage wan_stage(int ports = 64) {
  BalanceStage s;
  s.name = "border";
  s.paths = {"wan1", "wan2"};
  for (int i = 0; i < ports; i++) s.port_path[static_cast<uint16_t>(40000 + i)] = (i / 2) % 2 ? "wan2" : "wan1";
  return s;
}

// Equal QPs: ceil(N/K) at most on every path of both stages, and every combination used.
TEST(BalancePlan, EqualQpsSplitEvenlyOnEveryStage) {
  for (int n : {2, 3, 4, 7, 8, 16}) {
    SCOPED_TRACE(n);
    const BalanceStage up = two_paths(32), wan = wan_stage();
    const BalancePlan p = plan_balance(equal(n), {up, wan});
    ASSERT_EQ(p.stages.size(), 2u);
    for (const auto& st : p.stages)
      for (const auto& [path, c] : st.count) EXPECT_LE(c, (n + 1) / 2) << st.name << " " << path;
    std::map<std::vector<std::string>, int> combos;
    for (const auto& q : p.qps) {
      EXPECT_EQ(q.paths, (std::vector<std::string>{up.port_path.at(q.sport), wan.port_path.at(q.sport)})) << q.qpn;
      combos[q.paths]++;
    }
    if (n >= 4) {
      EXPECT_EQ(combos.size(), 4u) << "the QPs of a WAN link are split over the uplinks";
    }
  }
}

// Unequal QPs over two stages: the tighter stage (fewer paths) is placed by LPT first; here the
// WAN has 2 links and the leaf 3 uplinks, so 3,3,2,2,2 come out 7 | 5 on the WAN as on one stage
// (which link gets 7 is the uplinks' tie-break).
TEST(BalancePlan, TheTighterStageIsPlacedFirst) {
  BalanceStage up;
  up.name = "leaf";
  up.paths = {"up1", "up2", "up3"};
  for (int i = 0; i < 64; i++) up.port_path[static_cast<uint16_t>(40000 + i)] = "up" + std::to_string(1 + i % 3);
  std::vector<QpLoad> q = {{1, 2, {}}, {2, 3, {}}, {3, 2, {}}, {4, 3, {}}, {5, 2, {}}};
  const BalancePlan p = plan_balance(q, {up, wan_stage()});
  EXPECT_DOUBLE_EQ(std::max(p.stages[1].load.at("wan1"), p.stages[1].load.at("wan2")), 7);
  EXPECT_DOUBLE_EQ(std::min(p.stages[1].load.at("wan1"), p.stages[1].load.at("wan2")), 5);
  EXPECT_DOUBLE_EQ(p.stages[1].imbalance, 7.0 / 6.0);
  // The uplinks, placed second: no uplink above 5 (3, 3 and 2+2 on three, then one more 2).
  double most = 0;
  for (const auto& [path, l] : p.stages[0].load) most = std::max(most, l);
  EXPECT_LE(most, 5.0);
  EXPECT_DOUBLE_EQ(p.imbalance, std::max(p.stages[0].imbalance, p.stages[1].imbalance));
}

// A path lost at a stage further on (its link cut: the stage lists one path): every QP goes to the
// other, the uplinks stay even.
TEST(BalancePlan, AWithdrawnPathIsReplaced) {
  std::vector<QpLoad> q = equal(8);
  const BalancePlan before = plan_balance(q, {two_paths(32), wan_stage()});
  for (size_t i = 0; i < q.size(); i++) q[i].sport = before.qps[i].sport;
  BalanceStage cut = wan_stage();
  cut.paths = {"wan2"};
  for (auto& [port, path] : cut.port_path) path = "wan2";  // its route has one leg now
  const BalancePlan after = plan_balance(q, {two_paths(32), cut});
  EXPECT_EQ(after.stages[1].count.at("wan2"), 8);
  EXPECT_EQ(after.stages[0].count.at("up1"), 4);
  EXPECT_EQ(after.stages[0].count.at("up2"), 4);
  int kept = 0;
  for (const auto& a : after.qps) kept += !a.moved;
  EXPECT_EQ(kept, 8) << "every port now leads to wan2 and keeps its uplink: nothing moves";
}

// QPs placed before they send (all weigh 0) go in QPN order alternately, so the first K of them
// are as even as all: a workload that uses only some of the QPs it has (whole messages over 8
// QPs, 4 messages) still spreads.
TEST(BalancePlan, QpsNotYetSendingAreEvenInQpnOrder) {
  const BalanceStage up = two_paths(32), wan = wan_stage();
  const BalancePlan p = plan_balance(equal(8, 0), {up, wan});
  for (size_t k : {2u, 4u, 8u}) {
    SCOPED_TRACE(k);
    std::map<std::string, int> ups, wans;
    for (size_t i = 0; i < k; i++) ups[p.qps[i].paths[0]]++, wans[p.qps[i].paths[1]]++;
    EXPECT_EQ(ups["up1"], static_cast<int>(k / 2));
    EXPECT_EQ(wans["wan1"], static_cast<int>(k / 2));
  }
}

// Idle QPs (weight 0) placed after busy ones spread evenly among themselves, whatever the busy
// ones' loads: 2 busy QPs of unequal weight and 8 idle ones give 4 | 4 idle per path (not all 8 on
// the path with less load).
TEST(BalancePlan, WeightlessQpsSpreadAmongThemselves) {
  std::vector<QpLoad> q = {{1, 100, {}}, {2, 90, {}}};
  for (int i = 0; i < 8; i++) q.push_back({static_cast<uint32_t>(0x10 + i), 0, std::nullopt, true});
  const BalancePlan p = plan_balance(q, {two_paths(), wan_stage()});
  std::map<std::string, int> idle_up, idle_wan;
  for (const auto& x : p.qps)
    if (x.qpn >= 0x10) idle_up[x.paths[0]]++, idle_wan[x.paths[1]]++;
  EXPECT_EQ(idle_up["up1"], 4);
  EXPECT_EQ(idle_wan["wan1"], 4);
  EXPECT_DOUBLE_EQ(p.stages[1].imbalance, 100.0 / 95.0);
}

// QPs about to start (weight 0, not idle) are placed before idle QPs of earlier runs, so these
// do not tilt them: 8 new QPs split 4 | 4 although 6 idle ones all sit on up1.
TEST(BalancePlan, IdleQpsDoNotTiltTheOthers) {
  std::vector<QpLoad> q = equal(8, 0);
  for (int i = 0; i < 6; i++) q.push_back({static_cast<uint32_t>(0x10 + i), 0, static_cast<uint16_t>(40000 + 2 * i), true});
  const BalancePlan p = plan_balance(q, {two_paths()});
  std::map<std::string, int> fresh;
  for (const auto& x : p.qps)
    if (x.qpn >= 0x100) fresh[x.paths.at(0)]++;
  EXPECT_EQ(fresh["up1"], 4);
  EXPECT_EQ(fresh["up2"], 4);
}

}  // namespace
}  // namespace qpspread::scenario
