// qpspread experiment report DIR: the study's records in, figures and reports out.
#include "userspace/report/experiment_report.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace qpspread::report {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return "";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
  if (!out.flush()) throw Error("cannot write " + p.string() + "; is " + p.parent_path().string() + " writable?");
}

nlohmann::json read_meta(const fs::path& p) {
  const std::string text = read_text(p);
  if (text.empty()) return nullptr;
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error(p.string() + " is not JSON (" + e.what() + "); fix it or remove it to report without it");
  }
}

}  // namespace

ReportResult write_experiment_report(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error("no folder " + dir + "; give the --out folder of 'qpspread experiment run'");
  const fs::path d(dir);
  const Study st = load_study((d / "runs.jsonl").string());
  const std::vector<FigurePlan> figs = plan_figures(st);

  const fs::path fig_dir = d / "figures";
  std::error_code ec;
  fs::create_directories(fig_dir, ec);
  if (ec) throw Error("cannot create " + fig_dir.string() + ": " + ec.message());
  ReportInputs in;
  in.dir = dir;
  in.spec_text = read_text(d / "spec.yml");
  in.meta = read_meta(d / "meta.json");
  ReportResult res;
  for (const FigurePlan& f : figs) {
    render_figure(f, fig_dir.string());
    in.figure_svgs.push_back(read_text(fig_dir / (f.id + ".svg")));
    res.figures.push_back(f.id);
  }
  res.html = (d / "report.html").string();
  res.markdown = (d / "report.md").string();
  res.summary_csv = (d / "summary.csv").string();
  write_text(res.html, render_html(st, figs, in));
  write_text(res.markdown, render_markdown(st, figs, in));
  write_text(res.summary_csv, render_summary_csv(st));
  res.points = st.points.size();
  res.runs = st.runs.size();
  res.ok = st.ok_runs();
  res.failed = st.failed_runs().size();
  return res;
}

}  // namespace qpspread::report
