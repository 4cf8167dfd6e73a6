// The stats report shared by `stats` and `top`: per VNI, the paths (attached uplink x remote VTEP)
// with their counters and shares, the imbalance and Jain's index over them, and the QPs.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>

#include "loader/netns.h"

namespace qpspread::cli {

// {"netns", "vnis": [{"vni", "mode", "paths": [...], "imbalance", "jain", "qps": [...]}], "reasons"}
nlohmann::json build_stats(const Netns& ns, std::optional<uint32_t> only_vni);

}  // namespace qpspread::cli
