// Mode balance's placement, pure: QPs onto the paths of one ECMP stage, longest processing time
// first (Graham's LPT: the largest QP first onto the least-loaded path; exact for equal weights,
// within 4/3 - 1/(3K) of the optimal maximum load over K paths otherwise), then for each QP a port
// known to lead to its path, its present port when that already does (no move).
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
};

// One stage's paths and, per candidate port, the path a frame with that port takes there.
struct BalanceStage {
  std::vector<std::string> paths;
  std::map<uint16_t, std::string> port_path;
};

struct QpPlacement {
  uint32_t qpn = 0;
  std::string path;
  uint16_t sport = 0;
  double weight = 0;
  bool moved = false;  // its port changes
};

struct BalancePlan {
  std::vector<QpPlacement> qps;              // by QPN
  std::map<std::string, double> load;        // per path: the weights placed on it
  std::map<std::string, int> count;          // per path: the QPs placed on it
  // max / mean of the paths' loads (by QP count when no QP weighs anything); 1.0: even.
  double imbalance = 1.0;
};

// Ties (equal load): fewer QPs first, then the QP's present path, then the path listed first; QPs
// of equal weight go by QPN. So the plan is deterministic. Throws qpspread::Error when a path has
// fewer candidate ports than QPs placed on it (every QP gets a port of its own).
BalancePlan plan_balance(std::vector<QpLoad> qps, const BalanceStage& stage);

// {"paths": [{"path", "qps", "load"}], "imbalance", "qps": [{"qpn", "path", "sport", "weight", "moved"}]}
nlohmann::json to_json(const BalancePlan& plan);

}  // namespace qpspread::scenario
