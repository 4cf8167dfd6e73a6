// The balance controller's step on one node: place a VNI's QPs on this node's ECMP stage (its
// uplinks toward one remote VTEP) by plan_balance and write the ports as the VNI's assignments
// (mode balance takes each once its QP has been idle for the flowlet gap). The candidate ports'
// paths come from the kernel's own FIB (FibProbe): exact for this node, whatever its hash policy.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/netns.h"
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

// Weights: each QP's bytes sent so far (the VTEP program's qp_stats). Throws qpspread::Error,
// before any assignment is written, when the VNI is not attached here or not in mode balance, has
// no VXLAN device with a local address, several remote VTEPs and no `remote`, or no uplink.
BalanceResult balance_once(const Netns& ns, const BalanceOptions& opts);

// {"netns", "vni", "local", "remote", "probed", "plan": to_json(plan)}
nlohmann::json to_json(const BalanceResult& r);

}  // namespace qpspread::scenario
