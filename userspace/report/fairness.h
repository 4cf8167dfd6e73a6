// How evenly load is spread over paths: shares, imbalance (max share / mean share) and Jain's
// fairness index ((sum x)^2 / (n * sum x^2): 1 when even, 1/n when one path takes everything).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qpspread::report {

std::vector<double> shares(const std::vector<uint64_t>& per_path);
double imbalance(const std::vector<uint64_t>& per_path);  // 0 when there is no traffic
double jain_index(const std::vector<uint64_t>& per_path);  // 0 when there is no traffic

struct Balance {
  double imbalance = 0;
  double jain = 0;
};

// The balance rule of stats, top and the demo. The ECMP choice is the uplink (or WAN link), so
// the balance is over the uplinks, each with all its remote VTEPs together: a remote VTEP the VNI
// sends nothing to must not count as an idle alternative. `path_load` is (uplink, load) per path;
// an uplink listed only with 0 still counts as an idle uplink.
Balance uplink_balance(const std::vector<std::pair<std::string, uint64_t>>& path_load);

}  // namespace qpspread::report
