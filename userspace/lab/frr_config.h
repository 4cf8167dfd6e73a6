// FRR configuration for the routers of a test fabric: eBGP unnumbered underlay with multipath,
// EVPN (advertise-all-vni on the VTEPs), BFD on every session.
#pragma once

#include <string>
#include <vector>

namespace qpspread::lab {

// BFD timers of every fabric session: detection after 3 x 300 ms = 900 ms.
inline constexpr int kBfdIntervalMs = 300;
inline constexpr int kBfdMultiplier = 3;

struct RouterConfig {
  std::string hostname;
  unsigned asn = 0;
  std::string router_id;
  std::vector<std::string> fabric_ifs;  // BGP unnumbered sessions
  std::string vtep_prefix;              // "10.0.0.11/32" on a VTEP, "" on a spine
  std::string log_file;
};

std::string zebra_conf(const RouterConfig& r);
std::string bfdd_conf(const RouterConfig& r);
std::string bgpd_conf(const RouterConfig& r);

}  // namespace qpspread::lab
