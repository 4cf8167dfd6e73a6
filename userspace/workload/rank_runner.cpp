#include "userspace/workload/rank_runner.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/netns.h"

namespace qpspread::workload {

void ProgressBarrier::wait(RcHost& host, int64_t deadline_ns) {
  const uint64_t gen = generation_.load();
  if (arrived_.fetch_add(1) + 1 == n_) {
    arrived_ = 0;
    generation_++;
    return;
  }
  while (generation_.load() == gen) {
    if (interrupted()) throw Error("interrupted");
    if (aborted_) throw Error("rank " + std::to_string(host.rank()) + ": stopped, another rank failed");
    if (mono_ns() > deadline_ns)
      throw Error("rank " + std::to_string(host.rank()) + ": other ranks did not arrive in time");
    host.progress(200'000);
  }
}

namespace {

struct RankResult {
  RankTimes times;
  std::vector<QpReport> qps;
  std::vector<int64_t> latency_ns;
  int64_t max_rx_gap_ns = 0;
  std::exception_ptr error;
};

void run_rank(int rank, const Netns& ns, const std::vector<HostAddr>& hosts,
              const TransportOptions& opt, int64_t deadline, const RankBody& body,
              ProgressBarrier& barrier, RankResult& out) {
  try {
    // This thread alone enters the namespace (as Netns::run does); its sockets stay there.
    ns.enter();
    RcHost host(rank, hosts, opt);
    body(host, barrier, out.times);
    host.flush(deadline);
    // Until every rank is done: a rank whose own sends are acknowledged may still owe ACKs.
    barrier.wait(host, deadline);
    for (const auto& q : host.qps())
      out.qps.push_back({rank, q.peer, q.index, q.qp->config().local_qpn, q.qp->config().sport,
                         q.qp->stats()});
    out.latency_ns = host.take_latencies();
    out.max_rx_gap_ns = host.max_rx_gap_ns();
  } catch (...) {
    out.error = std::current_exception();
    barrier.abort();
  }
}

}  // namespace

WorkloadReport run_ranks(const std::vector<HostAddr>& hosts, const TransportOptions& opt,
                         int64_t timeout_ns, const RankBody& body) {
  if (hosts.size() < 2) throw Error("a workload needs at least 2 hosts");
  std::vector<Netns> namespaces;
  for (const auto& h : hosts) namespaces.push_back(Netns::open(h.netns));
  const int n = static_cast<int>(hosts.size());
  ProgressBarrier barrier(n);
  std::vector<RankResult> results(hosts.size());
  const int64_t deadline = mono_ns() + timeout_ns;
  std::vector<std::thread> threads;
  for (int r = 0; r < n; r++)
    threads.emplace_back(run_rank, r, std::cref(namespaces[static_cast<size_t>(r)]),
                         std::cref(hosts), std::cref(opt), deadline, std::cref(body),
                         std::ref(barrier), std::ref(results[static_cast<size_t>(r)]));
  for (auto& t : threads) t.join();
  for (const auto& r : results)
    if (r.error) std::rethrow_exception(r.error);
  WorkloadReport rep;
  rep.ranks = n;
  for (const auto& r : results) {
    const auto& it = r.times.iteration_s;
    if (rep.iteration_s.size() < it.size()) rep.iteration_s.resize(it.size(), 0);
    for (size_t i = 0; i < it.size(); i++) rep.iteration_s[i] = std::max(rep.iteration_s[i], it[i]);
    rep.correct = rep.correct && r.times.correct;
    rep.qps.insert(rep.qps.end(), r.qps.begin(), r.qps.end());
    rep.latency_ns.insert(rep.latency_ns.end(), r.latency_ns.begin(), r.latency_ns.end());
    rep.max_rx_gap_ns = std::max(rep.max_rx_gap_ns, r.max_rx_gap_ns);
  }
  return rep;
}

}  // namespace qpspread::workload
