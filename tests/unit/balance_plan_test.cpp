// Mode balance's placement against hand-computed plans: LPT's choices, ties, ports per path, no
// needless move, and its refusal when a path has too few known ports.
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
  const BalancePlan p = plan_balance(equal(8), s);
  EXPECT_EQ(p.count.at("up1"), 4);
  EXPECT_EQ(p.count.at("up2"), 4);
  EXPECT_DOUBLE_EQ(p.imbalance, 1.0);
  std::set<uint16_t> ports;
  for (const auto& q : p.qps) {
    EXPECT_EQ(s.port_path.at(q.sport), q.path) << q.qpn;
    ports.insert(q.sport);
    EXPECT_TRUE(q.moved);
  }
  EXPECT_EQ(ports.size(), 8u) << "a port of its own per QP";
}

// LPT on 3,3,2,2,2 over 2 paths: 3 | 3, then 2 on either (first listed), 2 on the other, the last 2
// on the first: 7 | 5 (the optimum 6 | 6 puts 3,3 together; LPT is within 4/3 - 1/6 of it).
TEST(BalancePlan, UnequalQpsFollowLongestProcessingTimeFirst) {
  std::vector<QpLoad> q = {{1, 2, {}}, {2, 3, {}}, {3, 2, {}}, {4, 3, {}}, {5, 2, {}}};
  const BalancePlan p = plan_balance(q, two_paths());
  EXPECT_DOUBLE_EQ(p.load.at("up1"), 7);
  EXPECT_DOUBLE_EQ(p.load.at("up2"), 5);
  EXPECT_DOUBLE_EQ(p.imbalance, 7.0 / 6.0);
  EXPECT_LE(std::max(p.load.at("up1"), p.load.at("up2")), 6.0 * (4 * 2 - 1) / (3 * 2));  // 4/3 - 1/(3K), K = 2
  // The heaviest QPs went first, QPN 2 before QPN 4 (equal weight: by QPN).
  auto path_of = [&](uint32_t qpn) {
    return std::find_if(p.qps.begin(), p.qps.end(), [&](const QpPlacement& x) { return x.qpn == qpn; })->path;
  };
  EXPECT_EQ(path_of(2), "up1");
  EXPECT_EQ(path_of(4), "up2");
}

// A QP whose present port already leads where the plan puts it keeps that port: no move.
TEST(BalancePlan, AQpAlreadyWhereItBelongsKeepsItsPort) {
  std::vector<QpLoad> q = equal(2);
  q[0].sport = 40001;  // up2
  q[1].sport = 40003;  // up2 as well: one of them has to move
  const BalancePlan p = plan_balance(q, two_paths());
  EXPECT_EQ(p.qps[0].path, "up2");
  EXPECT_EQ(p.qps[0].sport, 40001);
  EXPECT_FALSE(p.qps[0].moved);
  EXPECT_EQ(p.qps[1].path, "up1");
  EXPECT_TRUE(p.qps[1].moved);
  EXPECT_EQ(two_paths().port_path.at(p.qps[1].sport), "up1");
}

// Nothing sent yet (all weights 0): the QPs are still spread evenly by count.
TEST(BalancePlan, QpsThatSentNothingAreSpreadByCount) {
  const BalancePlan p = plan_balance(equal(6, 0), two_paths());
  EXPECT_EQ(p.count.at("up1"), 3);
  EXPECT_EQ(p.count.at("up2"), 3);
  EXPECT_DOUBLE_EQ(p.imbalance, 1.0);
}

TEST(BalancePlan, TheSameQpsInAnotherOrderGiveTheSamePlan) {
  std::vector<QpLoad> q = {{7, 5, {}}, {3, 1, {}}, {9, 5, {}}, {1, 2, {}}};
  std::vector<QpLoad> r(q.rbegin(), q.rend());
  const BalancePlan a = plan_balance(q, two_paths()), b = plan_balance(r, two_paths());
  EXPECT_EQ(to_json(a), to_json(b));
}

TEST(BalancePlan, TooFewKnownPortsOnAPathIsRefused) {
  EXPECT_THROW(plan_balance(equal(8), two_paths(3)), Error);
  BalanceStage none;
  EXPECT_THROW(plan_balance(equal(1), none), Error);
}

}  // namespace
}  // namespace qpspread::scenario
