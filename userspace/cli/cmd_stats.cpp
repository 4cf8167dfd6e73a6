// stats: the report of stats_report.h as a table, JSON, or Prometheus text.
#include <cstdio>
#include <iostream>

#include "loader/attach.h"
#include "userspace/cli/commands.h"
#include "userspace/report/prometheus.h"
#include "userspace/report/stats_report.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

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
      const report::StatsReport r =
          report::build_stats(ns, vni_opt->count() ? std::optional<uint32_t>(*vni) : std::nullopt);
      if (*prom) {
        std::cout << report::prometheus_text(r);
        return;
      }
      if (!ctx.out.json && !ctx.out.pretty) return report::print_stats_table(r);
      emit_text(ctx.out, report::stats_json_text(r), [&r](const json&) { report::print_stats_table(r); });
    };
  });
}

}  // namespace qpspread::cli
