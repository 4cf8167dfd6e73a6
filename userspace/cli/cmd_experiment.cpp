// experiment: the study (docs/experiment.md). The parent command; `run` and `report` register on it.
#include "userspace/cli/commands.h"

namespace qpspread::cli {

void register_experiment_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("experiment", "a reproducible study: run a sweep from a spec, report on its records");
  cmd->require_subcommand(1);
  register_experiment_report(cmd, ctx);
}

}  // namespace qpspread::cli
