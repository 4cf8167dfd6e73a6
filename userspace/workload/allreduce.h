// Ring AllReduce over RC queue pairs, on real float data: reduce-scatter then all-gather,
// 2(N-1) steps; in each, a rank sends one chunk to its successor and waits for one from its
// predecessor. The result is checked against the exact sum.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "userspace/workload/rank_runner.h"

namespace qpspread::workload {

// bytes: the vector per rank (rounded down to whole floats).
struct AllReduceOptions : CollectiveOptions {};

// Throws qpspread::Error (fewer than 2 hosts, a namespace or interface missing, a rank stuck).
WorkloadReport run_allreduce(const std::vector<HostAddr>& hosts, const TransportOptions& opt,
                             const AllReduceOptions& ar);

}  // namespace qpspread::workload
