#include "userspace/scenario/experiment_run.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/netns.h"
#include "common/percentile.h"
#include "loader/attach.h"
#include "loader/pinned_maps.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/lab/lab_state.h"
#include "userspace/lab/lab_wan.h"
#include "userspace/report/fairness.h"
#include "userspace/report/stats_report.h"
#include "userspace/scenario/balance.h"
#include "userspace/scenario/experiment_events.h"
#include "userspace/scenario/experiment_records.h"
#include "userspace/scenario/experiment_spec.h"
#include "userspace/scenario/wan_timeline.h"
#include "userspace/workload/allreduce.h"
#include "userspace/workload/param_server.h"
#include "userspace/workload/stream.h"

namespace qpspread::scenario {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The VNI's tx RoCEv2 bytes per uplink path and the PSN counters of its received QPs, in a leaf.
struct LeafCounters {
  std::map<std::pair<std::string, std::string>, uint64_t> path_bytes;  // (uplink, remote VTEP) -> bytes
  uint64_t reordered = 0, gaps = 0;
};

LeafCounters leaf_counters(const lab::ClabTopology& t, const std::string& leaf, uint32_t vni) {
  LeafCounters c;
  for (const auto& v : report::build_stats(Netns::open(t.netns(leaf)), vni).vnis) {
    if (v.vni != vni) continue;
    for (const auto& p : v.paths) c.path_bytes[{p.ifname, p.remote_vtep}] = p.tx.roce_bytes;
    for (const auto& q : v.qps) {
      c.reordered += q.reordered;
      c.gaps += q.gaps;
    }
  }
  return c;
}

struct Snapshot {
  std::map<std::string, uint64_t> wan;
  std::map<std::string, LeafCounters> leaves;
};

Snapshot snapshot(const lab::ClabTopology& t, const std::set<std::string>& leaves, uint32_t vni) {
  Snapshot s{wan_bytes(t), {}};
  for (const auto& l : leaves) s.leaves[l] = leaf_counters(t, l, vni);
  return s;
}

uint64_t delta(uint64_t after, uint64_t before) { return after > before ? after - before : 0; }

// The WAN link-directions' and the leaves' uplinks' shares and balance over the run into the
// record's links and metrics. The uplink balance is the mean over the leaves that sent anything.
void link_metrics(const Snapshot& before, const Snapshot& after, json& metrics, json& links) {
  std::vector<std::pair<std::string, uint64_t>> wan;
  for (const auto& [name, b] : after.wan) wan.emplace_back(name, delta(b, before.wan.at(name)));
  std::vector<uint64_t> wan_load;
  for (const auto& [n, b] : wan) wan_load.push_back(b);
  const auto wan_share = report::shares(wan_load);
  const report::Balance wb = report::uplink_balance(wan);
  for (size_t i = 0; i < wan.size(); i++) {
    const std::string& key = wan[i].first;  // "wan1 dc1-border1>dc2-border1"
    links.push_back({{"kind", "wan"}, {"link", key.substr(0, key.find(' '))}, {"direction", key.substr(key.find(' ') + 1)},
                     {"rocev2_bytes", wan[i].second}, {"share", wan_share[i]}});
  }
  double imb = 0, jain = 0;
  int sending = 0;
  uint64_t reordered = 0, gaps = 0;
  for (const auto& [leaf, a] : after.leaves) {
    const LeafCounters& b = before.leaves.at(leaf);
    std::vector<std::pair<std::string, uint64_t>> paths;
    std::map<std::string, uint64_t> per_uplink;
    for (const auto& [key, bytes] : a.path_bytes) {
      const auto prev = b.path_bytes.find(key);  // a VTEP first seen in this run starts at 0
      paths.emplace_back(key.first, delta(bytes, prev == b.path_bytes.end() ? 0 : prev->second));
      per_uplink[key.first] += paths.back().second;
    }
    std::vector<uint64_t> load;
    for (const auto& [ifn, by] : per_uplink) load.push_back(by);
    const auto share = report::shares(load);
    size_t i = 0;
    for (const auto& [ifn, by] : per_uplink)
      links.push_back({{"kind", "uplink"}, {"node", leaf}, {"ifname", ifn}, {"rocev2_bytes", by}, {"share", share[i++]}});
    const report::Balance ub = report::uplink_balance(paths);
    if (ub.jain > 0) {
      imb += ub.imbalance;
      jain += ub.jain;
      sending++;
    }
    reordered += delta(a.reordered, b.reordered);
    gaps += delta(a.gaps, b.gaps);
  }
  metrics["wan_imbalance"] = wb.imbalance;
  metrics["wan_jain"] = wb.jain;
  metrics["uplink_imbalance"] = sending ? imb / sending : 0.0;
  metrics["uplink_jain"] = sending ? jain / sending : 0.0;
  metrics["psn_reordered"] = reordered;
  metrics["psn_gaps"] = gaps;
}

workload::WorkloadReport run_collective(const RunConfig& c, const std::vector<workload::HostAddr>& hosts,
                                        uint32_t first_qpn, EventPlayer& events) {
  workload::TransportOptions t;
  t.qps = c.qps;
  t.first_qpn = first_qpn;
  t.gap_from_ns = events.first_event_ns();
  t.split = workload::parse_split_mode(c.split);
  t.sport = workload::parse_sport_model(c.sport);
  t.rate_bps = static_cast<double>(c.rate_bps);
  t.ack_timeout_ns = static_cast<int64_t>(c.ack_timeout_us) * 1000;
  t.cc = workload::parse_cc_mode(c.cc);
  workload::CollectiveOptions base;
  base.bytes = c.size;
  base.iterations = c.iterations;
  base.timeout_ns = 240'000'000'000;
  base.on_start = [&] { events.start(); };
  if (c.collective == "stream") {
    workload::StreamOptions so{base};
    so.duration_ns = static_cast<int64_t>(c.duration_us) * 1000;
    if (so.duration_ns) so.iterations = 1;
    return workload::run_stream(hosts, t, so);
  }
  if (c.collective == "ps") return workload::run_param_server(hosts, t, {base});
  return workload::run_allreduce(hosts, t, {base});
}

void workload_metrics(const workload::WorkloadReport& r, json& m) {
  std::vector<double> ms;
  for (double s : r.iteration_s) ms.push_back(1000 * s);
  const double p50 = percentile(ms, 50);
  uint64_t retx = 0, frames = 0, ce = 0, cnp = 0;
  for (const auto& q : r.qps) {
    retx += q.stats.retx_frames;
    frames += q.stats.tx_frames;
    ce += q.stats.ecn_ce_rx;
    cnp += q.stats.cnp_tx;
  }
  m["ecn_ce_rx"] = ce;
  m["cnp_tx"] = cnp;
  m["iteration_ms_p50"] = p50;
  m["iteration_ms_p99"] = percentile(ms, 99);
  m["iteration_ms_max"] = percentile(ms, 100);
  // NCCL's algorithm bandwidth, as `workload` reports it: the vector over the median iteration.
  m["algbw_bps"] = p50 > 0 ? static_cast<double>(r.bytes) * 8 / (p50 / 1000) : 0.0;
  m["retransmitted_frames"] = retx;
  m["frames"] = frames;
  m["correct"] = r.correct;
}

// The events' metrics: the longest delivery gap on any receiving host from the first event on,
// and BFD's detection of the first cut.
void event_metrics(const workload::WorkloadReport& r, const EventPlayer::Outcome& o, json& m) {
  m["interruption_ms"] = o.fired ? json(static_cast<double>(r.max_rx_gap_ns) / 1e6) : json();
  m["bfd_detect_ms"] = o.bfd_detect_ms ? json(*o.bfd_detect_ms) : json();
}

// The lab as the runs share it: opened once, attached, hosts picked per (VNI, ranks).
struct Bench {
  explicit Bench(lab::ClabTopology t) : lab(std::move(t)) {}
  // A lab deployed by containerlab stays up: an error or Ctrl-C that leaves BFD off switches it
  // back on (LabControl then detaches qpspread).
  ~Bench() {
    if (topo.runner != lab::Runner::Containerlab || bfd.on()) return;
    try {
      bfd.set(true, [](const std::string&) {});
    } catch (...) {
    }
  }
  LabControl lab;
  const lab::ClabTopology& topo = lab.topo();
  std::map<std::pair<uint32_t, int>, std::vector<workload::HostAddr>> hosts;
  std::map<uint32_t, std::unique_ptr<LabBalancer>> balancers;  // per VNI, once a run is in mode balance

  LabBalancer& balancer(uint32_t vni) {
    auto& b = balancers[vni];
    if (!b) b = std::make_unique<LabBalancer>(topo, vni);
    return *b;
  }
  BfdSwitch bfd{lab.topo()};

  const std::vector<workload::HostAddr>& hosts_for(const RunConfig& c) {
    auto& h = hosts[{c.vni, c.ranks}];
    if (h.empty()) h = ring_hosts(topo, c.vni, c.ranks);
    if (static_cast<int>(h.size()) != c.ranks)
      throw Error("the lab has " + std::to_string(h.size()) + " hosts of VNI " + std::to_string(c.vni) +
                  " for ranks " + std::to_string(c.ranks) + " (half in each data center); lower ranks");
    return h;
  }
};

// Mode balance during a run: the run's QPs (their QPNs are known before the first frame) placed
// at once, then a step every interval (and at once when a route changes) until the collective
// ends, on a thread of its own.
class BalanceRun {
 public:
  BalanceRun(LabBalancer& b, std::vector<LabBalancer::ExpectedQp> qps, uint64_t interval_us) : b_(b) {
    b_.expect(qps);
    take(b_.step());
    thread_ = std::thread([this, interval_us] {
      while (!stop_) {
        await_next_step(b_, static_cast<int64_t>(interval_us) * 1000, [this] { return stop_.load(); });
        if (!stop_) take(b_.step());
      }
    });
  }
  ~BalanceRun() { stop(); }
  // Joins the thread; the steps taken and the errors seen.
  json stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return {{"balance_steps", steps_}, {"balance_errors", errors_}, {"first", first_}, {"last", last_}, {"notes", notes_}};
  }

 private:
  // A step in short: per leaf and remote VTEP, the QPs per path of each stage ("dc1-leaf1 eth1 4,
  // eth2 4 | dc1-border1 wan1 4, wan2 4"), or the error.
  void take(const std::vector<LabBalancer::Step>& s) {
    steps_++;
    json j = json::object();
    for (const auto& x : s) {
      errors_ += !x.error.empty();
      if (!x.result) {
        j[x.node] = x.error;
        continue;
      }
      for (const auto& n : x.result->notes) notes_.push_back(x.node + ": " + n);
      for (const auto& g : x.result->groups) {
        std::string text;
        for (const auto& st : g.plan.stages) {
          text += (text.empty() ? "" : " | ") + st.name;
          for (const auto& [path, n] : st.count) text += " " + path + " " + std::to_string(n);
        }
        j[x.node + " -> " + g.remote] = text;
      }
    }
    (steps_ == 1 ? first_ : last_) = std::move(j);
  }
  json first_, last_;
  json notes_ = json::array();
  LabBalancer& b_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  int steps_ = 0, errors_ = 0;
};

// A run with events: every WAN link-direction's RoCEv2 bytes and the leaves' reordered frames every
// 100 ms from the events' start, on a thread of its own, until the collective ends.
class TimelineRun {
 public:
  TimelineRun(const lab::ClabTopology& t, std::set<std::string> leaves, uint32_t vni) : t0_(Clock::now()) {
    thread_ = std::thread([this, &t, leaves = std::move(leaves), vni] {
      while (!stop_) {
        const auto next = Clock::now() + std::chrono::milliseconds(100);
        try {
          const auto bytes = wan_bytes(t);
          uint64_t reordered = 0;
          for (const auto& l : leaves) reordered += leaf_counters(t, l, vni).reordered;
          tl_.t_ms.push_back(1000 * since(t0_));
          for (const auto& [name, b] : bytes) tl_.bytes[name].push_back(b);
          tl_.reordered.push_back(reordered);
        } catch (const Error&) {
          // a border restarting (a node event): this sample is missing
        }
        while (!stop_ && Clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  ~TimelineRun() { stop(); }
  const WanTimeline& stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return tl_;
  }

 private:
  Clock::time_point t0_;
  WanTimeline tl_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The QPs of a run, by the leaf that sends each and the leaf it goes to: on host r the k-th QP to
// peer p has QPN qpn_base(r) + p K + k and receives what p's host sends (rc_host.h).
std::vector<LabBalancer::ExpectedQp> run_qps(const lab::ClabTopology& t, const RunConfig& c,
                                             const std::vector<workload::HostAddr>& hosts, uint32_t first_qpn) {
  std::vector<LabBalancer::ExpectedQp> out;
  const int n = static_cast<int>(hosts.size());
  for (int r = 0; r < n; r++)
    for (int p = 0; p < n; p++) {
      if (p == r) continue;
      for (int k = 0; k < c.qps; k++)
        out.push_back({workload::qpn_base(r, n, c.qps, first_qpn) + static_cast<uint32_t>(p * c.qps + k),
                       leaf_of_host(t, hosts[static_cast<size_t>(p)], c.vni),
                       leaf_of_host(t, hosts[static_cast<size_t>(r)], c.vni)});
    }
  return out;
}

// One run on the running lab: its settings, the collective with its events, the counters around
// it; then the lab is put back as it was (links up, nodes started, converged) for the next run.
json measure(Bench& b, const RunConfig& c, uint64_t seed, const Progress& say) {
  b.bfd.set(c.bfd, say);
  b.lab.set_wan(c.wan);
  const qps_vni_cfg mode{static_cast<qps_mode>(*parse_mode(c.mode)), QPS_DEFAULT_FLOWLET_GAP_US, 0};
  for (const auto& n : b.topo.nodes)
    if (role(n) == "leaf") set_mode(Netns::open(b.topo.netns(n.name)), c.vni, mode);
  const auto& hosts = b.hosts_for(c);
  std::set<std::string> leaves;
  for (const auto& h : hosts) leaves.insert(leaf_of_host(b.topo, h, c.vni));
  const uint32_t first_qpn = workload::first_qpn_for_seed(seed, c.ranks, c.qps);
  const Snapshot before = snapshot(b.topo, leaves, c.vni);
  std::optional<BalanceRun> balancing;
  if (c.mode == "balance") balancing.emplace(b.balancer(c.vni), run_qps(b.topo, c, hosts, first_qpn), c.balance_interval_us);
  std::optional<TimelineRun> timeline;
  if (!c.events.empty()) timeline.emplace(b.topo, leaves, c.vni);
  EventPlayer events(b.lab, c.events, c.bfd);
  workload::WorkloadReport r;
  std::exception_ptr failed;
  const auto tc = Clock::now();
  try {
    r = run_collective(c, hosts, first_qpn, events);
  } catch (...) {
    failed = std::current_exception();
  }
  const double collective_s = since(tc);
  const json balance_steps = balancing ? balancing->stop() : json();
  const WanTimeline wan_timeline = timeline ? timeline->stop() : WanTimeline{};
  const EventPlayer::Outcome o = events.finish();
  if (interrupted()) throw Error("interrupted");
  restore_lab(b.lab, o, b.bfd, say);
  if (failed) std::rethrow_exception(failed);
  if (!o.errors.empty()) throw Error("an event failed: " + o.errors.front());
  const Snapshot after = snapshot(b.topo, leaves, c.vni);
  json out = {{"qpn_base", first_qpn}, {"metrics", json::object()}, {"links", json::array()}};
  link_metrics(before, after, out["metrics"], out["links"]);
  workload_metrics(r, out["metrics"]);
  event_metrics(r, o, out["metrics"]);
  const TimelineMetrics tm = timeline_metrics(wan_timeline, c.events, 1000, 1.05);
  out["metrics"]["wan_cut_quiet_ms"] = tm.cut_quiet_ms ? json(*tm.cut_quiet_ms) : json();
  out["metrics"]["wan_rebalanced_ms"] = tm.rebalanced_ms ? json(*tm.rebalanced_ms) : json();
  out["metrics"]["wan_back_ms"] = tm.back_ms ? json(*tm.back_ms) : json();
  out["metrics"]["psn_reordered_after_back"] = tm.reordered_after_back ? json(*tm.reordered_after_back) : json();
  if (timeline) out["timeline"] = to_json(wan_timeline);
  out["metrics"]["collective_s"] = collective_s;
  if (balancing) out["balance"] = balance_steps;
  out["iteration_ms"] = json::array();
  for (double s : r.iteration_s) out["iteration_ms"].push_back(1000 * s);
  if (o.fired < static_cast<int>(c.events.size()))
    say("  " + std::to_string(c.events.size() - static_cast<size_t>(o.fired)) + " of " +
        std::to_string(c.events.size()) + " events came after the collective's end and were not fired");
  return out;
}

std::string eta_text(double s) {
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

// The time left: each run still to do takes what the finished repeats of its point took on
// average, else its part's runs (a resilience run takes far longer than a spread run), else all
// finished runs.
class Eta {
 public:
  Eta(const ExperimentSpec& spec, const std::vector<const ExperimentRun*>& todo) {
    for (const ExperimentRun* r : todo) runs_.push_back({r->point, spec.points[static_cast<size_t>(r->point)].part});
  }
  void done(size_t i, double seconds) {
    add(by_point_[runs_[i].first], seconds);
    add(by_part_[runs_[i].second], seconds);
    add(all_, seconds);
  }
  double remaining(size_t i) const {
    double left = 0;
    for (size_t j = i + 1; j < runs_.size(); j++) {
      const auto pt = by_point_.find(runs_[j].first);
      const auto pa = by_part_.find(runs_[j].second);
      left += pt != by_point_.end() ? mean(pt->second) : pa != by_part_.end() ? mean(pa->second) : mean(all_);
    }
    return left;
  }

 private:
  using Sum = std::pair<double, int>;
  static void add(Sum& s, double v) {
    s.first += v;
    s.second++;
  }
  static double mean(const Sum& s) { return s.second ? s.first / s.second : 0; }
  std::vector<std::pair<int, std::string>> runs_;  // point, part
  std::map<int, Sum> by_point_;
  std::map<std::string, Sum> by_part_;
  Sum all_{0, 0};
};

std::string label_text(const ExperimentPoint& p) {
  std::string out = p.part.empty() ? "" : " [" + p.part + "]";
  for (const auto& l : p.label) out += " " + l;
  return out;
}

}  // namespace

ExperimentSummary run_experiment(const ExperimentOptions& o, const Progress& say) {
  return run_experiment(load_experiment_spec(o.spec), o, say);
}

ExperimentSummary run_experiment(const ExperimentSpec& spec, const ExperimentOptions& o, const Progress& say,
                                 const RunObserver& after_run) {
  install_interrupt_handler();
  const auto t0 = Clock::now();
  lab::ClabTopology topo = lab::load_clab(spec.topology);
  if (!spec.lab.empty()) topo.name = spec.lab;
  topo.runner = spec.runner == "containerlab" ? lab::Runner::Containerlab : lab::Runner::Qpspread;
  Bench bench(std::move(topo));
  ExperimentSummary sum;
  sum.out = o.out.empty() ? std::filesystem::path("results") / spec.name : o.out;
  if (o.replace)
    for (const char* f : {"runs.jsonl", "runs.csv"}) std::filesystem::remove(sum.out / f);
  RunRecords records(sum.out, o.resume);
  write_file(sum.out / "spec.yml", spec.text);
  const json versions = versions_json();
  json meta = {{"command", o.command_line}, {"spec", spec.file.string()}, {"versions", versions},
               {"started", utc_now_iso()}, {"ended", nullptr}};
  write_file(sum.out / "meta.json", meta.dump(2) + "\n");
  std::vector<const ExperimentRun*> todo;
  for (const auto& r : spec.runs)
    if (!records.finished(r.run_id)) todo.push_back(&r);
  sum.runs = static_cast<int>(spec.runs.size());
  sum.skipped = sum.runs - static_cast<int>(todo.size());
  if (sum.skipped) say("resuming: " + std::to_string(sum.skipped) + " of " + std::to_string(sum.runs) + " runs already recorded");
  if (!todo.empty()) {
    sum.lab_up_s = bench.lab.open(say);
    Eta eta(spec, todo);
    for (size_t i = 0; i < todo.size(); i++) {
      throw_if_interrupted();
      const ExperimentRun& run = *todo[i];
      const ExperimentPoint& point = spec.points[static_cast<size_t>(run.point)];
      const std::string head = "[" + std::to_string(i + 1) + "/" + std::to_string(todo.size()) + "] " + run.run_id + label_text(point);
      say(head + " ...");
      json rec = {{"run_id", run.run_id}, {"point", run.point}, {"repeat", run.repeat}, {"seed", run.seed},
                  {"status", "ok"}, {"config", config_json(spec, point)}, {"versions", versions},
                  {"started", utc_now_iso()}};
      const auto ts = Clock::now();
      try {
        rec.update(measure(bench, point.config, run.seed, say));
      } catch (const std::exception& e) {
        if (interrupted()) throw;  // not recorded: --resume runs it again
        rec["status"] = "failed";
        rec["error"] = e.what();
      }
      rec["seconds"] = since(ts);
      records.append(rec);
      (rec["status"] == "ok" ? sum.ok : sum.failed)++;
      eta.done(i, rec["seconds"].get<double>());
      say(head + " " + rec["status"].get<std::string>() + " " + seconds_text(rec["seconds"].get<double>()) +
          " s, ETA " + eta_text(eta.remaining(i)) + (rec.contains("error") ? ": " + rec["error"].get<std::string>() : ""));
      if (after_run) after_run(run, rec);
    }
    if (bench.topo.runner == lab::Runner::Containerlab && !o.keep_lab) bench.bfd.set(true, say);  // as deployed
    bench.lab.close(say, o.keep_lab);
    if (o.keep_lab)
      say("lab " + bench.topo.name + " left as the last run set it (--keep-lab)" +
          (bench.topo.runner == lab::Runner::Qpspread ? "; take it down with: qpspread lab down --name " + bench.topo.name
                                                      : std::string()));
  }
  sum.seconds = since(t0);
  meta["ended"] = utc_now_iso();
  meta["runs"] = {{"total", sum.runs}, {"skipped", sum.skipped}, {"ok", sum.ok}, {"failed", sum.failed}};
  write_file(sum.out / "meta.json", meta.dump(2) + "\n");
  return sum;
}

}  // namespace qpspread::scenario
