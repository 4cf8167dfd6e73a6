// Ring AllReduce over RC queue pairs, on real float data: reduce-scatter then all-gather,
// 2(N-1) steps; in each, a rank sends one chunk to its successor and waits for one from its
// predecessor. The result is checked against the exact sum.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "userspace/workload/rank_runner.h"

namespace qpspread::workload {

struct AllReduceOptions {
  size_t bytes = 1 << 20;  // vector size per rank (rounded down to whole floats)
  int iterations = 5;
  int64_t timeout_ns = 60'000'000'000;  // the whole run
  // Called once, by rank 0, as the first iteration starts (all ranks past its barrier).
  std::function<void()> on_start;
};

// Throws qpspread::Error (fewer than 2 hosts, a namespace or interface missing, a rank stuck).
WorkloadReport run_allreduce(const std::vector<HostAddr>& hosts, const TransportOptions& opt,
                             const AllReduceOptions& ar);

}  // namespace qpspread::workload
