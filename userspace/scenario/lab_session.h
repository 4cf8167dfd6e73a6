// What the demo and the experiment runner both do on a running lab: attach qpspread to every leaf
// and to the borders' WAN interfaces, pick the hosts of a VNI in both data centers, count the
// RoCEv2 bytes each WAN link-direction carried, and take the lab down on every path.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "userspace/lab/clab_file.h"
#include "userspace/workload/rc_host.h"

namespace qpspread::scenario {

using Progress = std::function<void(const std::string&)>;

// The node's label `role` (leaf, spine, border, host), "" when none.
std::string role(const lab::ClabNode& n);

// Takes the lab down however its scope is left (an error, Ctrl-C); lab_down is safe to repeat.
struct LabGuard {
  std::string name;
  bool armed = true;
  ~LabGuard();
};

// Attaches to every leaf (mode off) and to each border's WAN interfaces as uplinks, so their
// stats count per WAN link.
void attach_all(const lab::ClabTopology& t, const Progress& say);

// `ranks` hosts of the VNI, half in each data center, those of dc1 first: the ring then crosses
// the WAN twice, once each way. Throws when the lab has fewer.
std::vector<workload::HostAddr> ring_hosts(const lab::ClabTopology& t, uint32_t vni, int ranks);

// RoCEv2 bytes sent into each WAN link by each border, keyed "wan1 dc1-border1>dc2-border1": a
// path is one link in one direction, as a flow between the data centers takes one of them.
std::map<std::string, uint64_t> wan_bytes(const lab::ClabTopology& t);

// The leaf of a host (clab-LAB-<leaf>-h<vni>).
std::string leaf_of_host(const lab::ClabTopology& t, const workload::HostAddr& host, uint32_t vni);

}  // namespace qpspread::scenario
