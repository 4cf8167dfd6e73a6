// The one percentile of the project: nearest rank (the smallest value with at least p % of the
// values at or below it), as iteration-time and latency reports quote them.
#pragma once

#include <vector>

namespace qpspread {

// p in [0, 100]; 0 for no values. percentile(v, 50) is the median (the lower one for an even
// count), percentile(v, 100) the maximum, percentile(v, 0) the minimum.
double percentile(std::vector<double> values, double p);

}  // namespace qpspread
