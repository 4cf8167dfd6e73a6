// The lab a study's runs share, under either runner (LabControl), and what the runs do on it:
// attach qpspread to every leaf and to the borders' WAN interfaces, pick the hosts of a VNI in both
// data centers, count the RoCEv2 bytes each WAN link-direction carried.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "loader/attach.h"
#include "userspace/lab/clab_file.h"
#include "userspace/wan/impairment.h"
#include "userspace/workload/rc_host.h"

namespace qpspread::scenario {

using Progress = std::function<void(const std::string&)>;

// The node's label `role` (leaf, spine, border, host), "" when none.
std::string role(const lab::ClabNode& n);

// The lab as its runner has it (topo.runner). qpspread's runner: brought up by open(), taken down
// by close(). A lab deployed by containerlab: open() checks it is the one the file describes and
// waits for it to converge; close() puts back what the runs changed and leaves it up: qpspread
// detached from every node, the WAN links as the file's vars.impairment (as `qpspread lab impair
// --from-file` sets them; where the kernel has no sch_netem no run could change them). Either way open() attaches
// qpspread (attach_all), and the destructor closes a lab left open (an error, Ctrl-C).
class LabControl {
 public:
  explicit LabControl(lab::ClabTopology topo) : topo_(std::move(topo)) {}
  ~LabControl();
  LabControl(const LabControl&) = delete;
  LabControl& operator=(const LabControl&) = delete;

  const lab::ClabTopology& topo() const { return topo_; }
  // Returns the seconds until the lab was converged. Throws qpspread::Error when it is not there
  // (containerlab: naming what is missing and how to deploy it) or does not converge in 60 s.
  double open(const Progress& say);
  // keep: leave the lab as it is (qpspread's runner: up; containerlab: qpspread attached, as the
  // last run set it).
  void close(const Progress& say, bool keep = false);

  // Every WAN link to `imp`: qpspread's WAN relay, or tc netem on containerlab (clab_deployed.h).
  void set_wan(const wan::Impairment& imp);
  // A link cut or restored (a WAN link restored to what set_wan last set), a node stopped or
  // started, as lab_runner.h's lab_link/lab_node do on qpspread's runner.
  void link(const std::string& name, bool up);
  void node(const std::string& name, bool start);

 private:
  lab::ClabTopology topo_;
  wan::Impairment wan_;
  bool open_ = false;
};

// lab::await_converged within timeout_s; throws qpspread::Error with what is still missing (`why`
// says when: "after the run's events"), or on an interrupt.
void wait_converged(const lab::ClabTopology& topo, int timeout_s, const std::string& why);

// What qpspread attaches on a lab's nodes: every leaf (its VXLAN devices, uplinks discovered) and
// each border with its WAN interfaces as uplinks, so that its stats count per WAN link; nothing
// on the other nodes. The options' initial_mode is the caller's to set.
struct NodeAttach {
  std::string node;
  bool border = false;
  AttachOptions opts;
};
std::vector<NodeAttach> lab_attach_plan(const lab::ClabTopology& t);

// Attaches lab_attach_plan (new VNIs in mode off).
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
