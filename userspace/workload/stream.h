// One-way bulk transfer over RC queue pairs: rank 0 sends `bytes` to every other rank each
// iteration, the receivers check every byte. No reply traffic but the RC ACKs: the clean case
// for a bottleneck's throughput, congestion control and goodput (a collective's reverse traffic
// would share the queues).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "userspace/workload/rank_runner.h"

namespace qpspread::workload {

// bytes: per receiver and iteration.
struct StreamOptions : CollectiveOptions {};

// Throws qpspread::Error (fewer than 2 hosts, a namespace or interface missing, a rank stuck).
WorkloadReport run_stream(const std::vector<HostAddr>& hosts, const TransportOptions& opt, const StreamOptions& so);

}  // namespace qpspread::workload
