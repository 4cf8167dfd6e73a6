// The balance controller's step on one node: place a VNI's QPs on this node's ECMP stage (its
// uplinks toward one remote VTEP) by plan_balance and write the ports as the VNI's assignments
// (mode balance takes each once its QP has been idle for the flowlet gap). The candidate ports'
// paths come from the kernel's own FIB (FibProbe): exact for this node, whatever its hash policy.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "common/netns.h"
#include "loader/fib_probe.h"
#include "userspace/scenario/balance_plan.h"

namespace qpspread::scenario {

struct BalanceOptions {
  uint32_t vni = 0;
  std::optional<std::string> remote;  // the remote VTEP; default: the VNI's only one
  size_t max_probes = 4096;           // candidate ports asked of the FIB at most
};

struct BalanceResult {
  std::string netns, local, remote;
  uint32_t vni = 0;
  size_t probed = 0;  // candidate ports asked of the FIB
  BalancePlan plan;
};

// The controller on one node and VNI. Each step weighs the QPs by the bytes they sent since the
// step before (the first: since they began), finds the uplinks toward the remote VTEP again and the
// ports the FIB sends by each (an uplink the FIB no longer picks, its link down or its routes
// withdrawn, is no path: its QPs go elsewhere in this step, and come back in the first step after
// it returns), places the QPs and writes their ports. Each step throws qpspread::Error, before any
// assignment is written, when the VNI is not attached here or not in mode balance, has no VXLAN
// device with a local address, several remote VTEPs and no `remote`, or no path.
class BalanceController {
 public:
  BalanceController(const Netns& ns, BalanceOptions opts) : ns_(ns), opts_(std::move(opts)) {}
  BalanceResult step();

 private:
  const Netns& ns_;
  BalanceOptions opts_;
  FibProbe probe_;  // loaded once; asked in ns_ at each step
  std::map<uint32_t, uint64_t> bytes_;  // per QPN, at the step before
};

// One step of a new controller: the QPs weighed by all they sent so far.
BalanceResult balance_once(const Netns& ns, const BalanceOptions& opts);

// {"netns", "vni", "local", "remote", "probed", "plan": to_json(plan)}
nlohmann::json to_json(const BalanceResult& r);

}  // namespace qpspread::scenario
