#include "userspace/workload/stream.h"

#include "common/error.h"

namespace qpspread::workload {
namespace {

uint8_t pattern(int receiver, int iteration, size_t i) {
  return static_cast<uint8_t>(i * 131 + static_cast<size_t>(receiver) * 7 + static_cast<size_t>(iteration) * 13);
}

std::vector<uint8_t> payload(int receiver, int iteration, size_t bytes) {
  std::vector<uint8_t> m(bytes);
  for (size_t i = 0; i < bytes; i++) m[i] = pattern(receiver, iteration, i);
  return m;
}

}  // namespace

WorkloadReport run_stream(const std::vector<HostAddr>& hosts, const TransportOptions& opt, const StreamOptions& so) {
  const int n = static_cast<int>(hosts.size());
  if (n < 2) throw Error("a stream needs a sender and at least one receiver (2 hosts or more)");
  const int64_t deadline = mono_ns() + so.timeout_ns;
  WorkloadReport rep = run_ranks(hosts, opt, so.timeout_ns, [&](RcHost& host, ProgressBarrier& barrier, RankTimes& t) {
    for (int it = 0; it < so.iterations; it++) {
      barrier.wait(host, deadline);
      const int64_t t0 = mono_ns();
      if (it == 0 && host.rank() == 0 && so.on_start) so.on_start();
      if (host.rank() == 0) {
        for (int r = 1; r < n; r++) host.send(r, payload(r, it, so.bytes));
        host.flush(deadline);  // the iteration ends when everything sent is acknowledged
      } else {
        t.correct = host.recv(0, deadline) == payload(host.rank(), it, so.bytes) && t.correct;
      }
      t.iteration_s.push_back(static_cast<double>(mono_ns() - t0) / 1e9);
    }
  });
  rep.algorithm = "stream";
  rep.bytes = so.bytes;
  return rep;
}

}  // namespace qpspread::workload
