// The Prometheus text exposition of `stats`: names prefixed qpspread_, counters ending in _total,
// labels netns, vni, path and remote_vtep; no per-QP labels (their number is unbounded). Packets
// by reason per program: qpspread_vxlan_packets_total (VTEP), qpspread_uplink_packets_total (the
// uplinks' tc program: frames that were not VXLAN), qpspread_xdp_packets_total (underlay XDP),
// each only when that program is attached.
#pragma once

#include <string>

#include "userspace/report/stats_report.h"

namespace qpspread::report {

std::string prometheus_text(const StatsReport& stats);

}  // namespace qpspread::report
