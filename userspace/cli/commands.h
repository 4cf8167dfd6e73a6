// Each group of subcommands registers itself on the app; the action runs after parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include "userspace/cli/output.h"

namespace qpspread::cli {

struct Context {
  OutputOptions out;
  bool verbose = false;
  std::function<void()> action;  // set by the subcommand that was given
};

// --netns NS, or --lab LAB --node NODE for containerlab's clab-LAB-NODE.
struct NetnsTarget {
  std::string netns, lab, node;
  void add_to(CLI::App* cmd, bool required);
  bool given() const { return !netns.empty() || !lab.empty() || !node.empty(); }
  std::string resolve() const;  // throws Error on a half-given --lab/--node
};

void register_core_commands(CLI::App& app, Context& ctx);
void register_balance_command(CLI::App& app, Context& ctx);
void register_agent_command(CLI::App& app, Context& ctx);
void register_stats_command(CLI::App& app, Context& ctx);
void register_top_command(CLI::App& app, Context& ctx);
void register_demo_command(CLI::App& app, Context& ctx);
void register_lab_command(CLI::App& app, Context& ctx);
void register_wan_relay_command(CLI::App& app, Context& ctx);
void register_workload_command(CLI::App& app, Context& ctx);
// `experiment` with its `run` subcommand; returns the group so `experiment report` can join it.
CLI::App* register_experiment_command(CLI::App& app, Context& ctx);
// Adds `report DIR` to the `experiment` command.
void register_experiment_report(CLI::App* experiment, Context& ctx);

}  // namespace qpspread::cli
