#include "userspace/scenario/demo.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/percentile.h"
#include "common/units.h"
#include "loader/attach.h"
#include "userspace/lab/clab_file.h"
#include "userspace/lab/host_resolve.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/lab/lab_state.h"
#include "userspace/lab/lab_wan.h"
#include "userspace/report/fairness.h"
#include "userspace/report/top_frame.h"
#include "userspace/scenario/lab_session.h"
#include "userspace/workload/allreduce.h"

namespace qpspread::scenario {
namespace {

using nlohmann::json;

// One mode's result: the WAN links' shares and balance (the rule of stats and top, each link
// direction an uplink), iteration times, correctness, retransmissions.
json mode_result(const workload::WorkloadReport& r, const std::map<std::string, uint64_t>& before,
                 const std::map<std::string, uint64_t>& after) {
  std::vector<uint64_t> load;
  std::vector<std::pair<std::string, uint64_t>> link_load;
  for (const auto& [name, b] : after) {
    load.push_back(b - before.at(name));
    link_load.emplace_back(name, load.back());
  }
  const std::vector<double> share = report::shares(load);
  const report::Balance balance = report::uplink_balance(link_load);
  json links = json::array();
  for (size_t i = 0; i < link_load.size(); i++)
    links.push_back({{"link", link_load[i].first}, {"rocev2_bytes", load[i]}, {"share", share[i]}});
  std::vector<double> ms;
  for (double s : r.iteration_s) ms.push_back(1000 * s);
  uint64_t retx = 0, frames = 0;
  for (const auto& q : r.qps) {
    retx += q.stats.retx_frames;
    frames += q.stats.tx_frames;
  }
  return {{"wan_links", links}, {"imbalance", balance.imbalance}, {"jain", balance.jain},
          {"iteration_ms_p50", percentile(ms, 50)}, {"iteration_ms_p99", percentile(ms, 99)},
          {"iteration_ms", ms}, {"correct", r.correct}, {"frames", frames}, {"retransmitted_frames", retx}};
}

json workload_json(const DemoOptions& o, size_t ranks) {
  return {{"algorithm", "ring allreduce"}, {"ranks", ranks}, {"bytes", o.size}, {"qps", o.qps},
          {"iterations", o.iterations}, {"rate_mbit_per_host", static_cast<double>(o.rate_bps) / 1e6},
          {"rate", format_rate_bps(o.rate_bps)}, {"sport", "fixed"}, {"wan_rate", format_rate_bps(o.wan_rate_bps)},
          {"vni", o.vni}};
}

// Both modes on the running lab, one after the other, into r.
void run_modes(const DemoOptions& o, const lab::ClabTopology& t, const std::vector<workload::HostAddr>& hosts,
               const Progress& say, DemoResult& res) {
  workload::TransportOptions topt;
  topt.qps = o.qps;
  topt.split = workload::SplitMode::Split;
  topt.sport = workload::SportModel::Fixed;
  topt.rate_bps = static_cast<double>(o.rate_bps);
  workload::AllReduceOptions ar;
  ar.bytes = o.size;
  ar.iterations = o.iterations;
  ar.timeout_ns = 240'000'000'000;
  const Netns leaf = Netns::open(t.netns(res.doc["stats_leaf"].get<std::string>()));
  for (uint32_t mode : {static_cast<uint32_t>(QPS_MODE_OFF), static_cast<uint32_t>(QPS_MODE_QP_HASH)}) {
    for (const auto& n : t.nodes)
      if (role(n) == "leaf") set_mode(Netns::open(t.netns(n.name)), o.vni, mode);
    say(std::string("mode ") + mode_name(mode) + ": AllReduce of " + human_bytes(o.size) + " per rank over " +
        std::to_string(hosts.size()) + " hosts, " + std::to_string(o.iterations) + " iterations");
    throw_if_interrupted();
    const auto before = wan_bytes(t);
    const report::StatsReport stats_before = report::build_stats(leaf, o.vni);
    const auto ts = std::chrono::steady_clock::now();
    const workload::WorkloadReport r = workload::run_allreduce(hosts, topt, ar);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
    json m = mode_result(r, before, wan_bytes(t));
    say(std::string("mode ") + mode_name(mode) + ": iteration p50 " +
        std::to_string(static_cast<int>(m["iteration_ms_p50"].get<double>())) + " ms, WAN imbalance " +
        std::to_string(m["imbalance"].get<double>()).substr(0, 4));
    res.doc["modes"][mode_name(mode)] = std::move(m);
    if (mode == QPS_MODE_QP_HASH) {
      res.qp_hash_stats = report::build_stats(leaf, o.vni);
      res.doc["qp_hash_stats"] = report::to_json(res.qp_hash_stats);
      res.doc["qp_hash_top"] = report::top_frame(stats_before, res.qp_hash_stats, elapsed, 5);
      res.doc["qp_hash_top"]["interval"] = elapsed;
    }
  }
}

void write_result(const DemoOptions& o, DemoResult& res) {
  if (o.out.empty()) return;
  const std::filesystem::path out(o.out);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  std::ofstream f(out);
  f << res.doc.dump(2) << "\n";
  if (!f) throw Error("cannot write the demo's result to " + o.out + "; pass --out with a writable path");
  res.written = o.out;
}

}  // namespace

DemoResult run_demo(const DemoOptions& o, const Progress& say) {
  install_interrupt_handler();
  const auto t0 = std::chrono::steady_clock::now();
  lab::ClabTopology t = lab::load_clab(o.topo);
  t.name = o.lab;
  say("bringing up lab " + t.name + " from " + o.topo + ": " + std::to_string(t.nodes.size()) + " nodes, FRR, BGP/EVPN/BFD");
  LabGuard guard{t.name};
  const json up = lab::lab_up(t, {60, say});
  if (!up["converged"].get<bool>()) throw Error("the lab did not converge: " + up["not_converged"].dump());
  throw_if_interrupted();
  auto st = lab::LabState::load(t.name);
  wan::ImpairmentChange cap;
  cap.rate_bps = o.wan_rate_bps;
  for (const auto& l : t.links)
    if (l.wan) lab::wan_impair(*st, l, cap);
  say("WAN links capped at " + format_rate_bps(o.wan_rate_bps) + " each");
  attach_all(t, say);
  const std::vector<workload::HostAddr> hosts = ring_hosts(t, o.vni, o.ranks);
  DemoResult res;
  res.doc = {{"lab", t.name}, {"lab_up_s", up["seconds"]}, {"modes", json::object()},
             {"stats_leaf", leaf_of_host(t, hosts.front(), o.vni)}, {"workload", workload_json(o, hosts.size())}};
  run_modes(o, t, hosts, say, res);
  say("tearing the lab down");
  lab::lab_down(t.name);
  res.doc["total_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_result(o, res);
  return res;
}

}  // namespace qpspread::scenario
