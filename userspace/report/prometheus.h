// The Prometheus text exposition of `stats`: names prefixed qpspread_, counters ending in _total,
// labels netns, vni, path and remote_vtep; no per-QP labels (their number is unbounded). Packets
// by reason per program: qpspread_vxlan_packets_total (VTEP), qpspread_uplink_packets_total (the
// uplinks' tc program: frames that were not VXLAN), qpspread_xdp_packets_total (underlay XDP),
// each only when that program is attached.
#pragma once

#include <string>
#include <span>
#include <vector>

#include "userspace/report/stats_report.h"

namespace qpspread::report {

std::string prometheus_text(const StatsReport& stats);
// A label value, quoted and escaped: "a\\"b".
std::string prometheus_label(const std::string& value);
// Several namespaces in one exposition (the agent's /metrics): each family once.
std::string prometheus_text(std::span<const StatsReport> reports);

}  // namespace qpspread::report
