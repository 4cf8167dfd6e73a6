// balance: the balance controller (userspace/scenario/balance.h) on one node (--netns, or --lab
// with --node) or on every leaf of a lab (--lab alone): parse, call, render. Once, or every
// --interval until Ctrl-C (or --count steps), and at once when a route changes; a line (JSON with
// -j) per step.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/units.h"
#include "userspace/cli/commands.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/scenario/balance.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

// "dc1-leaf1 eth1 4, eth2 4 | dc1-border1 wan1 4, wan2 4"
std::string stages_text(const json& plan) {
  std::string out;
  for (const auto& s : plan["stages"]) {
    std::string paths;
    for (const auto& p : s["paths"])
      paths += (paths.empty() ? "" : ", ") + p["path"].get<std::string>() + " " + std::to_string(p["qps"].get<int>());
    out += (out.empty() ? "" : " | ") + s["name"].get<std::string>() + " " + paths;
  }
  return out;
}

void print_result(const json& j) {
  if (j.contains("error")) {
    std::printf("%s: %s\n", j["node"].get<std::string>().c_str(), j["error"].get<std::string>().c_str());
    return;
  }
  for (const auto& n : j["notes"]) std::printf("  note: %s\n", n.get<std::string>().c_str());
  for (const auto& g : j["groups"]) {
    const json& plan = g["plan"];
    std::printf("VNI %u in %s, %s -> %s: %zu QPs on %s (imbalance %.2f; %zu ports asked of the FIB, %zu probes)\n",
                j["vni"].get<unsigned>(), j.value("node", j["netns"].get<std::string>()).c_str(),
                j["local"].get<std::string>().c_str(), g["remote"].get<std::string>().c_str(), plan["qps"].size(),
                stages_text(plan).c_str(), plan["imbalance"].get<double>(), j["probed"].get<size_t>(),
                g["probes"].get<size_t>());
    std::printf("  %-10s %-24s %6s %s\n", "QPN", "PATHS", "SPORT", "");
    for (const auto& q : plan["qps"]) {
      std::string paths;
      for (const auto& p : q["paths"]) paths += (paths.empty() ? "" : " ") + p.get<std::string>();
      std::printf("  0x%-8x %-24s %6u %s\n", q["qpn"].get<unsigned>(), paths.c_str(), q["sport"].get<unsigned>(),
                  q["moved"].get<bool>() ? "moves (after its idle gap)" : "stays");
    }
  }
}

// One step of a running controller, a line per node and remote VTEP: where the QPs are, what moves.
void print_step(int step, const json& j) {
  if (j.contains("error")) {
    std::printf("step %d: %s%s\n", step, j.contains("node") ? (j["node"].get<std::string>() + ": ").c_str() : "",
                j["error"].get<std::string>().c_str());
    return;
  }
  for (const auto& n : j["notes"]) std::printf("step %d: note: %s\n", step, n.get<std::string>().c_str());
  for (const auto& g : j["groups"]) {
    int moved = 0;
    for (const auto& q : g["plan"]["qps"]) moved += q["moved"].get<bool>();
    std::printf("step %d: %s -> %s: %zu QPs on %s; imbalance %.2f; %d to move\n", step,
                j.value("node", j["netns"].get<std::string>()).c_str(), g["remote"].get<std::string>().c_str(),
                g["plan"]["qps"].size(), stages_text(g["plan"]).c_str(), g["plan"]["imbalance"].get<double>(), moved);
  }
  std::fflush(stdout);
}

}  // namespace

void register_balance_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "balance", "mode balance: place a VNI's QPs evenly on the paths (a node's uplinks; with --lab or --observe, the links further on too)");
  auto target = std::make_shared<NetnsTarget>();
  auto o = std::make_shared<scenario::BalanceOptions>();
  auto remote = std::make_shared<std::string>();
  auto observe = std::make_shared<std::vector<std::string>>();
  target->add_to(cmd, false);
  cmd->add_option("--vni", o->vni, "the VNI (in mode balance)")->required()->check(CLI::Range(1u, 16777214u));
  cmd->add_option("--remote", *remote, "only the QPs to this remote VTEP (default: all, per remote VTEP)");
  cmd->add_option("--observe", *observe,
                  "a namespace further on where qpspread counts the uplinks (a border): learn its links by path probes");
  auto interval = std::make_shared<std::string>();
  auto count = std::make_shared<int>(0);
  cmd->add_option("--interval", *interval, "place again every this long (1s, 500ms), and when a route changes, until Ctrl-C; default: once");
  cmd->add_option("--count", *count, "with --interval: stop after this many steps")->check(CLI::Range(1, 1 << 30));
  cmd->callback([&ctx, target, o, remote, observe, interval, count] {
    ctx.action = [&ctx, target, o, remote, observe, interval, count] {
      if (!remote->empty()) o->remote = *remote;
      if (*count && interval->empty()) throw Error("--count goes with --interval");
      int64_t every = 0;
      if (!interval->empty()) {
        every = static_cast<int64_t>(parse_duration_us("--interval", *interval)) * 1000;
        if (every < 10'000'000) throw Error("--interval: " + *interval + " is below 10ms");
      }
      const bool whole_lab = !target->lab.empty() && target->node.empty() && target->netns.empty();
      if (!whole_lab && !target->given()) throw Error("give --netns NS, --lab LAB --node NODE, or --lab LAB (every leaf)");
      if (whole_lab && (!observe->empty() || o->remote))
        throw Error("with --lab alone the lab's borders are observed and every remote VTEP placed: drop --observe and --remote");
      // A step that fails (every path gone, a VNI switched out of balance) is reported and the
      // controller goes on: the next step may find the paths back.
      auto loop = [&](auto& ctl, auto step_json, auto print_once) {
        if (!every) {
          emit(ctx.out, step_json(ctl), print_once);
          return;
        }
        install_interrupt_handler();
        for (int step = 1; !*count || step <= *count; step++) {
          json j;
          try {
            j = step_json(ctl);
          } catch (const Error& e) {
            j = {{"error", e.what()}};
          }
          j["step"] = step;
          if (ctx.out.json || ctx.out.pretty) {
            std::cout << j.dump() << std::endl;  // JSON lines: one object per step
          } else if (j.contains("nodes")) {
            for (const auto& n : j["nodes"]) print_step(step, n);
          } else {
            print_step(step, j);
          }
          if (*count && step == *count) break;
          scenario::await_next_step(ctl, every, [] { return interrupted(); });
          if (interrupted()) break;
        }
      };
      if (whole_lab) {
        scenario::LabBalancer ctl(lab::lab_topology(target->lab), o->vni);
        loop(ctl, [](scenario::LabBalancer& c) { return json{{"nodes", scenario::to_json(c.step())}}; },
             [](const json& j) {
               for (const auto& n : j["nodes"]) print_result(n);
             });
        return;
      }
      const Netns ns = Netns::open(target->resolve());
      for (const auto& name : *observe) o->observers.push_back({name, name, {}});
      if (!target->node.empty()) o->node = target->node;
      scenario::BalanceController ctl(ns, *o);
      loop(ctl, [](scenario::BalanceController& c) { return scenario::to_json(c.step()); }, print_result);
    };
  });
}

}  // namespace qpspread::cli
