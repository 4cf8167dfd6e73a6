#include "userspace/scenario/experiment_records.h"

#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "common/command.h"
#include "common/error.h"

namespace qpspread::scenario {
namespace {

using nlohmann::json;

const char* const kConfigColumns[] = {"part", "mode", "collective", "ranks", "qps", "split", "sport", "size", "iterations", "duration", "rate", "cc", "ack_timeout"};
const char* const kMetricColumns[] = {"wan_imbalance", "wan_jain", "uplink_imbalance", "uplink_jain", "iteration_ms_p50",
                                      "iteration_ms_p99", "iteration_ms_max", "algbw_bps", "frames", "retransmitted_frames",
                                      "psn_reordered", "psn_gaps", "correct", "interruption_ms", "bfd_detect_ms", "wan_cut_quiet_ms",
                                      "wan_back_ms", "wan_rebalanced_ms", "psn_reordered_after_back", "collective_s", "ecn_ce_rx", "cnp_tx"};

// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string field(const json& v) {
  std::string s = v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string events_field(const json& events) {
  std::string out;
  for (const auto& e : events)
    out += (out.empty() ? "" : "; ") + e.value("at", "") + (e.contains("node") ? " node " + e.value("node", "") : " link " + e.value("link", "")) +
           " " + e.value("state", "");
  return out;
}

}  // namespace

std::string records_csv(const std::vector<json>& records) {
  std::map<std::string, const json*> latest;
  for (const auto& r : records) latest[r.value("run_id", "")] = &r;
  std::ostringstream out;
  out << "run_id,point,repeat,seed,status";
  for (const char* c : kConfigColumns) out << "," << c;
  out << ",wan_delay,wan_jitter,wan_loss,wan_rate,wan_ecn,bfd,events";
  for (const char* c : kMetricColumns) out << "," << c;
  out << ",seconds,error\n";
  for (const auto& [id, rp] : latest) {
    const json& r = *rp;
    const json& c = r.value("config", json::object());
    const json& m = r.value("metrics", json::object());
    const json& w = c.value("wan", json::object());
    out << field(id) << "," << field(r.value("point", json())) << "," << field(r.value("repeat", json())) << ","
        << field(r.value("seed", json())) << "," << field(r.value("status", json()));
    for (const char* k : kConfigColumns) out << "," << field(c.value(k, json()));
    for (const char* k : {"delay", "jitter", "loss", "rate", "ecn"}) out << "," << field(w.value(k, json()));
    out << "," << field(c.value("bfd", json())) << "," << field(events_field(c.value("events", json::array())));
    for (const char* k : kMetricColumns) out << "," << field(m.value(k, json()));
    out << "," << field(r.value("seconds", json())) << "," << field(r.value("error", json())) << "\n";
  }
  return out.str();
}

RunRecords::RunRecords(std::filesystem::path dir, bool resume) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
  std::ifstream f(dir_ / "runs.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;  // a line cut by a crash: that run is run again
    if (j.value("status", "") == "ok") ok_.insert(j.value("run_id", ""));
    records_.push_back(std::move(j));
  }
  if (!resume && !records_.empty())
    throw Error(dir_.string() + " already holds " + std::to_string(records_.size()) +
                " runs; pass --resume to continue them, or another --out");
}

void RunRecords::append(const json& record) {
  {
    std::ofstream f(dir_ / "runs.jsonl", std::ios::app);
    f << record.dump() << "\n";
    if (!f) throw Error("cannot append to " + (dir_ / "runs.jsonl").string() + "; is the folder writable?");
  }
  if (record.value("status", "") == "ok") ok_.insert(record.value("run_id", ""));
  records_.push_back(record);
  write_csv();
}

void RunRecords::write_csv() const { write_file(dir_ / "runs.csv", records_csv(records_)); }

void write_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp);
    f << text;
    if (!f) throw Error("cannot write " + tmp.string() + "; is the folder writable?");
  }
  std::filesystem::rename(tmp, path);
}

std::string utc_now_iso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

json versions_json() {
  std::string qps = QPSPREAD_VERSION;
  const CommandOutput git = run_command({"git", "-C", QPSPREAD_SOURCE_DIR, "describe", "--always", "--dirty"});
  if (git.exit_code == 0 && !git.out.empty()) qps += " (git " + git.out.substr(0, git.out.find('\n')) + ")";
  utsname u{};
  ::uname(&u);
  json frr = nullptr;
  const CommandOutput z = run_command({"/usr/lib/frr/zebra", "--version"});
  const auto at = z.out.find("version ");
  if (z.exit_code == 0 && at != std::string::npos) {
    const std::string rest = z.out.substr(at + 8);
    frr = rest.substr(0, rest.find_first_of(" \n"));
  }
  return {{"qpspread", qps}, {"kernel", u.release}, {"frr", frr}};
}

}  // namespace qpspread::scenario
