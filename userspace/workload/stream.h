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

// bytes: per receiver and iteration. With a duration (iperf's -t): rank 0 streams messages of
// `bytes` to every receiver for that long, one iteration, then an empty message ends the stream;
// the report's bytes are what the receivers got (the fewest of any), its time until the last was
// acknowledged (the drain of what was queued at the end included).
struct StreamOptions : CollectiveOptions {
  int64_t duration_ns = 0;
};

// Throws qpspread::Error (fewer than 2 hosts, a namespace or interface missing, a rank stuck).
WorkloadReport run_stream(const std::vector<HostAddr>& hosts, const TransportOptions& opt, const StreamOptions& so);

}  // namespace qpspread::workload
