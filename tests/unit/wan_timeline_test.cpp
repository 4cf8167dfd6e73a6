// What a run's WAN timeline says about a link cut, against hand-made timelines: when the cut link
// fell quiet, when the links were even again, and what is left null.
#include <gtest/gtest.h>

#include "userspace/scenario/wan_timeline.h"

namespace qpspread::scenario {
namespace {

// Samples every 100 ms for 10 s; wan1 cut at 2 s, back at 6 s. Before the cut the four
// link-directions carry 100 bytes per sample each; wan1 goes on for `quiet_after` ms after the cut
// (the routers have not noticed yet), then wan2 carries all; after the return wan1 carries
// `uneven` per sample for 1 s, then 100 again.
WanTimeline timeline(int quiet_after_ms, uint64_t uneven) {
  WanTimeline t;
  const char* names[] = {"wan1 a>b", "wan1 b>a", "wan2 a>b", "wan2 b>a"};
  std::map<std::string, uint64_t> sum;
  for (int i = 0; i <= 100; i++) {
    const double ms = i * 100.0;
    t.t_ms.push_back(ms);
    for (const char* n : names) {
      const bool w1 = std::string(n).rfind("wan1", 0) == 0;
      uint64_t add = 100;
      if (ms > 2000 && ms < 6000) add = w1 ? (ms <= 2000 + quiet_after_ms ? 100 : 0) : 200;
      if (ms > 6000 && ms <= 7000) add = w1 ? uneven : 200 - uneven;
      if (i > 0) sum[n] += add;
      t.bytes[n].push_back(sum[n]);
    }
  }
  return t;
}

const std::vector<ExperimentEvent> kCut = {{2'000'000, "wan1", "", "down"}, {6'000'000, "wan1", "", "up"}};

TEST(WanTimeline, TheCutLinkFallsQuietWhenTheRoutersNotice) {
  const TimelineMetrics m = timeline_metrics(timeline(900, 100), kCut, 1000, 1.05);
  ASSERT_TRUE(m.cut_quiet_ms);
  EXPECT_DOUBLE_EQ(*m.cut_quiet_ms, 900);
}

TEST(WanTimeline, EvenAgainOnceAWholeWindowIsEven) {
  // After the return wan1 carries 20 per sample (wan2 180) for a second: even from 7 s on.
  const TimelineMetrics m = timeline_metrics(timeline(500, 20), kCut, 1000, 1.05);
  ASSERT_TRUE(m.rebalanced_ms);
  EXPECT_DOUBLE_EQ(*m.rebalanced_ms, 1000);
  // Even at once.
  const TimelineMetrics at_once = timeline_metrics(timeline(500, 100), kCut, 1000, 1.05);
  ASSERT_TRUE(at_once.rebalanced_ms);
  EXPECT_DOUBLE_EQ(*at_once.rebalanced_ms, 0);
}

// The link back: the first sample from the return on at which it carries again (the one at 6 s
// already does: 0 ms); the reordered frames counted from the sample before it on.
TEST(WanTimeline, TheLinkIsBackWhenItCarriesAgain) {
  WanTimeline t = timeline(500, 100);
  for (size_t i = 0; i < t.t_ms.size(); i++) t.reordered.push_back(t.t_ms[i] < 3000 ? 0 : 7);  // the cut's
  const TimelineMetrics m = timeline_metrics(t, kCut, 1000, 1.05);
  ASSERT_TRUE(m.back_ms);
  EXPECT_DOUBLE_EQ(*m.back_ms, 0);
  ASSERT_TRUE(m.reordered_after_back);
  EXPECT_EQ(*m.reordered_after_back, 0u);
}

TEST(WanTimeline, WithoutACutOrAReturnTheFiguresAreNull) {
  EXPECT_FALSE(timeline_metrics(timeline(500, 100), {}, 1000, 1.05).cut_quiet_ms);
  const TimelineMetrics no_return = timeline_metrics(timeline(500, 100), {kCut[0]}, 1000, 1.05);
  EXPECT_TRUE(no_return.cut_quiet_ms);
  EXPECT_FALSE(no_return.rebalanced_ms);
  EXPECT_FALSE(no_return.back_ms);
  EXPECT_FALSE(timeline_metrics(WanTimeline{}, kCut, 1000, 1.05).cut_quiet_ms);
}

}  // namespace
}  // namespace qpspread::scenario
