// experiment run: a study's spec run on the lab (userspace/scenario/experiment_run.h, the formats
// in docs/experiment.md). Progress goes to stderr; stdout gets the summary (plain or JSON).
#include <cstdio>
#include <iostream>

#include "userspace/cli/commands.h"
#include "userspace/scenario/experiment_run.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

struct RunArgs {
  scenario::ExperimentOptions opts;
  std::string spec, out;
};

}  // namespace

CLI::App* register_experiment_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("experiment", "a study: a spec's sweep run on the lab, every run recorded");
  cmd->require_subcommand(1);
  auto a = std::make_shared<RunArgs>();
  auto* run = cmd->add_subcommand("run", "run every point of SPEC (repeats with seeds) and record them in --out");
  run->add_option("spec", a->spec, "the study's spec (YAML; see docs/experiment.md)")->required()->check(CLI::ExistingFile);
  run->add_option("--out", a->out, "output folder (runs.jsonl, runs.csv, spec.yml, meta.json); default results/<name>");
  run->add_flag("--resume", a->opts.resume, "skip the runs already recorded ok in --out");
  run->add_flag("--keep-lab", a->opts.keep_lab, "leave the lab up at the end");
  run->callback([&ctx, a] {
    ctx.action = [&ctx, a] {
      a->opts.spec = a->spec;
      a->opts.out = a->out;
      a->opts.command_line = "qpspread experiment run " + a->spec + (a->out.empty() ? "" : " --out " + a->out) +
                             (a->opts.resume ? " --resume" : "") + (a->opts.keep_lab ? " --keep-lab" : "");
      auto say = [](const std::string& line) { std::cerr << "[experiment] " << line << std::endl; };
      const scenario::ExperimentSummary s = scenario::run_experiment(a->opts, say);
      const json j = {{"out", s.out.string()}, {"runs", s.runs}, {"skipped", s.skipped}, {"ok", s.ok},
                      {"failed", s.failed}, {"seconds", s.seconds}};
      emit(ctx.out, j, [](const json& j) {
        std::printf("%d runs: %d ok, %d failed, %d skipped (already recorded) in %.1f s; records in %s\n",
                    j["runs"].get<int>(), j["ok"].get<int>(), j["failed"].get<int>(), j["skipped"].get<int>(),
                    j["seconds"].get<double>(), j["out"].get<std::string>().c_str());
      });
    };
  });
  return cmd;
}

}  // namespace qpspread::cli
