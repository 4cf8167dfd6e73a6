// The stats report shared by `stats`, `top` and `demo`: per VNI, the paths (attached uplink x remote VTEP)
// with their counters and shares, the imbalance and Jain's index over them, and the QPs.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>

#include "common/netns.h"

namespace qpspread::cli {

// {"netns", "vnis": [{"vni", "mode", "paths": [...], "imbalance", "jain", "qps": [...]}],
//  "uplinks": [{"ifname", "tx_packets", "tx_bytes", "tx_other_packets", ..., "rx_...": every frame}],
//  "reasons"}
// paths[]: ifname, remote_vtep, tx_/rx_ packets, bytes, roce_packets, roce_bytes, share (of tx RoCEv2
// bytes). qps[]: qpn, packets, bytes, sport, path, moves (sent), rx_packets, rx_bytes, rx_path,
// reordered, gaps (received); path and rx_path are null when unknown.
nlohmann::json build_stats(const Netns& ns, std::optional<uint32_t> only_vni);
// The report as `qpspread stats` prints it: per VNI a path table, the fairness line, a QP table.
void print_stats_table(const nlohmann::json& report);

}  // namespace qpspread::cli
