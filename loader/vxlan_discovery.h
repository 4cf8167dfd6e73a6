// Finds the kernel VXLAN devices of the calling thread's network namespace over netlink.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qpspread {

struct VxlanDevice {
  std::string ifname;
  int ifindex = 0;
  uint32_t vni = 0;
  std::string local;       // local VTEP address, "" when unset
  uint16_t dstport = 0;
  uint16_t port_min = 0;   // the source-port range the driver really uses (see flow_hash.h):
  uint16_t port_count = 0; // port_min .. port_min + port_count - 1
  bool range_is_default = false;  // `srcport 0 0`: the netns's ip_local_port_range applies
  bool external = false;   // collect-metadata ("external") device: no single VNI
};

// Call on a thread inside the namespace (Netns::run): netlink sockets and /proc/sys/net belong
// to the namespace of the thread that opens them.
std::vector<VxlanDevice> discover_vxlan_devices();

// net.ipv4.ip_local_port_range of the calling thread's namespace, as the kernel uses it for a
// VXLAN device whose range is 0 0.
void local_port_range(uint16_t& low, uint16_t& high);

}  // namespace qpspread
