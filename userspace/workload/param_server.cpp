#include "userspace/workload/param_server.h"

#include "common/error.h"
#include "userspace/workload/collective_data.h"

namespace qpspread::workload {
namespace {

void serve(RcHost& host, int servers, int ranks, size_t elems, int64_t deadline) {
  const auto [b, e] = chunk_range(elems, servers, host.rank());
  std::vector<float> sum(e - b, 0), grad(e - b);
  for (int w = servers; w < ranks; w++) {
    if (!bytes_to_floats(host.recv(w, deadline), grad))
      throw Error("server " + std::to_string(host.rank()) + ": gradient of the wrong size");
    for (size_t i = 0; i < sum.size(); i++) sum[i] += grad[i];
  }
  for (int w = servers; w < ranks; w++) host.send(w, floats_to_bytes(sum));
}

// Returns whether every aggregate matched the exact sum of all workers' gradients.
bool work(RcHost& host, int servers, int ranks, int iteration, size_t elems, int64_t deadline) {
  const int worker = host.rank() - servers;
  for (int s = 0; s < servers; s++) {
    const auto [b, e] = chunk_range(elems, servers, s);
    std::vector<float> grad(e - b);
    for (size_t i = b; i < e; i++) grad[i - b] = contribution(worker, iteration, i);
    host.send(s, floats_to_bytes(grad));
  }
  bool ok = true;
  for (int s = 0; s < servers; s++) {
    const auto [b, e] = chunk_range(elems, servers, s);
    std::vector<float> params(e - b);
    if (!bytes_to_floats(host.recv(s, deadline), params)) return false;
    for (size_t i = b; i < e; i++) {
      float want = 0;
      for (int w = 0; w < ranks - servers; w++) want += contribution(w, iteration, i);
      ok = ok && params[i - b] == want;
    }
  }
  return ok;
}

}  // namespace

WorkloadReport run_param_server(const std::vector<HostAddr>& hosts, const TransportOptions& opt,
                                const ParamServerOptions& ps) {
  const int n = static_cast<int>(hosts.size());
  if (ps.servers < 1 || ps.servers >= n)
    throw Error("parameter server needs 1..hosts-1 servers (got " + std::to_string(ps.servers) +
                " of " + std::to_string(n) + " hosts): the first hosts serve, the rest work");
  const size_t elems = ps.bytes / sizeof(float);
  if (elems < static_cast<size_t>(ps.servers))
    throw Error("parameter vector of " + std::to_string(ps.bytes) + " bytes is smaller than one float per server");
  const int64_t deadline = mono_ns() + ps.timeout_ns;
  WorkloadReport rep = run_ranks(hosts, opt, ps.timeout_ns, [&](RcHost& host, ProgressBarrier& barrier, RankTimes& t) {
    for (int it = 0; it < ps.iterations; it++) {
      barrier.wait(host, deadline);
      const int64_t t0 = mono_ns();
      if (it == 0 && host.rank() == 0 && ps.on_start) ps.on_start();
      if (host.rank() < ps.servers)
        serve(host, ps.servers, n, elems, deadline);
      else
        t.correct = work(host, ps.servers, n, it, elems, deadline) && t.correct;
      t.iteration_s.push_back(static_cast<double>(mono_ns() - t0) / 1e9);
    }
  });
  rep.algorithm = "ps";
  rep.bytes = elems * sizeof(float);
  return rep;
}

}  // namespace qpspread::workload
