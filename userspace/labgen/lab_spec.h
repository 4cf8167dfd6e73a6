// The multi-data-center lab as data: DCs of spines, leaves (VTEPs), a border gateway and hosts,
// the links between them (interface names as containerlab numbers them), the parallel WAN links
// between borders, and the address, ASN and hash-seed plan. Pure: the writer turns it into a
// containerlab topology and FRR configs, tests check its invariants.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qpspread::lab {

struct LabParams {
  std::string name = "scaleacross";
  int dcs = 2;        // 2..4: spine ASNs are 65<dc>00, inside the 2-byte private range
  int spines = 2;     // per DC, 1..9
  int leaves = 2;     // per DC, 1..9: hosts are 10.<vni>.0.<dc><leaf>
  int wan_links = 2;  // parallel links between each pair of borders, 1..8
};

enum class Role { spine, leaf, border, host };
const char* role_name(Role r);

// What the WAN relay applies to a link (containerlab `tools netem` vocabulary); "" rate = unlimited.
struct Impairment {
  std::string delay = "10ms", jitter = "0ms", loss = "0", rate;
};

struct Endpoint {
  std::string node, ifname;
};

struct LabLink {
  Endpoint a, b;
  std::string wan_name;  // "wan1", ...; empty inside a DC
  Impairment impairment;
  bool wan() const { return !wan_name.empty(); }
};

struct VniPort {
  uint32_t vni;
  std::string ifname;  // the leaf's interface towards the host of this VNI
};

struct LabNode {
  std::string name;
  Role role = Role::host;
  int dc = 1;
  // Routers
  unsigned asn = 0;
  std::string loopback;  // "10.1.0.11": router id, and the VTEP address on leaves
  int hash_seed = 0;     // net.ipv4.fib_multipath_hash_seed, distinct per router
  std::vector<std::string> fabric_ifs, wan_ifs;
  std::vector<VniPort> vni_ports;  // leaves
  // Hosts
  uint32_t vni = 0;
  std::string host_ip;  // "10.100.0.11/24"
  std::string mac;      // "02:00:00:00:01:01" on eth1; "" keeps the kernel's random one
  int next_if = 1;      // containerlab's eth0 is management: links start at eth1

  bool router() const { return role != Role::host; }
};

struct LabSpec {
  std::string name;
  std::vector<uint32_t> vnis;
  std::vector<LabNode> nodes;
  std::vector<LabLink> links;
  const LabNode* find(const std::string& node) const;
};

// Host MTU and VXLAN device MTU: RoCE's 4096-byte MTU fits, and VXLAN's 50 bytes still fit the
// 9500-byte veths containerlab creates by default.
inline constexpr int kOverlayMtu = 9000;

// Throws qpspread::Error when a count is outside the ranges above.
LabSpec build_lab(const LabParams& p);

}  // namespace qpspread::lab
