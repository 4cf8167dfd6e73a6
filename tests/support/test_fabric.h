// A small EVPN-VXLAN fabric with real FRR: 2 leaves (VTEPs), N spines, a host per leaf on one L2
// VNI. It is a containerlab topology (written by the lab generator's writer into a temporary
// directory) brought up by the lab runner, so the tests run the same launcher and convergence
// check as `qpspread lab up`. The constructor returns once the lab converged and the data plane
// carries traffic; the destructor takes the lab down, also when the constructor failed midway.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "userspace/lab/clab_file.h"

namespace qpspread::lab {

struct FabricSpec {
  std::string tag;  // unique per run; the lab is fabric_lab_name(tag)
  int spines = 2;   // >= 2
  uint32_t vni = 100;
  int timeout_s = 60;  // for the lab to converge
  std::function<void(const std::string&)> progress;  // optional
};

// The lab's name: its namespaces are clab-<name>-<node> (leaf1, leaf2, spine1.., host1, host2).
inline std::string fabric_lab_name(const std::string& tag) { return "qps-" + tag; }

struct HostInfo {
  std::string netns;
  std::string ifname;
  std::string ip;  // 10.100.0.N/24, both hosts in one subnet (L2 VNI)
  std::array<uint8_t, 6> mac{};
};

class TestFabric {
 public:
  explicit TestFabric(FabricSpec spec);
  ~TestFabric();
  TestFabric(const TestFabric&) = delete;
  TestFabric& operator=(const TestFabric&) = delete;

  std::string leaf_netns(int i) const;  // i in {0, 1}
  std::string spine_netns(int i) const;
  HostInfo host(int i) const;           // host i hangs off leaf i
  std::vector<std::string> leaf_uplinks(int i) const;  // up1..upN; the spines' ends are dn1, dn2
  std::string leaf_vxlan_dev(int) const { return "vxlan" + std::to_string(spec_.vni); }
  std::string leaf_vtep_ip(int i) const { return "10.0.0." + std::to_string(11 + i); }
  uint32_t vni() const { return spec_.vni; }
  const std::string& lab_name() const { return topo_.name; }
  const ClabTopology& topology() const { return topo_; }
  // zebra, bfdd and bgpd of every router, as the lab runner recorded them.
  std::vector<pid_t> frr_pids() const;
  // Until both leaves' routes to each other leave by every uplink again and the hosts ping (after a
  // test took a link down and up); throws after 30 s.
  void wait_data_plane() const;

 private:
  void write_topology();
  void teardown() noexcept;
  void say(const std::string& line) const {
    if (spec_.progress) spec_.progress(line);
  }

  FabricSpec spec_;
  std::string dir_;  // the topology file and FRR configs, removed by teardown
  ClabTopology topo_;
  bool up_called_ = false;
};

}  // namespace qpspread::lab
