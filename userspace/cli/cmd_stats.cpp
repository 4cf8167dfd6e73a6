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

void print_stats(const json& j) {
  for (const auto& v : j["vnis"]) {
    std::printf("VNI %u (mode %s) in netns %s\n", v["vni"].get<unsigned>(), v["mode"].get<std::string>().c_str(),
                j["netns"].get<std::string>().c_str());
    if (!v["paths"].empty()) {
      std::printf("  %-10s %-16s %12s %12s %12s %7s\n", "UPLINK", "REMOTE-VTEP", "TX-PACKETS", "TX-BYTES", "ROCEV2-PKTS", "SHARE");
      for (const auto& p : v["paths"])
        std::printf("  %-10s %-16s %12lu %12s %12lu %6.1f%%\n", p["ifname"].get<std::string>().c_str(),
                    p["remote_vtep"].get<std::string>().c_str(), static_cast<unsigned long>(p["tx_packets"].get<uint64_t>()),
                    human_bytes(p["tx_bytes"].get<uint64_t>()).c_str(),
                    static_cast<unsigned long>(p["tx_roce_packets"].get<uint64_t>()), 100 * p["share"].get<double>());
      std::printf("  imbalance %.2f, Jain's index %.3f\n", v["imbalance"].get<double>(), v["jain"].get<double>());
    }
    std::printf("  %-10s %12s %12s %12s %-8s %6s\n", "QPN", "PACKETS", "BYTES", "OUTER-SPORT", "PATH", "MOVES");
    for (const auto& q : v["qps"]) {
      const unsigned sport = q["sport"].get<unsigned>();
      std::printf("  0x%-8x %12lu %12s %12s %-8s %6s\n", q["qpn"].get<unsigned>(),
                  static_cast<unsigned long>(q["packets"].get<uint64_t>()), human_bytes(q["bytes"].get<uint64_t>()).c_str(),
                  sport ? std::to_string(sport).c_str() : "-", q.contains("path") ? q["path"].get<std::string>().c_str() : "-",
                  q.contains("moves") ? std::to_string(q["moves"].get<uint64_t>()).c_str() : "-");
    }
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
