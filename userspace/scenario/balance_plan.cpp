#include "userspace/scenario/balance_plan.h"

#include <algorithm>
#include <set>

#include "common/error.h"

namespace qpspread::scenario {

BalancePlan plan_balance(std::vector<QpLoad> qps, const BalanceStage& stage) {
  if (stage.paths.empty()) throw Error("no path to place QPs on");
  std::sort(qps.begin(), qps.end(), [](const QpLoad& a, const QpLoad& b) {
    return a.weight != b.weight ? a.weight > b.weight : a.qpn < b.qpn;
  });
  std::map<std::string, std::vector<uint16_t>> ports;  // per path, in port order
  for (const auto& [port, path] : stage.port_path) ports[path].push_back(port);
  auto path_of = [&](const std::optional<uint16_t>& sport) -> std::optional<std::string> {
    if (!sport) return std::nullopt;
    auto it = stage.port_path.find(*sport);
    return it == stage.port_path.end() ? std::nullopt : std::optional<std::string>(it->second);
  };

  BalancePlan plan;
  for (const auto& p : stage.paths) plan.load[p] = 0, plan.count[p] = 0;
  std::set<uint16_t> taken;
  // Ports QPs keep are taken first, so no other QP is given one of them.
  std::vector<std::string> chosen(qps.size());
  for (size_t i = 0; i < qps.size(); i++) {
    const auto now = path_of(qps[i].sport);
    const std::string* best = nullptr;
    for (const auto& p : stage.paths) {
      if (!best) {
        best = &p;
        continue;
      }
      const auto key = [&](const std::string& x) {
        return std::make_tuple(plan.load[x], plan.count[x], now && *now == x ? 0 : 1);
      };
      if (key(p) < key(*best)) best = &p;
    }
    chosen[i] = *best;
    plan.load[*best] += qps[i].weight;
    plan.count[*best]++;
    if (now && *now == *best) taken.insert(*qps[i].sport);
  }
  for (size_t i = 0; i < qps.size(); i++) {
    QpPlacement q{qps[i].qpn, chosen[i], 0, qps[i].weight, false};
    const auto now = path_of(qps[i].sport);
    if (now && *now == chosen[i]) {
      q.sport = *qps[i].sport;
    } else {
      const auto& list = ports[chosen[i]];
      auto free = std::find_if(list.begin(), list.end(), [&](uint16_t p) { return !taken.count(p); });
      if (free == list.end())
        throw Error("path " + chosen[i] + " has " + std::to_string(list.size()) + " known ports for " +
                    std::to_string(plan.count[chosen[i]]) + " QPs; probe more ports");
      q.sport = *free;
      taken.insert(*free);
      q.moved = true;
    }
    plan.qps.push_back(q);
  }
  std::sort(plan.qps.begin(), plan.qps.end(), [](const QpPlacement& a, const QpPlacement& b) { return a.qpn < b.qpn; });
  double total = 0, most = 0;
  for (const auto& [p, l] : plan.load) total += l, most = std::max(most, l);
  if (total > 0) {
    plan.imbalance = most / (total / static_cast<double>(plan.load.size()));
  } else if (!qps.empty()) {
    int max_count = 0;
    for (const auto& [p, c] : plan.count) max_count = std::max(max_count, c);
    plan.imbalance = max_count / (static_cast<double>(qps.size()) / static_cast<double>(plan.count.size()));
  }
  return plan;
}

nlohmann::json to_json(const BalancePlan& plan) {
  nlohmann::json paths = nlohmann::json::array(), qps = nlohmann::json::array();
  for (const auto& [p, l] : plan.load) paths.push_back({{"path", p}, {"qps", plan.count.at(p)}, {"load", l}});
  for (const auto& q : plan.qps)
    qps.push_back({{"qpn", q.qpn}, {"path", q.path}, {"sport", q.sport}, {"weight", q.weight}, {"moved", q.moved}});
  return {{"paths", paths}, {"imbalance", plan.imbalance}, {"qps", qps}};
}

}  // namespace qpspread::scenario
