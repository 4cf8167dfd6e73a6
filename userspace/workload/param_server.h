// Parameter-server traffic over RC queue pairs: W workers push a gradient shard to each of P
// servers; each server waits for all workers, sums, and sends the aggregate back to every
// worker, which checks it against the exact sum. Incast at the servers, then fan-out.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "userspace/workload/rank_runner.h"

namespace qpspread::workload {

// bytes: the whole parameter vector, sharded over the servers.
struct ParamServerOptions : CollectiveOptions {
  int servers = 1;  // the first `servers` hosts; the rest are workers
};

// Throws qpspread::Error (no worker or server, a namespace or interface missing, a rank stuck).
WorkloadReport run_param_server(const std::vector<HostAddr>& hosts, const TransportOptions& opt,
                                const ParamServerOptions& ps);

}  // namespace qpspread::workload
