// The JSON of `qpspread status` (and the agent's /v1/status): what is attached in a namespace.
// {"netns", "pin_dir", "attached", "devices": [{ifname, ifindex, vni, prog_id, attached,
// tc_hook ("tcx" or "clsact"), created_qdisc, mark, sport_min, sport_max, mode}], "vnis": [{vni, mode}], "uplinks": [...],
// "transit": [...], "reasons", "uplink_reasons", "xdp_reasons", "qp_entries"}; the reasons of each
// program are {name: {"packets", "bytes"}}, empty when that program is not attached.
#pragma once

#include <nlohmann/json.hpp>

#include "loader/attach.h"

namespace qpspread::report {

nlohmann::json device_json(const DeviceState& d);
// An underlay interface: the tc program (uplinks), the XDP program (uplinks: rx; transit: rewrite).
nlohmann::json underlay_json(const DeviceState& d, bool transit);
nlohmann::json status_json(const NetnsStatus& st);

}  // namespace qpspread::report
