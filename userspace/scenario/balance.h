// The balance controller on one VTEP and VNI: place the VNI's QPs, per remote VTEP, on the paths
// of the ECMP stages their frames cross, and write the ports as the VNI's assignments (mode
// balance takes each once its QP has been idle for the flowlet gap).
//
// Stages: this node's own (its uplinks toward the remote), exact from the kernel's FIB (FibProbe,
// whatever the hash policy); and, for each router on the way where qpspread counts the uplinks
// (an observer: a border's WAN links), what path probes (path_probe.h) and the QPs' own frames
// recorded there: a port's link between two VTEPs, valid while that router's route to the remote
// is unchanged. Where nothing further on is observed, this node's stage alone.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/netns.h"
#include "loader/fib_probe.h"
#include "loader/rtnl.h"
#include "userspace/lab/clab_file.h"
#include "userspace/scenario/balance_plan.h"

namespace qpspread::scenario {

// A router further on whose uplink programs record the QPs' links (attached with its uplinks: a
// border with its WAN links). `names`: display names of its interfaces (a lab's link names),
// else the interface's own.
struct Observer {
  std::string name;  // "dc1-border1"
  std::string netns;
  std::map<std::string, std::string> names;
};

struct BalanceOptions {
  uint32_t vni = 0;
  std::optional<std::string> remote;  // only the QPs to this remote VTEP; default: all, per remote
  size_t max_probes = 4096;           // candidate ports asked of the FIB at most
  std::vector<Observer> observers;
  int probe_wait_ms = 300;            // how long probes may take to reach an observer
  std::string node;                   // this node's name in the plan ("dc1-leaf1"); default: the netns
};

// One remote VTEP's QPs.
struct BalanceGroup {
  std::string remote;
  std::vector<std::string> observed;  // the observers its frames cross (their stages follow this node's)
  size_t probes = 0;                  // path probes sent this step
  BalancePlan plan;
};

struct BalanceResult {
  std::string netns, local;
  uint32_t vni = 0;
  size_t probed = 0;  // candidate ports asked of the FIB
  std::vector<BalanceGroup> groups;  // by remote VTEP
  std::vector<std::string> notes;    // what this step learned or dropped ("dc1-border1: route changed")
};

// Each step weighs the QPs by the bytes they sent since the step before (the first: since they
// began; a QP that sent nothing since the step before is idle: placed after the others, and left
// out after kForgetAfter such steps, as are QPs seen before expect()), groups them by the remote VTEP their frames went to (this node's uplink records; a VNI
// with one remote needs none), finds each group's stages again (an uplink or link the FIB no
// longer picks, its link down or its routes withdrawn, is no path: its QPs go elsewhere in this
// step, and come back in the first step after it returns), places the QPs and writes their
// ports. An observer's knowledge is dropped when its route to the remote changes or when a QP's
// frames were seen on another link than the one learned for its port. Each step throws
// qpspread::Error, before any assignment is written, when the VNI is not attached here or not in
// mode balance, has no VXLAN device with a local address, a remote VTEP named that it does not
// send to, or no path.
class BalanceController {
 public:
  // A QP idle for this many steps in a row is left out of the placement (its assignment cleared;
  // it leaves with its qp-hash port when it sends again, and is placed at the next step).
  static constexpr int kForgetAfter = 10;
  BalanceController(const Netns& ns, BalanceOptions opts);
  ~BalanceController();
  BalanceResult step();
  // QPs known to come (QPN -> remote VTEP), placed from the next step on as if they had sent
  // nothing yet, so that their first frames already leave with their ports (a workload whose QPNs
  // are known in advance). Replaces what was expected before; an assignment of a QP neither
  // expected nor seen any more is cleared at the next step.
  void expect(std::map<uint32_t, std::string> qpn_remote) {
    expected_ = std::move(qpn_remote);
    rebase_ = true;
  }
  // True when a route, nexthop or link changed here or at an observer since the last call (the
  // caller may step at once instead of waiting for its interval). fds(): to poll on.
  bool changed();
  std::vector<int> fds() const;

 private:
  struct Learned;  // per (observer, remote)
  struct Watched;  // an observer's namespace and its netlink events
  const Netns& ns_;
  BalanceOptions opts_;
  FibProbe probe_;  // loaded once; asked in ns_ at each step
  std::unique_ptr<RtnlEvents> events_;
  std::vector<std::unique_ptr<Watched>> observers_;
  std::map<std::pair<size_t, std::string>, std::unique_ptr<Learned>> learned_;
  std::map<uint32_t, uint64_t> bytes_;  // per QPN, at the step before
  std::map<uint32_t, std::string> expected_;
  std::map<uint32_t, int> idle_steps_;  // per QPN: steps in a row it sent nothing
  bool stepped_ = false, rebase_ = false;
  uint32_t tag_ = 0;
};

// A lab's borders, their interfaces named as the lab's links (wan1, wan2).
std::vector<Observer> lab_observers(const lab::ClabTopology& topo);

// The controllers of a lab: one per leaf whose VXLAN device of the VNI is in mode balance, each
// observing the lab's borders (their interfaces named as the lab's links: wan1, wan2). Throws
// qpspread::Error when no leaf has the VNI in mode balance.
class LabBalancer {
 public:
  LabBalancer(const lab::ClabTopology& topo, uint32_t vni);
  ~LabBalancer();
  // A step of every controller; a controller's failure is its entry's `error`, the others go on.
  struct Step {
    std::string node;
    std::optional<BalanceResult> result;
    std::string error;
  };
  std::vector<Step> step();
  // QPs known to come, by the leaf that sends them and the leaf they go to (its VTEP address is
  // that leaf's VXLAN device's local one); see BalanceController::expect.
  struct ExpectedQp {
    uint32_t qpn = 0;
    std::string from, to;  // leaf nodes
  };
  void expect(const std::vector<ExpectedQp>& qps);
  bool changed();
  std::vector<int> fds() const;

 private:
  struct Leaf;
  std::vector<std::unique_ptr<Leaf>> leaves_;
};

// Waits until a controller's next step is due: `ns` passed, or a route, next hop or link changed
// at one of its nodes (then 50 ms more, for the rest of the burst); returns early once stop() is
// true. Ctl: BalanceController or LabBalancer.
void await_next_step(const std::vector<int>& fds, const std::function<bool()>& changed, int64_t ns,
                     const std::function<bool()>& stop);
template <typename Ctl>
void await_next_step(Ctl& ctl, int64_t ns, const std::function<bool()>& stop) {
  await_next_step(ctl.fds(), [&ctl] { return ctl.changed(); }, ns, stop);
}

// [{"node", ...to_json(result)} or {"node", "error"}]
nlohmann::json to_json(const std::vector<LabBalancer::Step>& steps);

// One step of a new controller: the QPs weighed by all they sent so far.
BalanceResult balance_once(const Netns& ns, const BalanceOptions& opts);

// {"netns", "vni", "local", "probed", "notes", "groups": [{"remote", "observed", "probes", "plan": to_json(plan)}]}
nlohmann::json to_json(const BalanceResult& r);

}  // namespace qpspread::scenario
