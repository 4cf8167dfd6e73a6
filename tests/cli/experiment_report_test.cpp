// qpspread experiment report on a study written by the test (2 modes x 4 qps x 3 repeats, one run
// failed): the files it promises, and report.html opened in headless Chromium with every figure
// decoded (the page marks <body data-figures-loaded="N/M"> once loaded).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/test_util.h"

namespace qpspread::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json run_record(int point, int repeat, const std::string& mode, int qps) {
  const double r = 0.01 * repeat;
  const double imb = (mode == "off" ? 2.0 : 1.0 + 1.0 / qps) + r;
  char id[32];
  std::snprintf(id, sizeof(id), "p%04d-r%d", point, repeat);
  json rec = {{"run_id", id}, {"point", point}, {"repeat", repeat}, {"seed", 1 + 1000 * point + repeat},
              {"status", "ok"}, {"started", "2026-12-02T01:40:00.123Z"}, {"seconds", 12.5},
              {"versions", {{"qpspread", "0.1.0 (git 1a2b3c4)"}, {"kernel", "6.18.0"}, {"frr", "8.4.4"}}},
              {"config", {{"name", "spread"}, {"topology", "lab/scaleacross.clab.yml"}, {"runner", "qpspread"},
                          {"mode", mode}, {"collective", "allreduce"}, {"vni", 100}, {"ranks", 2}, {"qps", qps},
                          {"split", "rr"}, {"sport", "fixed"}, {"size", 1000000}, {"iterations", 4},
                          {"rate", "24mbit"}, {"bfd", true}, {"events", json::array()},
                          {"wan", {{"delay", "10ms"}, {"jitter", "0"}, {"loss", 0}, {"rate", "20mbit"}}}}},
              {"metrics", {{"wan_imbalance", imb}, {"wan_jain", 1 / imb}, {"uplink_imbalance", 1.1 + r},
                           {"uplink_jain", 0.98}, {"iteration_ms_p50", 824 / imb}, {"iteration_ms_p99", 831 / imb},
                           {"iteration_ms_max", 840 / imb}, {"algbw_bps", 9.5e6 * (2 / imb)},
                           {"retransmitted_frames", 6222 - 100 * qps}, {"psn_reordered", 120}, {"psn_gaps", 3},
                           {"correct", true}, {"interruption_ms", nullptr}, {"bfd_detect_ms", nullptr}}},
              {"links", json::array()}};
  return rec;
}

fs::path write_study() {
  const fs::path dir = fs::temp_directory_path() / ("qps-expreport-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream runs(dir / "runs.jsonl");
  int point = 0;
  for (const std::string mode : {"off", "qp-hash"})
    for (int qps : {2, 4, 8, 16}) {
      for (int r = 0; r < 3; r++) {
        json rec = run_record(point, r, mode, qps);
        if (point == 5 && r == 2) {
          rec["status"] = "failed";
          rec["error"] = "lab qps-study did not converge in 60 s";
          rec.erase("metrics");
        }
        runs << rec.dump() << "\n";
      }
      point++;
    }
  std::ofstream(dir / "spec.yml") << "name: spread\naxes:\n  mode: [off, qp-hash]\n  qps: [2, 4, 8, 16]\nrepeats: 3\n";
  std::ofstream(dir / "meta.json")
      << json{{"command", {"qpspread", "experiment", "run", "experiments/spread.yml", "--out", dir.string()}},
              {"versions", {{"qpspread", "0.1.0 (git 1a2b3c4)"}}}}
             .dump();
  return dir;
}

std::string which(const std::string& prog) {
  for (const std::string d : {"/usr/bin", "/usr/local/bin", "/bin", "/snap/bin"})
    if (::access((d + "/" + prog).c_str(), X_OK) == 0) return d + "/" + prog;
  return "";
}

// Chromium as our own child (in its own process group, with its helpers), killed on timeout.
CommandResult run_with_timeout(const std::vector<std::string>& argv, const fs::path& out_file, int seconds) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    std::FILE* out = std::freopen(out_file.c_str(), "w", stdout);
    std::FILE* err = std::freopen((out_file.string() + ".err").c_str(), "w", stderr);
    if (!out || !err) ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  CommandResult res;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      res.err = "timed out after " + std::to_string(seconds) + " s";
      return res;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(-pid, SIGKILL);  // helpers chromium may leave behind in its group
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(out_file);
  std::stringstream s;
  s << in.rdbuf();
  res.out = s.str();
  return res;
}

class ExperimentReportCli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = write_study(); }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(ExperimentReportCli, WritesFiguresAndReports) {
  const CommandResult r = run({QPSPREAD_BIN, "experiment", "report", dir_.string(), "-j"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["runs"], 24);
  EXPECT_EQ(j["ok"], 23);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["points"], 8);
  ASSERT_GE(j["figures"].size(), 5u) << r.out;
  for (const auto& id : j["figures"]) {
    for (const std::string ext : {".png", ".svg", ".gp", ".dat"}) {
      const fs::path f = dir_ / "figures" / (id.get<std::string>() + ext);
      EXPECT_TRUE(fs::exists(f) && fs::file_size(f) > 0) << f;
    }
  }
  for (const std::string f : {"report.html", "report.md", "summary.csv"})
    EXPECT_TRUE(fs::exists(dir_ / f)) << f;
  std::ifstream md(dir_ / "report.md");
  std::stringstream s;
  s << md.rdbuf();
  EXPECT_NE(s.str().find("p0005-r2"), std::string::npos) << "the failed run is listed";
  EXPECT_NE(s.str().find("qpspread experiment run experiments/spread.yml --out"), std::string::npos);
}

TEST_F(ExperimentReportCli, EveryFigureLoadsInHeadlessChromium) {
  const std::string chromium = which("chromium");
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (apt-get install chromium, scripts/install-deps.sh)";
  const CommandResult r = run({QPSPREAD_BIN, "experiment", "report", dir_.string(), "-j"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const size_t figures = json::parse(r.out)["figures"].size();
  ASSERT_GE(figures, 5u);
  const fs::path profile = dir_ / "chromium-profile";
  const CommandResult c = run_with_timeout(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
       "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile.string(),
       "--virtual-time-budget=5000", "--dump-dom", "file://" + (dir_ / "report.html").string()},
      dir_ / "dom.html", 90);
  ASSERT_EQ(c.exit_code, 0) << c.err << " (chromium's stderr: " << (dir_ / "dom.html.err") << ")";
  std::smatch m;
  ASSERT_TRUE(std::regex_search(c.out, m, std::regex("data-figures-loaded=\"(\\d+)/(\\d+)\"")))
      << "the page's load script did not run; DOM in " << (dir_ / "dom.html");
  EXPECT_EQ(m[2].str(), std::to_string(figures));
  EXPECT_EQ(m[1].str(), m[2].str()) << "figures that did not load; DOM in " << (dir_ / "dom.html");
}

TEST_F(ExperimentReportCli, MissingRecordsAreAnErrorNamingTheFile) {
  fs::remove(dir_ / "runs.jsonl");
  const CommandResult r = run({QPSPREAD_BIN, "experiment", "report", dir_.string(), "-j"});
  EXPECT_EQ(r.exit_code, 1);
  const json j = json::parse(r.out);
  ASSERT_TRUE(j.contains("error")) << r.out;
  EXPECT_NE(j["error"].get<std::string>().find("runs.jsonl"), std::string::npos) << r.out;
  EXPECT_NE(j["error"].get<std::string>().find("experiment run"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace qpspread::test
