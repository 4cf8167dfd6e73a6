// A small EVPN-VXLAN fabric in network namespaces with real FRR: 2 leaves (VTEPs), N spines, a
// host per leaf on one L2 VNI. Built by the constructor (which waits for BGP, BFD, EVPN and ECMP),
// torn down completely by the destructor, also when the constructor fails midway.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/frr_daemons.h"

namespace qpspread::lab {

struct FabricSpec {
  std::string tag;  // unique per run; namespaces are qps-<tag>-<node>
  int spines = 2;   // >= 2
  uint32_t vni = 100;
  std::function<void(const std::string&)> progress;  // optional
};

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
  std::vector<std::string> leaf_uplinks(int i) const;
  std::string leaf_vxlan_dev(int) const { return "vxlan" + std::to_string(spec_.vni); }
  std::string leaf_vtep_ip(int i) const { return "10.0.0." + std::to_string(11 + i); }
  uint32_t vni() const { return spec_.vni; }
  const std::vector<std::unique_ptr<FrrRouter>>& routers() const { return routers_; }

 private:
  std::string ns(const std::string& node) const { return "qps-" + spec_.tag + "-" + node; }
  void build();
  void build_leaf(int i);
  void add_netns(const std::string& name);
  void start_frr();
  void wait_converged();
  void teardown() noexcept;
  void say(const std::string& line) const {
    if (spec_.progress) spec_.progress(line);
  }

  FabricSpec spec_;
  std::vector<std::string> namespaces_;  // created so far, removed by teardown
  std::string conf_dir_;
  std::vector<std::unique_ptr<FrrRouter>> routers_;
};

}  // namespace qpspread::lab
