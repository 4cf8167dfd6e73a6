#include "userspace/workload/stream.h"

#include <algorithm>

#include "common/error.h"
#include "common/interrupt.h"

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

// Messages posted ahead per QP: at least one unsent, so no QP idles while the next is posted, and at
// most a few, so the drain after the duration stays short.
constexpr size_t kAheadLeast = 2, kAheadMost = 4;

// Rank 0's side of a timed stream: keeps every receiver's QPs fed until `end`, then ends the stream.
// Returns the messages posted per receiver.
std::vector<size_t> feed_until(RcHost& host, int n, size_t bytes, int64_t end, int64_t deadline) {
  std::vector<size_t> posted(static_cast<size_t>(n), 0);
  for (int64_t now = mono_ns(); now < end; now = mono_ns()) {
    if (interrupted()) throw Error("interrupted");
    if (now > deadline) throw Error("rank 0: the stream did not end before the deadline");
    for (int r = 1; r < n; r++) {
      const RcHost::Backlog b = host.send_backlog(r);
      if (b.least < kAheadLeast && b.most < kAheadMost) {
        host.send(r, payload(r, static_cast<int>(posted[static_cast<size_t>(r)]), bytes));
        posted[static_cast<size_t>(r)]++;
      }
    }
    host.progress(std::min<int64_t>(end - now, 1'000'000));
  }
  for (int r = 1; r < n; r++) host.send(r, {});  // the end of the stream
  return posted;
}

}  // namespace

WorkloadReport run_stream(const std::vector<HostAddr>& hosts, const TransportOptions& opt, const StreamOptions& so) {
  const int n = static_cast<int>(hosts.size());
  if (n < 2) throw Error("a stream needs a sender and at least one receiver (2 hosts or more)");
  if (so.duration_ns > 0 && so.iterations != 1) throw Error("a timed stream runs once: iterations must be 1");
  if (so.duration_ns > 0 && so.bytes == 0) throw Error("a timed stream needs a message size above 0");
  const int64_t timeout = so.timeout_ns + so.duration_ns;
  const int64_t deadline = mono_ns() + timeout;
  std::vector<size_t> got(static_cast<size_t>(n), SIZE_MAX);  // bytes per receiver (timed)
  WorkloadReport rep = run_ranks(hosts, opt, timeout, [&](RcHost& host, ProgressBarrier& barrier, RankTimes& t) {
    for (int it = 0; it < so.iterations; it++) {
      barrier.wait(host, deadline);
      const int64_t t0 = mono_ns();
      if (it == 0 && host.rank() == 0 && so.on_start) so.on_start();
      if (host.rank() == 0) {
        if (so.duration_ns > 0) feed_until(host, n, so.bytes, t0 + so.duration_ns, deadline);
        else for (int r = 1; r < n; r++) host.send(r, payload(r, it, so.bytes));
        host.flush(deadline);  // the iteration ends when everything sent is acknowledged
      } else if (so.duration_ns > 0) {
        size_t bytes = 0;
        for (int k = 0;; k++) {
          const std::vector<uint8_t> m = host.recv(0, deadline);
          if (m.empty()) break;
          t.correct = m == payload(host.rank(), k, so.bytes) && t.correct;
          bytes += m.size();
        }
        got[static_cast<size_t>(host.rank())] = bytes;
      } else {
        t.correct = host.recv(0, deadline) == payload(host.rank(), it, so.bytes) && t.correct;
      }
      t.iteration_s.push_back(static_cast<double>(mono_ns() - t0) / 1e9);
    }
  });
  rep.algorithm = "stream";
  rep.bytes = so.duration_ns > 0 ? *std::min_element(got.begin() + 1, got.end()) : so.bytes;
  return rep;
}

}  // namespace qpspread::workload
