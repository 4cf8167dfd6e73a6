// FRR configuration for the routers of a lab: eBGP unnumbered underlay with multipath, EVPN
// (advertise-all-vni on the VTEPs), BFD on every session, as FRR's integrated frr.conf (read by
// `vtysh -b` in the FRR container, and by the lab runner's `vtysh -f`).
#pragma once

#include <string>
#include <vector>

namespace qpspread::lab {

// BFD timers of every fabric session: detection after 3 x 300 ms = 900 ms.
inline constexpr int kBfdIntervalMs = 300;
inline constexpr int kBfdMultiplier = 3;
// WAN sessions (between border gateways) get their own profile so they can be tuned apart. Same
// values: a 10 ms (+ jitter) WAN adds nothing close to 300 ms, and 0.9 s detection keeps inter-DC
// failover below the eBGP hold time by an order of magnitude.
inline constexpr int kWanBfdIntervalMs = 300;
inline constexpr int kWanBfdMultiplier = 3;

struct RouterConfig {
  std::string hostname;
  unsigned asn = 0;
  std::string router_id;
  std::vector<std::string> fabric_ifs;  // BGP unnumbered sessions
  std::string vtep_prefix;              // "10.0.0.11/32" on a VTEP, "" on a spine
  std::string log_file;                 // "" for none
  std::vector<std::string> wan_ifs;     // BGP unnumbered sessions to another DC (border gateways)
  // Spines and borders relay EVPN routes between VTEPs: the next hop must stay the VTEP's.
  bool evpn_nexthop_unchanged = false;
};

// FRR's integrated configuration (/etc/frr/frr.conf).
std::string frr_conf(const RouterConfig& r);
// FRR's /etc/frr/daemons: bgpd and bfdd on (zebra, staticd and watchfrr always run).
std::string frr_daemons_file();

}  // namespace qpspread::lab
