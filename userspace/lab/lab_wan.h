// WAN links of the lab: their impairments (delay, jitter, loss, rate), set at up and changed at
// run time. Backend `netem` where the kernel has sch_netem (tc on both ends, as containerlab's
// `tools netem set` does); otherwise `relay`: the link passes through a wire namespace
// (qps-wire-<lab>-<link>) where `qpspread wan-relay` forwards every frame with the impairments.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "userspace/lab/clab_file.h"
#include "userspace/lab/lab_state.h"
#include "userspace/wan/impairment.h"

namespace qpspread::lab {

// Creates the link with its declared impairment; recorded in the state under links.<name>, the
// impairment as wan::to_json writes it. On the relay backend, waits for the relay's pidfile and
// throws qpspread::Error naming the link and the relay's log when it does not start (the lab
// stays recorded for `lab down`).
void wan_link_up(LabState& st, const ClabTopology& t, const ClabLink& l);
// {"name", "endpoints", "backend", "impairment", "cut", "relay_running", ...}
nlohmann::json wan_link_status(const LabState& st, const ClabLink& l);
// Changes what is set (the rest keeps its value); takes effect at once.
// {"link", "backend", "impairment", "time"}
nlohmann::json wan_impair(LabState& st, const ClabLink& l, const wan::ImpairmentChange& change);
// Cut: every frame dropped in both directions, the ends keep their carrier; uncut restores.
void wan_cut(LabState& st, const ClabLink& l, bool cut);
// True when this kernel has sch_netem (probed once in a throwaway namespace).
bool netem_available();

}  // namespace qpspread::lab
