// Pieces shared by lab up, down, status and the failure injection (not part of the library's API).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "userspace/lab/clab_file.h"
#include "userspace/lab/lab_state.h"

namespace qpspread::lab {

// argv to run in a namespace: `ip -n NS ...` for iproute2, `ip netns exec NS ...` otherwise.
std::vector<std::string> in_netns(const std::string& ns, const std::vector<std::string>& argv);

// A veth pair between two namespaces, both ends up (mtu 0: the kernel's default).
void veth_between(const std::string& ns_a, const std::string& if_a, const std::string& ns_b, const std::string& if_b,
                  int mtu);

// zebra, bfdd and bgpd for one router, recorded in the state, then its integrated frr.conf applied
// with vtysh (each daemon takes its part, as `vtysh -b` does in the FRR container).
void start_frr(LabState& st, const std::string& ns, const std::string& node, const std::string& frr_conf);

// What FRR says of one router.
struct RouterView {
  bool answered = false;
  std::map<std::string, std::string> bgp_peers;  // "afi peer" -> state
  std::map<std::string, std::string> bfd_peers;  // "interface/peer" -> status
  std::map<uint32_t, std::vector<std::string>> vni_remote_vteps;
};
RouterView router_view(const ClabTopology& t, const std::string& node);

}  // namespace qpspread::lab
