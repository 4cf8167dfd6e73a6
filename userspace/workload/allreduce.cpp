#include "userspace/workload/allreduce.h"

#include "common/error.h"
#include "userspace/workload/collective_data.h"

namespace qpspread::workload {
namespace {

// One iteration on rank r of n; returns whether the result is the exact sum.
bool ring_allreduce(RcHost& host, int n, int iteration, size_t elems, int64_t deadline) {
  const int r = host.rank();
  const int next = (r + 1) % n, prev = (r + n - 1) % n;
  std::vector<float> data(elems), incoming;
  for (size_t i = 0; i < elems; i++) data[i] = contribution(r, iteration, i);
  auto chunk = [&](int c) { return chunk_range(elems, n, ((c % n) + n) % n); };
  auto span_of = [&](int c) {
    const auto [b, e] = chunk(c);
    return std::span<float>(data.data() + b, e - b);
  };
  // Reduce-scatter: after step s, chunk r-s-1 holds the sum of s+2 ranks; after N-1 steps
  // rank r owns the full sum of chunk r+1.
  for (int s = 0; s < n - 1; s++) {
    host.send(next, floats_to_bytes(span_of(r - s)));
    const std::span<float> dst = span_of(r - s - 1);
    incoming.resize(dst.size());
    if (!bytes_to_floats(host.recv(prev, deadline), incoming))
      throw Error("rank " + std::to_string(r) + ": reduce-scatter chunk of the wrong size");
    for (size_t i = 0; i < dst.size(); i++) dst[i] += incoming[i];
  }
  // All-gather: pass the finished chunks around the ring.
  for (int s = 0; s < n - 1; s++) {
    host.send(next, floats_to_bytes(span_of(r + 1 - s)));
    if (!bytes_to_floats(host.recv(prev, deadline), span_of(r - s)))
      throw Error("rank " + std::to_string(r) + ": all-gather chunk of the wrong size");
  }
  for (size_t i = 0; i < elems; i++) {
    float want = 0;
    for (int k = 0; k < n; k++) want += contribution(k, iteration, i);
    if (data[i] != want) return false;
  }
  return true;
}

}  // namespace

WorkloadReport run_allreduce(const std::vector<HostAddr>& hosts, const TransportOptions& opt,
                             const AllReduceOptions& ar) {
  const int n = static_cast<int>(hosts.size());
  const size_t elems = ar.bytes / sizeof(float);
  if (elems < static_cast<size_t>(n))
    throw Error("AllReduce size of " + std::to_string(ar.bytes) + " bytes gives ranks no data; use at least " +
                std::to_string(n * 4) + " bytes");
  const int64_t deadline = mono_ns() + ar.timeout_ns;
  WorkloadReport rep = run_ranks(hosts, opt, ar.timeout_ns, [&](RcHost& host, ProgressBarrier& barrier, RankTimes& t) {
    for (int it = 0; it < ar.iterations; it++) {
      barrier.wait(host, deadline);  // iterations start together, as in a training step
      const int64_t t0 = mono_ns();
      if (it == 0 && host.rank() == 0 && ar.on_start) ar.on_start();
      const bool ok = ring_allreduce(host, n, it, elems, deadline);
      t.iteration_s.push_back(static_cast<double>(mono_ns() - t0) / 1e9);
      t.correct = t.correct && ok;
    }
  });
  rep.algorithm = "allreduce";
  rep.bytes = elems * sizeof(float);
  return rep;
}

}  // namespace qpspread::workload
