// Mode balance's placement, pure: QPs onto the paths of one or more ECMP stages (this node's
// uplinks; further on, e.g. a border's WAN links), longest processing time first (Graham's LPT: the
// largest QP first onto the least-loaded path; exact for equal weights, within 4/3 - 1/(3K) of the
// optimal maximum load over K paths otherwise), then for each QP a port known to lead to its paths,
// its present port when that already does (no move).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qpspread::scenario {

struct QpLoad {
  uint32_t qpn = 0;
  double weight = 0;              // its rate (or bytes): what it loads a path with
  std::optional<uint16_t> sport;  // the outer source port it leaves with now
  bool idle = false;              // sent nothing lately: placed after the QPs of equal weight that did
};

// One stage's paths and, per candidate port, the path a frame with that port takes there.
struct BalanceStage {
  std::string name;  // where the choice is made: "dc1-leaf1", "dc1-border1"
  std::vector<std::string> paths;
  std::map<uint16_t, std::string> port_path;
};

struct QpPlacement {
  uint32_t qpn = 0;
  std::vector<std::string> paths;  // one per stage, in the stages' order
  uint16_t sport = 0;
  double weight = 0;
  bool moved = false;  // its port changes
};

struct StageLoad {
  std::string name;
  std::map<std::string, double> load;  // per path: the weights placed on it
  std::map<std::string, int> count;    // per path: the QPs placed on it
  // max / mean of the paths' loads (by QP count when no QP weighs anything); 1.0: even.
  double imbalance = 1.0;
};

struct BalancePlan {
  std::vector<QpPlacement> qps;   // by QPN
  std::vector<StageLoad> stages;  // in the stages' order
  double imbalance = 1.0;         // the largest stage's
};

// A port is a candidate when every stage knows its path. The stages weigh in order of tightness:
// fewer paths first, then the one further on (a WAN stage before the uplinks of equal width); each
// QP goes where the tightest stage's path is least loaded, ties broken by the next stage's, then by
// fewer QPs, then by the QP's present paths, then by the least-loaded combination of paths (so the
// paths of different stages mix), then in the order listed; QPs of equal weight go by QPN. So the
// plan is deterministic. Throws qpspread::Error without stages, with a stage without paths, or when
// the candidate ports run out (every QP gets a port of its own).
BalancePlan plan_balance(std::vector<QpLoad> qps, const std::vector<BalanceStage>& stages);

// {"stages": [{"name", "imbalance", "paths": [{"path", "qps", "load"}]}], "imbalance",
//  "qps": [{"qpn", "paths", "sport", "weight", "moved"}]}
nlohmann::json to_json(const BalancePlan& plan);

}  // namespace qpspread::scenario
