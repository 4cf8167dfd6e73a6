// balance: the balance controller on one node (userspace/scenario/balance.h): parse, call, render.
// Once, or every --interval until Ctrl-C (or --count steps), a line (JSON with -j) per step.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/units.h"
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

// One step of a running controller, one line: what changed and where the QPs are.
void print_step(int step, const json& j) {
  if (j.contains("error")) {
    std::printf("step %d: %s\n", step, j["error"].get<std::string>().c_str());
    return;
  }
  std::string paths;
  for (const auto& p : j["plan"]["paths"])
    paths += (paths.empty() ? "" : ", ") + p["path"].get<std::string>() + " " + std::to_string(p["qps"].get<int>());
  int moved = 0;
  for (const auto& q : j["plan"]["qps"]) moved += q["moved"].get<bool>();
  std::printf("step %d: %zu QPs on %s; imbalance %.2f; %d to move\n", step, j["plan"]["qps"].size(), paths.c_str(),
              j["plan"]["imbalance"].get<double>(), moved);
  std::fflush(stdout);
}

// Sleeps `ns` in short slices; false once Ctrl-C or SIGTERM arrived.
bool wait_for(int64_t ns) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < end) {
    if (interrupted()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !interrupted();
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
  auto interval = std::make_shared<std::string>();
  auto count = std::make_shared<int>(0);
  cmd->add_option("--interval", *interval, "place again every this long (1s, 500ms) until Ctrl-C; default: once");
  cmd->add_option("--count", *count, "with --interval: stop after this many steps")->check(CLI::Range(1, 1 << 30));
  cmd->callback([&ctx, target, o, remote, interval, count] {
    ctx.action = [&ctx, target, o, remote, interval, count] {
      if (!remote->empty()) o->remote = *remote;
      const Netns ns = Netns::open(target->resolve());
      if (interval->empty()) {
        if (*count) throw Error("--count goes with --interval");
        emit(ctx.out, scenario::to_json(scenario::balance_once(ns, *o)), print_balance);
        return;
      }
      const int64_t every = static_cast<int64_t>(parse_duration_us("--interval", *interval)) * 1000;
      if (every < 10'000'000) throw Error("--interval: " + *interval + " is below 10ms");
      install_interrupt_handler();
      scenario::BalanceController ctl(ns, *o);
      // A step that fails (every path gone, a VNI switched out of balance) is reported and the
      // controller goes on: the next step may find the paths back.
      for (int step = 1; !*count || step <= *count; step++) {
        json j;
        try {
          j = scenario::to_json(ctl.step());
        } catch (const Error& e) {
          j = {{"error", e.what()}};
        }
        j["step"] = step;
        if (ctx.out.json || ctx.out.pretty) {
          std::cout << j.dump() << std::endl;  // JSON lines: one object per step
        } else {
          print_step(step, j);
        }
        if ((*count && step == *count) || !wait_for(every)) break;
      }
    };
  });
}

}  // namespace qpspread::cli
