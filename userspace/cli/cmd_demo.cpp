// demo: the main job (userspace/scenario/demo.h). This file parses the options, runs the scenario
// and renders its result: modes off, qp-hash and balance side by side, the leaf's stats and a top
// frame.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "common/units.h"
#include "userspace/cli/commands.h"
#include "userspace/report/stats_report.h"
#include "userspace/report/top_frame.h"
#include "userspace/scenario/demo.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

void print_modes(const json& j) {
  std::printf("\ncross-DC ring AllReduce, %d ranks, %s per rank, %d QPs per peer, %s per host, WAN links capped at %s each\n\n",
              j["workload"]["ranks"].get<int>(), human_bytes(j["workload"]["bytes"].get<uint64_t>()).c_str(),
              j["workload"]["qps"].get<int>(), j["workload"]["rate"].get<std::string>().c_str(),
              j["workload"]["wan_rate"].get<std::string>().c_str());
  const json& w = j["workload"];
  if (w["cc"] == "dcqcn")
    std::printf("congestion control: DCQCN per QP (as RoCE NICs), CNPs for frames ECN-marked at the WAN queue (%s)\n\n",
                w["wan_ecn"].get<std::string>().c_str());
  else
    std::printf("congestion control: none (open loop at each host's rate, go-back-N only)\n\n");
  std::vector<std::string> modes;
  for (const char* m : {"off", "qp-hash", "balance"})
    if (j["modes"].contains(m)) modes.push_back(m);
  auto row = [&](const std::string& label, auto cell) {
    std::printf("%-34s", label.c_str());
    for (const auto& m : modes) std::printf(" %14s", cell(j["modes"][m]).c_str());
    std::printf("\n");
  };
  auto fmt = [](const char* f, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, f, v);
    return std::string(buf);
  };
  row("", [&, i = size_t{0}](const json&) mutable { return "mode " + modes[i++]; });
  const json& first = j["modes"][modes.front()];
  for (size_t i = 0; i < first["wan_links"].size(); i++)
    row(first["wan_links"][i]["link"].get<std::string>(),
        [&](const json& m) { return fmt("%.1f%%", 100 * m["wan_links"][i]["share"].get<double>()); });
  row("imbalance (max/mean share)", [&](const json& m) { return fmt("%.2f", m["imbalance"].get<double>()); });
  row("Jain's index", [&](const json& m) { return fmt("%.3f", m["jain"].get<double>()); });
  row("iteration p50 (ms)", [&](const json& m) { return fmt("%.0f", m["iteration_ms_p50"].get<double>()); });
  row("iteration p99 (ms)", [&](const json& m) { return fmt("%.0f", m["iteration_ms_p99"].get<double>()); });
  row("retransmitted frames", [&](const json& m) { return std::to_string(m["retransmitted_frames"].get<uint64_t>()); });
  row("CE-marked frames received", [&](const json& m) { return std::to_string(m["ecn_ce_rx"].get<uint64_t>()); });
  row("CNPs sent", [&](const json& m) { return std::to_string(m["cnp_tx"].get<uint64_t>()); });
  row("AllReduce result", [&](const json& m) { return std::string(m["correct"].get<bool>() ? "exact" : "WRONG"); });
}

void print_demo(const scenario::DemoResult& r, const json& j) {
  print_modes(j);
  std::cout << "\nqpspread stats on " << j["stats_leaf"].get<std::string>() << " after the balance run (its QPs):\n" << std::flush;
  report::print_stats_table(r.balance_stats);
  std::cout << "\nqpspread top, one frame over the balance run:\n" << report::render_top_frame(j["balance_top"]) << "\n";
  std::printf("lab up in %.1f s; whole run %.1f s; written: %s\n", j["lab_up_s"].get<double>(), j["total_s"].get<double>(),
              r.written.empty() ? "nothing" : r.written.c_str());
  std::printf("records and spec in %s; figures and an HTML report: qpspread experiment report %s\n",
              j["records"].get<std::string>().c_str(), j["records"].get<std::string>().c_str());
}

}  // namespace

void register_demo_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("demo", "the main job: cross-DC AllReduce on the multi-DC lab, mode off vs qp-hash vs balance");
  auto o = std::make_shared<scenario::DemoOptions>();
  auto wan_rate = std::make_shared<std::string>(format_rate_bps(o->wan_rate_bps));
  auto rate = std::make_shared<std::string>(format_rate_bps(o->rate_bps));
  cmd->add_option("-t,--topo", o->topo, "containerlab topology")->capture_default_str();
  cmd->add_option("--name", o->lab, "lab name (namespaces clab-NAME-<node>)")->capture_default_str();
  cmd->add_option("--ranks", o->ranks, "AllReduce ranks, half in each data center")->check(CLI::Range(2, 8))->capture_default_str();
  cmd->add_option("--qps", o->qps, "QPs per peer")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--wan-rate", *wan_rate, "rate cap of each WAN link, netem style (20mbit, 1gbit)")->capture_default_str();
  cmd->add_option("--rate", *rate, "per-host sending rate, netem style (36mbit; 0 = unpaced)")->capture_default_str();
  cmd->add_option("--size", o->size, "AllReduce bytes per rank")->check(CLI::Range(4096, 1 << 30))->capture_default_str();
  cmd->add_option("--iterations", o->iterations, "AllReduce iterations per mode")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--cc", o->cc, "congestion control of the QPs: dcqcn (as RoCE NICs) or none (open loop)")
      ->check(CLI::IsMember({"dcqcn", "none"}))->capture_default_str();
  auto ecn = std::make_shared<std::string>(wan::format_ecn(o->wan_ecn));
  cmd->add_option("--wan-ecn", *ecn, "ECN marking of each WAN link's queue: KMIN,KMAX,PMAX (0: none)")->capture_default_str();
  cmd->add_option("--out", o->out, "where to write the JSON result")->capture_default_str();
  cmd->add_option("--records", o->records, "where the runs' records go (qpspread experiment report reads them); replaced")
      ->capture_default_str();
  cmd->callback([&ctx, o, wan_rate, rate, ecn] {
    ctx.action = [&ctx, o, wan_rate, rate, ecn] {
      // Typed where they enter; a bare number ("--rate 24") is refused with the accepted syntax.
      o->wan_rate_bps = parse_rate_bps("--wan-rate", *wan_rate);
      o->rate_bps = parse_rate_bps("--rate", *rate);
      o->wan_ecn = wan::parse_ecn("--wan-ecn", *ecn);
      auto say = [](const std::string& line) { std::cerr << "[demo] " << line << std::endl; };
      const scenario::DemoResult r = scenario::run_demo(*o, say);
      json j = r.doc;
      j["written"] = r.written;
      emit(ctx.out, j, [&r](const json& j) { print_demo(r, j); });
    };
  });
}

}  // namespace qpspread::cli
