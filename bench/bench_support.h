// What the benchmarks share: runs timed into a min/median/max summary, and the datapath's per-QP
// maps filled straight from userspace with n QPs, as if traffic of n QPs had passed.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace qpspread::bench {

// The CPU's model name (/proc/cpuinfo), for every figure printed: these VMs differ.
std::string cpu_model();

double seconds_since(std::chrono::steady_clock::time_point t0);

struct Summary {
  std::vector<double> runs;  // sorted
  double min() const { return runs.front(); }
  double median() const { return runs[runs.size() / 2]; }
  double max() const { return runs.back(); }
  nlohmann::json to_json() const;  // {"min_s", "median_s", "max_s", "runs_s"}
};
// `fn` run `runs` times, each timed (Ctrl-C between runs throws, so destructors clean up).
Summary timed(int runs, const std::function<void()>& fn);
// Values already measured (seconds).
Summary summary_of(std::vector<double> values);

UniqueFd open_pin(const std::string& pin_dir, const char* name);
// n QPs of `vni` in qp_stats (a distinct value per CPU, as traffic on every CPU would leave) and
// qp_paths (on the uplink `uplink_ifindex`).
void fill_qps(const std::string& pin_dir, uint32_t vni, uint32_t uplink_ifindex, uint32_t n);

}  // namespace qpspread::bench
