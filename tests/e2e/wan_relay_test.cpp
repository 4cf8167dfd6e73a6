// The netem fallback end to end: node A wan0 <-> a [wire: WanRelay] b <-> wan0 node B, UDP from C++
// sockets on threads inside the node namespaces. Bounds from issue 4:
//  - round trip = 2 x one-way delay within 10 % or 0.5 ms (median of 200 echoes);
//  - with jitter every round trip at least 2(d-j), all but 2 % within 2(d+j) + kAllowanceMs, and
//    no reordering;
//  - loss within 4 sigma of the binomial expectation;
//  - a rate cap delivers within 10 % of the cap (50 and 200 mbit);
//  - set_impairment and the command's SIGHUP take effect; SIGTERM ends the command with 0.
// kAllowanceMs: qpspread-bench-wan measures the relay's one-way cost at ~60 us median and ~100-180 us
// p99 (SCHED_FIFO relay threads); the probe endpoints run at normal priority on a shared 2-core VM,
// where one waits for a core for up to 1-1.5 ms now and then (the bench's max): a round trip, two
// such waits, gets 4 ms of headroom (2 ms let 1 run in ~10 fail, at +0.3 and +1.9 ms). A jitter
// window twice as wide still fails it: its round trips spread over 8-32 ms.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/netns.h"
#include "common/percentile.h"
#include "tests/support/test_util.h"
#include "tests/support/wan_probe.h"
#include "userspace/wan/wan_relay.h"

namespace qpspread::test {
namespace {

using wan::Impairment;
constexpr double kAllowanceMs = 4.0;

Impairment imp(const std::string& delay, const std::string& jitter = "", const std::string& loss = "",
               const std::string& rate = "") {
  return wan::parse_impairment(delay, jitter, loss, rate);
}

class WanRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces, AF_PACKET)";
    a_ = std::make_unique<ScopedNetns>("qps-wan-a");
    w_ = std::make_unique<ScopedNetns>("qps-wan-w");
    b_ = std::make_unique<ScopedNetns>("qps-wan-b");
    ns_ = {a_->name(), w_->name(), b_->name()};
    wan::wire_wan_link(ns_);
  }
  void TearDown() override { stop_relay(); }

  void start_relay(const Impairment& both) {
    wan::WanRelayOptions o;
    o.a = "a";
    o.b = "b";
    o.a_to_b = o.b_to_a = both;
    o.realtime_priority = 10;
    Netns::open(w_->name()).run([&] { relay_ = std::make_unique<wan::WanRelay>(o); });
    runner_ = std::thread([this] { relay_->run(stop_); });
  }
  void stop_relay() {
    stop_ = true;
    if (runner_.joinable()) runner_.join();
  }
  wan::ProbeResult echo(std::chrono::microseconds interval = std::chrono::microseconds(2000)) {
    wan::ProbeSpec spec;
    spec.count = 200;
    spec.echo = true;
    spec.interval = interval;
    return wan::udp_probe(ns_, spec);
  }
  static void expect_rtt(const wan::ProbeResult& r, double one_way_ms) {
    ASSERT_GE(r.rtt_ms.size(), 190u) << "echoes lost on a link without loss";
    const double median = percentile(r.rtt_ms, 50), want = 2 * one_way_ms;
    EXPECT_NEAR(median, want, std::max(0.1 * want, 0.5)) << "median RTT of " << r.rtt_ms.size() << " echoes";
  }

  std::unique_ptr<ScopedNetns> a_, w_, b_;
  wan::WanLinkNamespaces ns_;
  std::unique_ptr<wan::WanRelay> relay_;
  std::atomic<bool> stop_{false};
  std::thread runner_;
};

TEST_F(WanRelayTest, RoundTripIsTwiceTheDelayAndFollowsSetImpairment) {
  start_relay(imp("10ms"));
  expect_rtt(echo(), 10);
  relay_->set_impairment(imp("3ms"));
  expect_rtt(echo(), 3);
  relay_->set_impairment(wan::WanDirection::AtoB, imp("20ms"));  // one direction only
  expect_rtt(echo(), 11.5);
}

TEST_F(WanRelayTest, JitterStaysWithinBoundsAndNeverReorders) {
  start_relay(imp("10ms", "3ms"));
  // Probes 8 ms apart, more than the 6 ms jitter window: none is held back behind the one before
  // (which keeps order but lengthens its delay beyond the window; the next test covers that).
  const wan::ProbeResult r = echo(std::chrono::microseconds(8000));
  ASSERT_GE(r.rtt_ms.size(), 190u);
  // Never early: the relay holds every frame at least d - j. Late by more than the allowance only
  // now and then: the probe endpoints run at normal priority, and under ctest -j2 beside the lab
  // tests a few of ~200 round trips (3 in one run, 31-39 ms) waited that long for a core; a wider
  // jitter window still fails the lower bound.
  size_t late = 0;
  for (double rtt : r.rtt_ms) {
    EXPECT_GE(rtt, 2 * (10 - 3));
    late += rtt > 2 * (10 + 3) + kAllowanceMs;
  }
  EXPECT_LE(late, r.rtt_ms.size() / 50) << "round trips beyond 2 (d + j) + " << kAllowanceMs << " ms";
  EXPECT_TRUE(r.in_order) << "a jittered frame overtook an earlier one";
  // The jitter is really there: the one-way times spread over most of the 6 ms window.
  EXPECT_GT(percentile(r.one_way_ms, 95) - percentile(r.one_way_ms, 5), 3.0);
}

TEST_F(WanRelayTest, DenseJitteredFramesStayInOrder) {
  start_relay(imp("10ms", "5ms"));
  wan::ProbeSpec spec;
  spec.count = 2000;
  spec.interval = std::chrono::microseconds(100);  // 100 frames inside one jitter window
  const wan::ProbeResult r = wan::udp_probe(ns_, spec);
  EXPECT_EQ(r.one_way_ms.size(), 2000u);
  EXPECT_TRUE(r.in_order) << "netem would reorder these; RoCE would count each as a loss";
  for (double ms : r.one_way_ms) EXPECT_GE(ms, 5.0);
}

TEST_F(WanRelayTest, LossIsWithinFourSigmaOfTheConfiguredPercent) {
  constexpr int kN = 5000;
  constexpr double kP = 0.10;
  start_relay(imp("", "", "10"));
  wan::ProbeSpec spec;
  spec.count = kN;
  spec.interval = std::chrono::microseconds(100);
  const wan::ProbeResult r = wan::udp_probe(ns_, spec);
  const double lost = kN - static_cast<double>(r.one_way_ms.size());
  const double sigma = std::sqrt(kN * kP * (1 - kP));
  EXPECT_NEAR(lost, kN * kP, 4 * sigma) << "lost " << lost << " of " << kN;
  // Every missing probe is one the relay dropped on purpose (IPv6 chatter from A may add a few).
  const uint64_t dropped = relay_->counters(wan::WanDirection::AtoB).dropped_loss;
  EXPECT_GE(dropped, static_cast<uint64_t>(lost));
  EXPECT_LE(dropped, static_cast<uint64_t>(lost) + 10);
}

// Twice the cap offered: the queue fills, and the relay marks ECN-capable frames CE by the WRED
// profile (their IPv4 checksums stay valid: node B's stack delivers every frame forwarded), and
// never a frame that is not ECN-capable.
TEST_F(WanRelayTest, EcnCapableFramesAreMarkedWhenTheQueueBuilds) {
  start_relay(wan::parse_impairment("", "", "", "20mbit", "5kb,30kb,10%"));
  const wan::BlastResult plain = wan::udp_blast(ns_, 1000, 40'000'000, std::chrono::milliseconds(500));
  const wan::WanCounters after_plain = relay_->counters(wan::WanDirection::AtoB);
  EXPECT_EQ(after_plain.marked_ce, 0u) << "not ECN-capable";
  EXPECT_GT(after_plain.dropped_queue, 0u) << "the queue overflowed";
  const wan::BlastResult ect = wan::udp_blast(ns_, 1000, 40'000'000, std::chrono::milliseconds(500), 0x02);
  const wan::WanCounters c = relay_->counters(wan::WanDirection::AtoB);
  const uint64_t forwarded = c.forwarded - after_plain.forwarded;
  std::printf("ECT(0) at 2x the cap: %lu forwarded, %lu marked CE, %lu tail-dropped; %lu received at B\n",
              static_cast<unsigned long>(forwarded), static_cast<unsigned long>(c.marked_ce),
              static_cast<unsigned long>(c.dropped_queue - after_plain.dropped_queue),
              static_cast<unsigned long>(ect.received));
  EXPECT_GT(c.marked_ce, forwarded / 2) << "a full queue marks (above KMAX every frame)";
  EXPECT_LE(c.marked_ce, forwarded);
  EXPECT_GE(ect.received + 5, forwarded) << "marked frames arrive (valid checksum)";
  EXPECT_GT(plain.received, 0u);
}

TEST_F(WanRelayTest, RateCapHoldsWithinTenPercent) {
  start_relay(imp("", "", "", "50mbit"));
  for (uint64_t cap : {50000000ull, 200000000ull}) {
    relay_->set_impairment(Impairment{0, 0, 0, cap, {}});
    // Offered at 1.5 x the cap: the relay's queue stays full, tail drop does the rest.
    const wan::BlastResult b = wan::udp_blast(ns_, 1000, cap * 3 / 2, std::chrono::milliseconds(2000));
    EXPECT_NEAR(b.received_bps, static_cast<double>(cap), 0.1 * static_cast<double>(cap))
        << b.received << " of " << b.sent << " frames in " << b.seconds << " s";
  }
  EXPECT_GT(relay_->counters(wan::WanDirection::AtoB).dropped_queue, 0u) << "the excess is tail-dropped";
}

// The command as the lab runner starts it; killed by PID and reaped whatever the test does.
struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

TEST_F(WanRelayTest, CommandAppliesSighupControlAndExitsCleanlyOnSigterm) {
  const std::string dir = "/tmp/qps-wan-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string pidfile = dir + "/relay.pid", control = dir + "/control.json";
  Child child;
  child.pid = ::fork();
  ASSERT_GE(child.pid, 0);
  if (child.pid == 0) {
    ::execl(QPSPREAD_BIN, QPSPREAD_BIN, "wan-relay", "--netns", w_->name().c_str(), "--a", "a", "--b", "b",
            "--delay", "4ms", "--control", control.c_str(), "--pidfile", pidfile.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 100 && !std::filesystem::exists(pidfile); i++) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(std::filesystem::exists(pidfile)) << "wan-relay did not start";
  expect_rtt(echo(), 4);

  std::ofstream(control) << R"({"a_to_b": {"delay": "12ms"}, "b_to_a": {"delay": "2ms"}})";
  ASSERT_EQ(::kill(child.pid, SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  expect_rtt(echo(), 7);

  ASSERT_EQ(::kill(child.pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  child.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_FALSE(std::filesystem::exists(pidfile)) << "pidfile left behind";
  std::filesystem::remove_all(dir);
}

// An interface the relay cannot open: exit 1 naming it, and no pidfile for the runner to wait on.
TEST_F(WanRelayTest, CommandThatCannotOpenItsInterfaceFailsWithoutAPidfile) {
  const std::string pidfile = "/tmp/qps-wan-" + std::to_string(::getpid()) + ".pid";
  const CommandResult r = run({QPSPREAD_BIN, "wan-relay", "--netns", w_->name(), "--a", "nosuch0", "--b", "b",
                               "--pidfile", pidfile});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no interface 'nosuch0'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(pidfile));
}

}  // namespace
}  // namespace qpspread::test
