// DCQCN's reaction point (userspace/workload/dcqcn.h) against sequences computed by hand, with
// round parameters: line rate 100, g = 1/4, K = 10, T = 100, B = 1000, F = 2, R_AI = 5, R_HAI = 20.
#include <gtest/gtest.h>

#include "userspace/workload/dcqcn.h"

namespace qpspread::workload {
namespace {

DcqcnParams round_params() {
  DcqcnParams p;
  p.line_rate_bps = 100;
  p.g = 0.25;
  p.alpha_period_ns = 10;
  p.increase_period_ns = 100;
  p.reduce_period_ns = 0;
  p.byte_counter = 1000;
  p.fast_recovery_stages = 2;
  p.rai_bps = 5;
  p.rhai_bps = 20;
  p.min_rate_bps = 1;
  return p;
}

TEST(Dcqcn, StartsAtLineRateAndACnpCutsByHalfAlpha) {
  Dcqcn d(round_params());
  EXPECT_DOUBLE_EQ(d.rate_bps(), 100);
  d.on_cnp(0);  // RT := 100, RC := 100 (1 - 1/2), alpha := 3/4 + 1/4
  EXPECT_DOUBLE_EQ(d.target_bps(), 100);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 50);
  EXPECT_DOUBLE_EQ(d.alpha(), 1);
  d.on_cnp(1);
  EXPECT_DOUBLE_EQ(d.target_bps(), 50);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 25);
  EXPECT_EQ(d.cuts(), 2u);
}

TEST(Dcqcn, AlphaDecaysEveryPeriodWithoutACnp) {
  Dcqcn d(round_params());
  d.on_cnp(0);
  d.advance(10);  // the period [0, 10) saw the CNP: no decay
  EXPECT_DOUBLE_EQ(d.alpha(), 1);
  d.advance(20);
  EXPECT_DOUBLE_EQ(d.alpha(), 0.75);
  d.advance(40);  // two more periods
  EXPECT_DOUBLE_EQ(d.alpha(), 0.421875);
  d.on_cnp(45);  // RC 50 -> 50 (1 - 0.421875 / 2); alpha := 3/4 0.421875 + 1/4
  EXPECT_DOUBLE_EQ(d.rate_bps(), 50 * (1 - 0.421875 / 2));
  EXPECT_DOUBLE_EQ(d.alpha(), 0.75 * 0.421875 + 0.25);
  EXPECT_EQ(d.timer_stage(), 0);
}

TEST(Dcqcn, TimerStagesFastRecoveryThenAdditive) {
  Dcqcn d(round_params());
  d.on_cnp(0);
  d.on_cnp(1);  // RT 50, RC 25; the increase timer restarts: next at 101
  d.advance(100);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 25);
  d.advance(101);  // fast recovery: RC := (50 + 25) / 2
  EXPECT_DOUBLE_EQ(d.rate_bps(), 37.5);
  EXPECT_EQ(d.timer_stage(), 1);
  d.advance(201);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 43.75);
  d.advance(301);  // stage 2 = F: additive, RT := 55
  EXPECT_DOUBLE_EQ(d.target_bps(), 55);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 49.375);
  EXPECT_EQ(d.timer_stage(), 3);
}

TEST(Dcqcn, ByteCounterAndTimerTogetherReachHyperIncrease) {
  Dcqcn d(round_params());
  d.on_cnp(0);
  d.on_cnp(1);                         // RT 50, RC 25
  d.on_sent(1000, 2);                  // byte stage 0: fast recovery
  EXPECT_DOUBLE_EQ(d.rate_bps(), 37.5);
  d.on_sent(600, 3);
  d.on_sent(400, 3);                   // the second 1000 bytes
  EXPECT_DOUBLE_EQ(d.rate_bps(), 43.75);
  d.on_sent(1000, 4);                  // byte stage 2: additive
  EXPECT_DOUBLE_EQ(d.target_bps(), 55);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 49.375);
  EXPECT_EQ(d.byte_stage(), 3);
  d.advance(101);  // timer 0, bytes 3: additive
  EXPECT_DOUBLE_EQ(d.target_bps(), 60);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 54.6875);
  d.advance(301);  // timer 1 and 2: additive twice
  EXPECT_DOUBLE_EQ(d.target_bps(), 70);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 64.921875);
  d.advance(401);  // timer 3, bytes 3: both above F = 2: hyper, i = 1
  EXPECT_DOUBLE_EQ(d.target_bps(), 90);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 77.4609375);
  EXPECT_EQ(d.timer_stage(), 4);
}

TEST(Dcqcn, RecoveryStopsAtTheLineRate) {
  Dcqcn d(round_params());
  d.on_cnp(0);
  d.advance(100'000);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 100);
  EXPECT_DOUBLE_EQ(d.target_bps(), 100);
  const int stages = d.timer_stage();
  d.advance(200'000);
  EXPECT_EQ(d.timer_stage(), stages) << "no increases once recovered";
  d.on_cnp(200'001);  // alpha decayed to ~0 while recovered: the cut is ~0, alpha is back at ~g
  EXPECT_NEAR(d.alpha(), 0.25, 1e-9);
  EXPECT_NEAR(d.rate_bps(), 100, 1e-6);
  d.on_cnp(200'002);  // now alpha 1/4: RC := RC (1 - 1/8)
  EXPECT_NEAR(d.rate_bps(), 87.5, 1e-4);
}

// A QP sharing the host's line rate sends below its RC. The cut at the line rate starts from what it
// sends (NICs set a rate on the first CNP); later cuts start from RC, as DCQCN's, so a QP whose
// application left it idle for a moment is not cut for that.
TEST(Dcqcn, OnlyACutAtTheLineRateStartsFromWhatTheQpSends) {
  Dcqcn d(round_params());
  d.on_cnp(0, 20);  // RT := min(100, 20) = 20, RC := 20 (1 - 1/2) = 10
  EXPECT_DOUBLE_EQ(d.target_bps(), 20);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 10);
  d.on_cnp(1, 4);  // RC 10 is below the line rate: RT := 10, RC := 10 (1 - 1/2) = 5, the 4 ignored
  EXPECT_DOUBLE_EQ(d.target_bps(), 10);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 5);
  // Recovered to the line rate, the next cut starts from what the QP sends again.
  d.advance(1'000'000);
  ASSERT_DOUBLE_EQ(d.rate_bps(), 100);
  d.on_cnp(1'000'001, 30);
  EXPECT_DOUBLE_EQ(d.target_bps(), 30);
}

TEST(Dcqcn, AtMostOneCutPerReductionPeriod) {
  DcqcnParams p = round_params();
  p.reduce_period_ns = 10;
  Dcqcn d(p);
  d.on_cnp(0);
  d.on_cnp(5);  // a burst of CNPs from one congestion event
  d.on_cnp(9);
  EXPECT_EQ(d.cuts(), 1u);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 50);
  d.on_cnp(10);
  EXPECT_EQ(d.cuts(), 2u);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 25);
}

TEST(Dcqcn, NeverBelowTheMinimumRate) {
  Dcqcn d(round_params());
  for (int i = 0; i < 20; i++) d.on_cnp(i);
  EXPECT_DOUBLE_EQ(d.rate_bps(), 1);
}

// 24 Mbit/s is 40 Gbit/s slowed down D = 1666.7 times: periods x D, rate steps / D, bytes kept.
TEST(Dcqcn, ScaledToAnEmulatedLineRate) {
  const DcqcnParams p = DcqcnParams::scaled_to(24e6);
  const double d = 40e9 / 24e6;
  EXPECT_DOUBLE_EQ(p.line_rate_bps, 24e6);
  EXPECT_EQ(p.alpha_period_ns, static_cast<int64_t>(10'000 * d));  // 16.7 ms
  EXPECT_EQ(p.increase_period_ns, static_cast<int64_t>(55'000 * d));
  EXPECT_EQ(p.reduce_period_ns, static_cast<int64_t>(4'000 * d));  // 6.7 ms
  EXPECT_EQ(p.byte_counter, 10'000'000u) << "bytes are not dilated";
  EXPECT_NEAR(p.rai_bps, 24e3, 1e-6);
  EXPECT_NEAR(p.rhai_bps, 240e3, 1e-6);
  EXPECT_DOUBLE_EQ(p.g, 1.0 / 64);
  EXPECT_FALSE(Dcqcn(DcqcnParams::scaled_to(0)).on()) << "no line rate: off";
}

}  // namespace
}  // namespace qpspread::workload
