// The relay as a service (what `qpspread wan-relay` runs for the lab runner): a WanRelay in the
// foreground inside one WAN link's wire namespace until SIGTERM or SIGINT; SIGHUP re-reads the
// impairment from the control file, which the runner rewrites for `qpspread lab impair`. The
// pidfile is written once both sockets are open: its appearance is the runner's signal that the
// link carries traffic.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>

#include "userspace/wan/impairment.h"
#include "userspace/wan/wan_relay.h"

namespace qpspread::wan {

struct RelayServiceOptions {
  std::string netns;  // the wire namespace; "": the current one
  WanRelayOptions relay;
  std::string control;  // "": SIGHUP has nothing to re-read
  std::string pidfile;  // "": none written
};

// The control file: one impairment for both directions ({"delay": "20ms", ...}), or
// {"a_to_b": {...}, "b_to_a": {...}}. read_control throws qpspread::Error naming the file.
void read_control(const std::string& path, Impairment* a_to_b, Impairment* b_to_a);
// Both directions alike, replaced atomically (written, then renamed): a relay reading it on SIGHUP
// never sees half a file.
void write_control(const std::string& path, const Impairment& both);

// Per direction ("a_to_b", "b_to_a"): the impairment and the counters.
nlohmann::json counters_json(const WanRelay& relay);

// Blocks SIGTERM, SIGINT and SIGHUP in every thread (call it before starting any), opens the
// relay, writes the pidfile and serves until told to stop; returns the final counters. Progress
// and SIGHUP changes go to `log`. Throws qpspread::Error when the relay cannot start or fails; the
// pidfile is then not left behind.
nlohmann::json serve_relay(const RelayServiceOptions& opts, std::ostream& log);

}  // namespace qpspread::wan
