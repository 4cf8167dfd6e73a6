// The Prometheus text exposition of `stats`: names prefixed qpspread_, counters ending in _total,
// labels netns, vni, path and remote_vtep; no per-QP labels (their number is unbounded).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace qpspread::cli {

std::string prometheus_text(const nlohmann::json& stats);

}  // namespace qpspread::cli
