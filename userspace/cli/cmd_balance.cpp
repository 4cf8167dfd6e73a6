// balance: the balance controller's step on one node (userspace/scenario/balance.h): parse, call,
// render. It places once and exits; the scenario library is what a periodic controller repeats.
#include <cstdio>
#include <iostream>

#include "userspace/cli/commands.h"
#include "userspace/scenario/balance.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

void print_balance(const json& j) {
  std::printf("VNI %u in netns %s, %s -> %s: %zu QPs placed on %zu paths (imbalance %.2f; %zu ports asked of the FIB)\n",
              j["vni"].get<unsigned>(), j["netns"].get<std::string>().c_str(), j["local"].get<std::string>().c_str(),
              j["remote"].get<std::string>().c_str(), j["plan"]["qps"].size(), j["plan"]["paths"].size(),
              j["plan"]["imbalance"].get<double>(), j["probed"].get<size_t>());
  for (const auto& p : j["plan"]["paths"])
    std::printf("  %-10s %3d QPs  %14.0f bytes\n", p["path"].get<std::string>().c_str(), p["qps"].get<int>(),
                p["load"].get<double>());
  std::printf("  %-10s %-10s %6s %s\n", "QPN", "PATH", "SPORT", "");
  for (const auto& q : j["plan"]["qps"])
    std::printf("  0x%-8x %-10s %6u %s\n", q["qpn"].get<unsigned>(), q["path"].get<std::string>().c_str(),
                q["sport"].get<unsigned>(), q["moved"].get<bool>() ? "moves (after its idle gap)" : "stays");
}

}  // namespace

void register_balance_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("balance", "mode balance: place a VNI's QPs evenly on this node's uplinks, once");
  auto target = std::make_shared<NetnsTarget>();
  auto o = std::make_shared<scenario::BalanceOptions>();
  auto remote = std::make_shared<std::string>();
  target->add_to(cmd, true);
  cmd->add_option("--vni", o->vni, "the VNI (in mode balance)")->required()->check(CLI::Range(1u, 16777215u));
  cmd->add_option("--remote", *remote, "the remote VTEP whose paths to use (default: the VNI's only one)");
  cmd->callback([&ctx, target, o, remote] {
    ctx.action = [&ctx, target, o, remote] {
      if (!remote->empty()) o->remote = *remote;
      const Netns ns = Netns::open(target->resolve());
      emit(ctx.out, scenario::to_json(scenario::balance_once(ns, *o)), print_balance);
    };
  });
}

}  // namespace qpspread::cli
