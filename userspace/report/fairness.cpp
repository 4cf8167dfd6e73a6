#include "userspace/report/fairness.h"

#include <algorithm>
#include <map>
#include <numeric>

namespace qpspread::report {

std::vector<double> shares(const std::vector<uint64_t>& v) {
  const double total = static_cast<double>(std::accumulate(v.begin(), v.end(), uint64_t{0}));
  std::vector<double> out;
  for (uint64_t n : v) out.push_back(total ? static_cast<double>(n) / total : 0.0);
  return out;
}

double imbalance(const std::vector<uint64_t>& v) {
  const uint64_t total = std::accumulate(v.begin(), v.end(), uint64_t{0});
  if (v.empty() || !total) return 0;
  const double mean = static_cast<double>(total) / static_cast<double>(v.size());
  return static_cast<double>(*std::max_element(v.begin(), v.end())) / mean;
}

double jain_index(const std::vector<uint64_t>& v) {
  double sum = 0, sq = 0;
  for (uint64_t n : v) {
    sum += static_cast<double>(n);
    sq += static_cast<double>(n) * static_cast<double>(n);
  }
  return sq ? sum * sum / (static_cast<double>(v.size()) * sq) : 0;
}

Balance uplink_balance(const std::vector<std::pair<std::string, uint64_t>>& path_load) {
  std::map<std::string, uint64_t> per_uplink;
  for (const auto& [uplink, load] : path_load) per_uplink[uplink] += load;
  std::vector<uint64_t> load;
  for (const auto& [_, n] : per_uplink) load.push_back(n);
  return {imbalance(load), jain_index(load)};
}

}  // namespace qpspread::report
