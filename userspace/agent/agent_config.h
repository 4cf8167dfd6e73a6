// The agent's configuration file (YAML), typed where it is read: every key and value is checked
// before the agent touches anything, and a bad one is named with its file, line and key.
//
//   listen: 127.0.0.1:9477     # the HTTP endpoint (GET only); "off": none
//   targets:                   # default: the agent's own network namespace
//     - netns: leaf1           # a named namespace ("" or "self": the agent's own)
//       devices: [vx100]       # default: every VXLAN device, as they come and go
//       uplinks: discover      # or a list [eth1, eth2], or none
//       transit: [eth3]        # interfaces VXLAN of host VTEPs arrives by
//       transit_vnis: [100]
//     - lab: dc                # every leaf (VXLAN, uplinks discovered) and border (WAN links) of a lab
//   mode: qp-hash              # for VNIs that have no mode yet
//   flowlet_gap: 50ms          # mode balance's
//   vnis:                      # applied at start, on reload when changed, and when the VNI is new
//     100: {mode: balance, flowlet_gap: 5ms}
//   mark: 0x5150
//   balance: {interval: 1s, observe: [border1]}  # controllers for the VNIs in mode balance
//   tc_api: tcx                # or clsact; default: tcx where the kernel has it (attach --tc-api)
//   resync: 30s                # a full check even without netlink events (a program removed
//                              # from a tcx hook makes none)
//   on_exit: keep              # keep the datapath attached when the agent stops, or detach
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loader/tc_hook.h"
#include "qpspread/abi.h"

namespace qpspread::agent {

struct AgentTarget {
  std::string netns;  // "": the agent's own
  std::string lab;    // or a lab's leaves and borders
  std::vector<std::string> devices;
  bool discover_uplinks = true;
  std::vector<std::string> uplinks, transit;
  std::vector<uint32_t> transit_vnis;
  bool operator==(const AgentTarget&) const = default;
};

struct AgentConfig {
  std::filesystem::path file;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 9477;  // 0: no endpoint
  std::vector<AgentTarget> targets;
  qps_vni_cfg default_mode{QPS_MODE_QP_HASH, QPS_DEFAULT_FLOWLET_GAP_US, 0};
  std::map<uint32_t, qps_vni_cfg> vnis;
  uint32_t mark = QPS_DEFAULT_MARK;
  int64_t balance_interval_ns = 1'000'000'000;
  std::vector<std::string> balance_observe;  // namespaces whose uplinks the controllers observe
  std::optional<TcApi> tc_api;  // none: attach's default
  int64_t resync_ns = 30'000'000'000;
  bool detach_on_exit = false;
};

// "HOST:PORT" ("[::1]:9477" for IPv6) or "off" (port 0); false when it is neither.
bool parse_listen(const std::string& text, std::string& host, uint16_t& port);

// Throws qpspread::Error "file:LINE: key: problem" for the first bad key or value.
AgentConfig parse_agent_config(const std::string& yaml_text, const std::filesystem::path& file);
// Reads and parses the file; a file that cannot be read or parsed is a qpspread::UsageError.
AgentConfig load_agent_config(const std::filesystem::path& file);

}  // namespace qpspread::agent
