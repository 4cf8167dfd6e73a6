// experiment report DIR: aggregates the study's repeats, draws its figures, writes report.html,
// report.md and summary.csv (userspace/report/experiment_report.h).
#include <cstdio>

#include "userspace/cli/commands.h"
#include "userspace/report/experiment_report.h"

namespace qpspread::cli {

void register_experiment_report(CLI::App* experiment, Context& ctx) {
  auto* cmd = experiment->add_subcommand("report", "aggregate a study's runs into figures, report.html and report.md");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("DIR", *dir, "the --out folder of 'qpspread experiment run'")->required();
  cmd->callback([&ctx, dir] {
    ctx.action = [&ctx, dir] {
      const report::ReportResult r = report::write_experiment_report(*dir);
      const nlohmann::json j = {{"dir", *dir},       {"html", r.html},       {"markdown", r.markdown},
                                {"summary_csv", r.summary_csv}, {"figures", r.figures}, {"points", r.points},
                                {"runs", r.runs},    {"ok", r.ok},           {"failed", r.failed}};
      emit(ctx.out, j, [](const nlohmann::json& j) {
        std::printf("%zu runs (%zu ok, %zu failed) over %zu points; %zu figures in %s/figures/\n",
                    j["runs"].get<size_t>(), j["ok"].get<size_t>(), j["failed"].get<size_t>(),
                    j["points"].get<size_t>(), j["figures"].size(), j["dir"].get<std::string>().c_str());
        std::printf("written: %s, %s, %s\n", j["html"].get<std::string>().c_str(),
                    j["markdown"].get<std::string>().c_str(), j["summary_csv"].get<std::string>().c_str());
      });
    };
  });
}

}  // namespace qpspread::cli
