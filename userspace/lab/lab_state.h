// What `qpspread lab up` made, written before each step takes effect so that `lab down` can undo
// everything even after an `up` that crashed or was killed: /run/qpspread/lab/<lab>/state.json.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "common/process.h"

namespace qpspread::lab {

// A process the lab started, identified by PID and start time so a reused PID is never signalled.
struct LabProcess {
  std::string node, what;  // e.g. "dc1-leaf1", "bgpd"
  pid_t pid = 0;
  unsigned long long start_ticks = 0;
};

// True when pid still runs and is the process that was recorded.
bool still_running(const LabProcess& p);
// SIGTERM to those still_running, all asked first and then waited for together up to `grace_ms`,
// then SIGKILL to any left. Returns how many were running.
int end_processes(const std::vector<LabProcess>& ps, int grace_ms = 3000);

class LabState {
 public:
  static std::string dir_for(const std::string& lab);  // /run/qpspread/lab/<lab>
  static std::optional<LabState> load(const std::string& lab);
  static LabState create(const std::string& lab, const std::string& topology_file);

  nlohmann::json& json() { return j_; }
  const nlohmann::json& json() const { return j_; }
  const std::string& lab() const { return lab_; }
  std::string dir() const { return dir_for(lab_); }

  void add_namespace(const std::string& ns);     // recorded, then saved: before `ip netns add`
  void add_process(const LabProcess& p);
  void remove_processes(const std::string& node);  // after they were ended
  std::vector<LabProcess> processes() const;
  void event(const std::string& what);           // a timestamped line for experiments
  void save() const;                             // atomically (write, rename)
  void remove() const;                           // the state directory and everything in it

 private:
  std::string lab_;
  nlohmann::json j_;
};

// Wall-clock time as ISO 8601 with milliseconds, UTC.
std::string utc_now();

}  // namespace qpspread::lab
