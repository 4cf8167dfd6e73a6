// The pure part of `top`: two stats reports (stats_report.h) of one namespace, taken a measured
// time apart, become one frame of rates, shares and the busiest QPs; the frame renders as text.
// Nothing here reads the kernel or the clock, so unit tests drive it with hand-made reports.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "userspace/report/stats_report.h"

namespace qpspread::report {

// How much a cumulative counter grew between two reads. A counter that went down was reset (a
// detach and re-attach, an LRU eviction and re-insertion): it has counted `after` since then.
uint64_t counter_delta(uint64_t before, uint64_t after);

// {"netns", "elapsed", "vnis": [{"vni", "mode", "qp_count",
//   "paths": [{"ifname", "remote_vtep", "tx_pps", "tx_bps", "rx_pps", "rx_bps", "rx_ce_pps", "rx_cnp_pps",
//              "share"}],
//   "imbalance", "jain", "qps": [{"qpn", "path"?, "pps", "bps", "moves", "reordered", "gaps"}]}]}
// Shares, imbalance and Jain's index (uplink_balance) are over the interval's RoCEv2 bytes per
// path; moves, reordered and gaps are the interval's counts. `qps` holds the `top_qps` busiest by
// byte rate. mode is null for a VNI only observed on the uplinks, as in the stats report.
nlohmann::json top_frame(const StatsReport& before, const StatsReport& after, double elapsed_s, size_t top_qps);

// The frame for people: a header, then per VNI the path table, the fairness line and the QP
// table. Plain text without escape codes; "interval" and "time", when the caller set them, go
// into the header.
std::string render_top_frame(const nlohmann::json& frame);

}  // namespace qpspread::report
