// The records of a study in its output folder (docs/experiment.md): runs.jsonl (one record per
// run, appended), runs.csv (the same, tidy, rewritten after each run), spec.yml, meta.json; and
// the versions every record carries.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace qpspread::scenario {

class RunRecords {
 public:
  // Reads DIR/runs.jsonl when there is one. Without `resume`, a folder that already holds runs is
  // refused (its records would mix with the new ones).
  RunRecords(std::filesystem::path dir, bool resume);
  bool finished(const std::string& run_id) const { return ok_.count(run_id) > 0; }
  // Appends to runs.jsonl and rewrites runs.csv.
  void append(const nlohmann::json& record);
  const std::filesystem::path& dir() const { return dir_; }

 private:
  void write_csv() const;
  std::filesystem::path dir_;
  std::vector<nlohmann::json> records_;
  std::set<std::string> ok_;
};

// The CSV of the records: header, then per run_id its latest record, in run_id order.
std::string records_csv(const std::vector<nlohmann::json>& records);

// {"qpspread": "0.1.0 (git ...)", "kernel": uname's release, "frr": "8.4.4" or null}.
nlohmann::json versions_json();
// "2026-12-02T01:40:00.123Z" for now.
std::string utc_now_iso();
// Atomically (a temporary file renamed over it).
void write_file(const std::filesystem::path& path, const std::string& text);

}  // namespace qpspread::scenario
