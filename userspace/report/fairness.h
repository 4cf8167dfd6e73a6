// How evenly load is spread over paths: shares, imbalance (max share / mean share) and Jain's
// fairness index ((sum x)^2 / (n * sum x^2): 1 when even, 1/n when one path takes everything).
#pragma once

#include <cstdint>
#include <vector>

namespace qpspread::metrics {

std::vector<double> shares(const std::vector<uint64_t>& per_path);
double imbalance(const std::vector<uint64_t>& per_path);  // 0 when there is no traffic
double jain_index(const std::vector<uint64_t>& per_path);  // 0 when there is no traffic

}  // namespace qpspread::metrics
