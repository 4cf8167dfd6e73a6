// demo: the main job until the multi-DC lab lands. Brings up a 2-leaf FRR EVPN-VXLAN fabric in
// namespaces, attaches qpspread to leaf 1, sends RoCEv2 frames over 16 QPs with one fixed inner
// source port in mode off and then qp-hash, prints the per-uplink spread and tears it all down.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "loader/attach.h"
#include "loader/error.h"
#include "userspace/cli/commands.h"
#include "userspace/cli/stats_report.h"
#include "userspace/cli/top_frame.h"
#include "userspace/lab/interrupt.h"
#include "userspace/lab/spread_probe.h"
#include "userspace/metrics/fairness.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

struct DemoOptions {
  int spines = 2;
  workload::QpTraffic traffic;
  std::string out = "results/demo.json";
};

json mode_result(const lab::SpreadResult& r) {
  const std::vector<uint64_t> counts = lab::frame_counts(r);
  json j = {{"uplinks", json::array()}, {"imbalance", metrics::imbalance(counts)},
            {"jain", metrics::jain_index(counts)}, {"sent", r.sent},
            {"received_identical", r.received_identical}};
  uint64_t total = 0;
  for (const auto& [_, n] : r.uplink_frames) total += n;
  for (const auto& [uplink, n] : r.uplink_frames) {
    size_t qps = 0;
    for (const auto& [qpn, p] : r.qps) qps += p.uplinks.count(uplink);
    j["uplinks"].push_back({{"ifname", uplink}, {"frames", n}, {"qps", qps},
                            {"share", total ? static_cast<double>(n) / static_cast<double>(total) : 0.0}});
  }
  return j;
}

void print_demo(const json& j) {
  std::printf("\n%-9s %-8s %8s %5s %7s\n", "MODE", "UPLINK", "FRAMES", "QPS", "SHARE");
  for (const char* mode : {"off", "qp-hash"}) {
    const json& m = j["modes"][mode];
    for (const auto& u : m["uplinks"])
      std::printf("%-9s %-8s %8lu %5zu %6.1f%%\n", mode, u["ifname"].get<std::string>().c_str(),
                  static_cast<unsigned long>(u["frames"].get<uint64_t>()), u["qps"].get<size_t>(),
                  100 * u["share"].get<double>());
    std::printf("%-9s imbalance (max/mean share) %.2f, Jain's index %.3f, %zu/%zu frames received intact\n\n",
                mode, m["imbalance"].get<double>(), m["jain"].get<double>(),
                m["received_identical"].get<size_t>(), m["sent"].get<size_t>());
  }
  std::cout << "qpspread stats on the sending leaf after both runs (counters since attach: a QP that\n"
               "changed uplink between the runs counts a move):\n";
  print_stats_table(j["qp_hash_stats"]);
  std::cout << "\nqpspread stats on the receiving leaf (XDP on its uplinks):\n";
  print_stats_table(j["qp_hash_stats_receiver"]);
  std::cout << "\nqpspread top, one frame over the qp-hash run:\n" << render_top_frame(j["qp_hash_top"]) << "\n";
  std::cout << "written: " << j["written"].get<std::string>() << "\n";
}

json run_demo(const DemoOptions& o, const std::function<void(const std::string&)>& progress) {
  lab::FabricSpec spec;
  spec.tag = "d" + std::to_string(::getpid() % 100000);
  spec.spines = o.spines;
  spec.progress = progress;
  const auto t0 = std::chrono::steady_clock::now();
  progress("bringing up 2 leaves, " + std::to_string(o.spines) + " spines, 2 hosts with FRR (BGP unnumbered, EVPN, BFD)");
  lab::TestFabric fabric(spec);
  const double up_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress("fabric converged in " + std::to_string(up_s).substr(0, 4) + " s");

  Netns leaf = Netns::open(fabric.leaf_netns(0)), far_leaf = Netns::open(fabric.leaf_netns(1));
  json j = {{"leaf_netns", {fabric.leaf_netns(0), fabric.leaf_netns(1)}},
            {"fabric", {{"spines", o.spines}, {"converge_s", up_s}, {"vni", fabric.vni()}}},
            {"traffic", {{"qps", o.traffic.qps}, {"frames_per_qp", o.traffic.frames_per_qp},
                         {"inner_sport", o.traffic.src_port}}},
            {"modes", json::object()}};
  AttachOptions opts;  // uplinks: discovered from the routes to the other leaf
  opts.initial_mode = QPS_MODE_OFF;
  attach(leaf, opts);
  try {
    attach(far_leaf, opts);  // its uplinks' XDP programs count what arrives, per path and QP
    for (uint32_t mode : {static_cast<uint32_t>(QPS_MODE_OFF), static_cast<uint32_t>(QPS_MODE_QP_HASH)}) {
      set_mode(leaf, fabric.vni(), mode);
      progress(std::string("mode ") + mode_name(mode) + ": sending " +
               std::to_string(o.traffic.qps * o.traffic.frames_per_qp) + " RoCEv2 frames over " +
               std::to_string(o.traffic.qps) + " QPs");
      const json before = build_stats(leaf, fabric.vni());
      const auto t = std::chrono::steady_clock::now();
      workload::QpTraffic traffic = o.traffic;  // the second run goes on with each QP's PSNs
      traffic.first_psn = mode == QPS_MODE_OFF ? 0 : static_cast<uint32_t>(o.traffic.frames_per_qp);
      j["modes"][mode_name(mode)] = mode_result(lab::run_spread(fabric, traffic));
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
      if (mode == QPS_MODE_QP_HASH) {
        j["qp_hash_stats"] = build_stats(leaf, fabric.vni());
        j["qp_hash_stats_receiver"] = build_stats(far_leaf, fabric.vni());
        j["qp_hash_top"] = top_frame(before, j["qp_hash_stats"], elapsed, 5);
        j["qp_hash_top"]["interval"] = elapsed;
      }
    }
  } catch (...) {
    detach(far_leaf);
    detach(leaf);
    throw;
  }
  detach(far_leaf);
  detach(leaf);
  progress("detached; tearing the fabric down");
  return j;
}

}  // namespace

void register_demo_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("demo", "bring up a test fabric, show the per-uplink spread with mode off and qp-hash");
  auto o = std::make_shared<DemoOptions>();
  cmd->add_option("--spines", o->spines, "number of spines (uplinks per leaf)")->check(CLI::Range(2, 8))->capture_default_str();
  cmd->add_option("--qps", o->traffic.qps, "queue pairs")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--frames", o->traffic.frames_per_qp, "frames per QP")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--out", o->out, "where to write the JSON result")->capture_default_str();
  cmd->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      auto progress = [](const std::string& line) { std::cerr << "[demo] " << line << std::endl; };
      lab::install_interrupt_handler();  // Ctrl-C tears the fabric down instead of leaving it
      json j = run_demo(*o, progress);
      const std::filesystem::path out(o->out);
      if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
      std::ofstream(out) << j.dump(2) << "\n";
      j["written"] = o->out;
      emit(ctx.out, j, print_demo);
    };
  });
}

}  // namespace qpspread::cli
