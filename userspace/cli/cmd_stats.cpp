// stats: the report of stats_report.h as a table, JSON, or Prometheus text.
#include <cstdio>
#include <iostream>

#include "loader/attach.h"
#include "userspace/cli/commands.h"
#include "userspace/cli/prometheus.h"
#include "userspace/cli/stats_report.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

std::string name_or_dash(const json& v) { return v.is_string() ? v.get<std::string>() : "-"; }
unsigned long ul(const json& v) { return static_cast<unsigned long>(v.get<uint64_t>()); }

void print_paths(const json& v) {
  std::printf("  %-10s %-16s %11s %10s %11s %10s %7s\n", "UPLINK", "REMOTE-VTEP", "TX-PACKETS", "TX-BYTES", "RX-PACKETS",
              "RX-BYTES", "SHARE");
  for (const auto& p : v["paths"])
    std::printf("  %-10s %-16s %11lu %10s %11lu %10s %6.1f%%\n", p["ifname"].get<std::string>().c_str(),
                p["remote_vtep"].get<std::string>().c_str(), ul(p["tx_packets"]), human_bytes(p["tx_bytes"].get<uint64_t>()).c_str(),
                ul(p["rx_packets"]), human_bytes(p["rx_bytes"].get<uint64_t>()).c_str(), 100 * p["share"].get<double>());
  std::printf("  imbalance %.2f, Jain's index %.3f (over the tx RoCEv2 bytes of %zu paths)\n", v["imbalance"].get<double>(),
              v["jain"].get<double>(), v["paths"].size());
}

void print_qps(const json& v) {
  std::printf("  %-10s %10s %10s %6s %-8s %5s %10s %-8s %9s %6s\n", "QPN", "TX-PKTS", "TX-BYTES", "SPORT", "PATH", "MOVES",
              "RX-PKTS", "RX-PATH", "REORDERED", "GAPS");
  for (const auto& q : v["qps"]) {
    const unsigned sport = q["sport"].get<unsigned>();
    std::printf("  0x%-8x %10lu %10s %6s %-8s %5lu %10lu %-8s %9lu %6lu\n", q["qpn"].get<unsigned>(), ul(q["packets"]),
                human_bytes(q["bytes"].get<uint64_t>()).c_str(), sport ? std::to_string(sport).c_str() : "-",
                name_or_dash(q["path"]).c_str(), ul(q["moves"]), ul(q["rx_packets"]), name_or_dash(q["rx_path"]).c_str(),
                ul(q["reordered"]), ul(q["gaps"]));
  }
}

void print_stats(const json& j) {
  for (const auto& v : j["vnis"]) {
    std::printf("VNI %u (mode %s) in netns %s\n", v["vni"].get<unsigned>(), v["mode"].get<std::string>().c_str(),
                j["netns"].get<std::string>().c_str());
    if (!v["paths"].empty()) print_paths(v);
    print_qps(v);
  }
}

}  // namespace

void register_stats_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("stats", "per-VNI path counters, shares, imbalance, Jain's index and per-QP counters");
  auto target = std::make_shared<NetnsTarget>();
  auto vni = std::make_shared<uint32_t>(0);
  auto prom = std::make_shared<bool>(false);
  target->add_to(cmd, true);
  auto* vni_opt = cmd->add_option("--vni", *vni, "only this VNI");
  cmd->add_flag("--prometheus", *prom, "Prometheus text exposition (no per-QP labels)");
  cmd->callback([&ctx, target, vni, vni_opt, prom] {
    ctx.action = [&ctx, target, vni, vni_opt, prom] {
      Netns ns = Netns::open(target->resolve());
      json j = build_stats(ns, vni_opt->count() ? std::optional<uint32_t>(*vni) : std::nullopt);
      if (*prom) {
        std::cout << prometheus_text(j);
        return;
      }
      emit(ctx.out, j, print_stats);
    };
  });
}

}  // namespace qpspread::cli
