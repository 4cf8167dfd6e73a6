// demo: the main job. Brings up the default multi-DC lab (lab/scaleacross.clab.yml) without Docker,
// caps both WAN links' rate, attaches qpspread to every leaf (and, to count per WAN link, to the
// borders' WAN interfaces), runs a cross-DC ring AllReduce between the four hosts of one VNI with
// the mode off and then qp-hash, prints both side by side (WAN shares, imbalance, Jain's index,
// iteration time), writes results/demo.json and tears the lab down, also on Ctrl-C.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/percentile.h"
#include "loader/attach.h"
#include "userspace/cli/commands.h"
#include "userspace/lab/clab_file.h"
#include "userspace/lab/host_resolve.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/lab/lab_state.h"
#include "userspace/lab/lab_wan.h"
#include "userspace/report/fairness.h"
#include "userspace/report/stats_report.h"
#include "userspace/report/top_frame.h"
#include "userspace/workload/allreduce.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;
using Progress = std::function<void(const std::string&)>;

struct DemoOptions {
  std::string topo = "lab/scaleacross.clab.yml";
  std::string lab = "qpspread-demo";
  uint32_t vni = 100;
  int ranks = 2;  // one host per data center: the WAN, not the 2 cores, is the bottleneck
  int qps = 8;
  std::string wan_rate = "20mbit";
  double rate_mbit = 24;  // per host: above one capped WAN link, below two
  size_t size = 1000000;
  int iterations = 4;
  std::string out = "results/demo.json";
};

std::string role(const lab::ClabNode& n) { return n.labels.count("role") ? n.labels.at("role") : ""; }

// Takes the lab down however run_demo leaves (an error, Ctrl-C).
struct LabGuard {
  std::string name;
  ~LabGuard() {
    try {
      lab::lab_down(name);
    } catch (...) {
    }
  }
};

// RoCEv2 bytes sent into each WAN link by each border: a path is one link in one direction
// ("wan1 dc1-border1>dc2-border1"), as a flow between the data centers takes one of them.
std::map<std::string, uint64_t> wan_bytes(const lab::ClabTopology& t) {
  std::map<std::string, uint64_t> out;
  for (const auto& l : t.links) {
    if (!l.wan) continue;
    for (const auto& [from, to] : {std::pair{&l.a, &l.b}, std::pair{&l.b, &l.a}}) {
      uint64_t sum = 0;
      const PathReport pr = path_report(Netns::open(t.netns(from->node)));
      for (const auto& p : pr.paths) {
        auto name = pr.ifnames.find(p.ifindex);
        if (name != pr.ifnames.end() && name->second == from->ifname) sum += p.roce_bytes;
      }
      out[l.name + " " + from->node + ">" + to->node] = sum;
    }
  }
  return out;
}

void attach_all(const lab::ClabTopology& t, const Progress& say) {
  for (const auto& n : t.nodes) {
    AttachOptions o;
    o.initial_mode = QPS_MODE_OFF;
    if (role(n) == "border") {
      for (const auto& l : t.links)
        for (const auto* ep : {&l.a, &l.b})
          if (l.wan && ep->node == n.name) o.uplinks.push_back(ep->ifname);
    } else if (role(n) != "leaf") {
      continue;
    }
    const AttachReport r = attach(Netns::open(t.netns(n.name)), o);
    say("attached to " + n.name + ": " + std::to_string(r.devices.size()) + " VXLAN devices, " +
        std::to_string(r.uplinks.size()) + (role(n) == "border" ? " WAN links" : " uplinks"));
  }
}

// `ranks` hosts of the VNI, half in each data center, those of dc1 first: the ring then crosses
// the WAN twice, once each way.
std::vector<workload::HostAddr> ring_hosts(const lab::ClabTopology& t, uint32_t vni, int ranks) {
  std::map<std::string, std::vector<std::string>> by_dc;
  const std::string suffix = "-h" + std::to_string(vni);
  for (const auto& n : t.nodes)
    if (role(n) == "host" && n.name.ends_with(suffix)) by_dc[n.labels.count("dc") ? n.labels.at("dc") : ""].push_back(n.name);
  if (by_dc.size() < 2) throw Error("the lab has no hosts of VNI " + std::to_string(vni) + " in two data centers");
  std::vector<std::string> names;
  for (auto& [dc, hosts] : by_dc) {
    std::sort(hosts.begin(), hosts.end());
    for (int i = 0; i < ranks / 2 && i < static_cast<int>(hosts.size()); i++) names.push_back(hosts[static_cast<size_t>(i)]);
  }
  std::vector<workload::HostAddr> hosts;
  for (const auto& n : names) hosts.push_back(lab::resolve_host(t.netns(n)));
  return hosts;
}

json mode_result(const workload::WorkloadReport& r, const std::map<std::string, uint64_t>& before,
                 const std::map<std::string, uint64_t>& after) {
  std::vector<uint64_t> load;
  json links = json::array();
  for (const auto& [name, b] : after) load.push_back(b - before.at(name));
  const std::vector<double> share = metrics::shares(load);
  size_t i = 0;
  for (const auto& [name, _] : after) {
    links.push_back({{"link", name}, {"rocev2_bytes", load[i]}, {"share", share[i]}});
    i++;
  }
  std::vector<double> ms;
  for (double s : r.iteration_s) ms.push_back(1000 * s);
  uint64_t retx = 0, frames = 0;
  for (const auto& q : r.qps) {
    retx += q.stats.retx_frames;
    frames += q.stats.tx_frames;
  }
  return {{"wan_links", links}, {"imbalance", metrics::imbalance(load)}, {"jain", metrics::jain_index(load)},
          {"iteration_ms_p50", percentile(ms, 50)}, {"iteration_ms_p99", percentile(ms, 99)},
          {"iteration_ms", ms}, {"correct", r.correct}, {"frames", frames}, {"retransmitted_frames", retx}};
}

void print_demo(const json& j) {
  const json& off = j["modes"]["off"];
  const json& qp = j["modes"]["qp-hash"];
  std::printf("\ncross-DC ring AllReduce, %d ranks, %s per rank, %d QPs per peer, WAN links capped at %s each\n\n",
              j["workload"]["ranks"].get<int>(), human_bytes(j["workload"]["bytes"].get<uint64_t>()).c_str(),
              j["workload"]["qps"].get<int>(), j["workload"]["wan_rate"].get<std::string>().c_str());
  std::printf("%-34s %14s %14s\n", "", "mode off", "mode qp-hash");
  for (size_t i = 0; i < off["wan_links"].size(); i++)
    std::printf("%-34s %13.1f%% %13.1f%%\n", off["wan_links"][i]["link"].get<std::string>().c_str(),
                100 * off["wan_links"][i]["share"].get<double>(), 100 * qp["wan_links"][i]["share"].get<double>());
  std::printf("%-34s %14.2f %14.2f\n", "imbalance (max/mean share)", off["imbalance"].get<double>(), qp["imbalance"].get<double>());
  std::printf("%-34s %14.3f %14.3f\n", "Jain's index", off["jain"].get<double>(), qp["jain"].get<double>());
  std::printf("%-34s %14.0f %14.0f\n", "iteration p50 (ms)", off["iteration_ms_p50"].get<double>(), qp["iteration_ms_p50"].get<double>());
  std::printf("%-34s %14.0f %14.0f\n", "iteration p99 (ms)", off["iteration_ms_p99"].get<double>(), qp["iteration_ms_p99"].get<double>());
  std::printf("%-34s %14lu %14lu\n", "retransmitted frames", static_cast<unsigned long>(off["retransmitted_frames"].get<uint64_t>()),
              static_cast<unsigned long>(qp["retransmitted_frames"].get<uint64_t>()));
  std::printf("%-34s %14s %14s\n", "AllReduce result", off["correct"].get<bool>() ? "exact" : "WRONG",
              qp["correct"].get<bool>() ? "exact" : "WRONG");
  std::cout << "\nqpspread stats on " << j["stats_leaf"].get<std::string>() << " after both runs:\n";
  print_stats_table(j["qp_hash_stats"]);
  std::cout << "\nqpspread top, one frame over the qp-hash run:\n" << render_top_frame(j["qp_hash_top"]) << "\n";
  std::cout << "lab up in " << j["lab_up_s"].get<double>() << " s; whole run " << j["total_s"].get<double>()
            << " s; written: " << j["written"].get<std::string>() << "\n";
}

json run_demo(const DemoOptions& o, const Progress& say) {
  const auto t0 = std::chrono::steady_clock::now();
  lab::ClabTopology t = lab::load_clab(o.topo);
  t.name = o.lab;
  say("bringing up lab " + t.name + " from " + o.topo + ": " + std::to_string(t.nodes.size()) + " nodes, FRR, BGP/EVPN/BFD");
  LabGuard guard{t.name};
  const json up = lab::lab_up(t, {60, say});
  if (!up["converged"].get<bool>()) throw Error("the lab did not converge: " + up["not_converged"].dump());
  auto st = lab::LabState::load(t.name);
  for (const auto& l : t.links)
    if (l.wan) lab::wan_impair(*st, l, {{"rate", o.wan_rate}});
  say("WAN links capped at " + o.wan_rate + " each");
  attach_all(t, say);
  const std::vector<workload::HostAddr> hosts = ring_hosts(t, o.vni, o.ranks);
  workload::TransportOptions topt;
  topt.qps = o.qps;
  topt.split = workload::SplitMode::Split;
  topt.sport = workload::SportModel::Fixed;
  topt.rate_bps = o.rate_mbit * 1e6;
  workload::AllReduceOptions ar;
  ar.bytes = o.size;
  ar.iterations = o.iterations;
  ar.timeout_ns = 240'000'000'000;
  // qpspread stats and top are shown for the leaf of the first rank (clab-LAB-<leaf>-h<vni>).
  std::string stats_leaf = hosts.front().netns.substr(t.netns("").size());
  stats_leaf.resize(stats_leaf.size() - ("-h" + std::to_string(o.vni)).size());
  const Netns leaf = Netns::open(t.netns(stats_leaf));
  json j = {{"lab", t.name}, {"lab_up_s", up["seconds"]}, {"modes", json::object()}, {"stats_leaf", stats_leaf},
            {"workload", {{"algorithm", "ring allreduce"}, {"ranks", hosts.size()}, {"bytes", o.size}, {"qps", o.qps},
                          {"iterations", o.iterations}, {"rate_mbit_per_host", o.rate_mbit}, {"sport", "fixed"},
                          {"wan_rate", o.wan_rate}, {"vni", o.vni}}}};
  for (uint32_t mode : {static_cast<uint32_t>(QPS_MODE_OFF), static_cast<uint32_t>(QPS_MODE_QP_HASH)}) {
    for (const auto& n : t.nodes)
      if (role(n) == "leaf") set_mode(Netns::open(t.netns(n.name)), o.vni, mode);
    say(std::string("mode ") + mode_name(mode) + ": AllReduce of " + human_bytes(o.size) + " per rank over " +
        std::to_string(hosts.size()) + " hosts, " + std::to_string(o.iterations) + " iterations");
    throw_if_interrupted();
    const auto before = wan_bytes(t);
    const json stats_before = build_stats(leaf, o.vni);
    const auto ts = std::chrono::steady_clock::now();
    const workload::WorkloadReport r = workload::run_allreduce(hosts, topt, ar);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
    json m = mode_result(r, before, wan_bytes(t));
    say(std::string("mode ") + mode_name(mode) + ": iteration p50 " + std::to_string(static_cast<int>(m["iteration_ms_p50"].get<double>())) +
        " ms, WAN imbalance " + std::to_string(m["imbalance"].get<double>()).substr(0, 4));
    j["modes"][mode_name(mode)] = m;
    if (mode == QPS_MODE_QP_HASH) {
      j["qp_hash_stats"] = build_stats(leaf, o.vni);
      j["qp_hash_top"] = top_frame(stats_before, j["qp_hash_stats"], elapsed, 5);
      j["qp_hash_top"]["interval"] = elapsed;
    }
  }
  say("tearing the lab down");
  lab::lab_down(t.name);
  j["total_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return j;
}

}  // namespace

void register_demo_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("demo", "the main job: cross-DC AllReduce on the multi-DC lab, mode off vs qp-hash");
  auto o = std::make_shared<DemoOptions>();
  cmd->add_option("-t,--topo", o->topo, "containerlab topology")->capture_default_str();
  cmd->add_option("--name", o->lab, "lab name (namespaces clab-NAME-<node>)")->capture_default_str();
  cmd->add_option("--ranks", o->ranks, "AllReduce ranks, half in each data center")->check(CLI::Range(2, 8))->capture_default_str();
  cmd->add_option("--qps", o->qps, "QPs per peer")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--wan-rate", o->wan_rate, "rate cap of each WAN link")->capture_default_str();
  cmd->add_option("--rate", o->rate_mbit, "per-host sending rate, Mbit/s")->check(CLI::Range(1.0, 10000.0))->capture_default_str();
  cmd->add_option("--size", o->size, "AllReduce bytes per rank")->check(CLI::Range(4096, 1 << 30))->capture_default_str();
  cmd->add_option("--iterations", o->iterations, "AllReduce iterations per mode")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--out", o->out, "where to write the JSON result")->capture_default_str();
  cmd->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      auto say = [](const std::string& line) { std::cerr << "[demo] " << line << std::endl; };
      install_interrupt_handler();  // Ctrl-C tears the lab down instead of leaving it
      json j = run_demo(*o, say);
      const std::filesystem::path out(o->out);
      if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
      std::ofstream(out) << j.dump(2) << "\n";
      j["written"] = o->out;
      emit(ctx.out, j, print_demo);
    };
  });
}

}  // namespace qpspread::cli
