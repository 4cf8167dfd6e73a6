// Ranks as threads: one per host, each inside its host's network namespace with its own
// RcHost, running a collective's per-rank program; and the report they produce together.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "userspace/workload/rc_host.h"

namespace qpspread::workload {

// A barrier for rank threads that keeps each waiting rank's transport moving: a rank that
// stopped progressing could not acknowledge its peers' frames, and they would never arrive.
class ProgressBarrier {
 public:
  explicit ProgressBarrier(int n) : n_(n) {}
  // Throws qpspread::Error at the deadline, or when another rank has failed (abort set).
  void wait(RcHost& host, int64_t deadline_ns);
  void abort() { aborted_ = true; }
  bool aborted() const { return aborted_; }

 private:
  int n_;
  std::atomic<int> arrived_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> aborted_{false};
};

// What every collective takes: its size, iterations, the whole run's timeout, and a hook called
// once, by rank 0, as the first iteration starts (all ranks past its barrier): where a study's
// failure events start their clock.
struct CollectiveOptions {
  size_t bytes = 1 << 20;  // per rank (allreduce), per receiver (stream), the whole vector (ps)
  int iterations = 5;
  int64_t timeout_ns = 60'000'000'000;
  std::function<void()> on_start;
};

struct QpReport {
  int rank = 0, peer = 0, index = 0;
  uint32_t qpn = 0;
  uint16_t sport = 0;
  RcQpStats stats;
};

struct WorkloadReport {
  std::string algorithm;
  int ranks = 0;
  size_t bytes = 0;                 // data per rank and iteration
  std::vector<double> iteration_s;  // per iteration: the slowest rank's time
  std::vector<QpReport> qps;
  std::vector<int64_t> latency_ns;  // one-way, every frame accepted
  int64_t max_rx_gap_ns = 0;        // the largest RcHost::max_rx_gap_ns() of the ranks
  bool correct = true;              // every result matched the exact expected values
};

struct RankTimes {
  std::vector<double> iteration_s;
  bool correct = true;
};

// Runs body(host, barrier, times) on one thread per host inside its namespace, then waits
// until every rank's sends are acknowledged (still answering peers meanwhile), and merges the
// ranks' times (slowest rank per iteration), QP statistics and latencies. Rethrows the first
// rank's error once all threads have ended.
using RankBody = std::function<void(RcHost&, ProgressBarrier&, RankTimes&)>;
WorkloadReport run_ranks(const std::vector<HostAddr>& hosts, const TransportOptions& opt,
                         int64_t timeout_ns, const RankBody& body);


}  // namespace qpspread::workload
