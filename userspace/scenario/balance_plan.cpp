#include "userspace/scenario/balance_plan.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <tuple>

#include "common/error.h"

namespace qpspread::scenario {
namespace {

using Route = std::vector<std::string>;  // a path per stage

constexpr double kSameWeight = 0.10;

double imbalance_of(const StageLoad& s, size_t qps) {
  double total = 0, most = 0;
  for (const auto& [p, l] : s.load) total += l, most = std::max(most, l);
  if (total > 0) return most / (total / static_cast<double>(s.load.size()));
  if (qps == 0) return 1.0;
  int max_count = 0;
  for (const auto& [p, c] : s.count) max_count = std::max(max_count, c);
  return max_count / (static_cast<double>(qps) / static_cast<double>(s.count.size()));
}

}  // namespace

BalancePlan plan_balance(std::vector<QpLoad> qps, const std::vector<BalanceStage>& stages) {
  if (stages.empty()) throw Error("no stage to place QPs on");
  for (const auto& s : stages)
    if (s.paths.empty()) throw Error("no path to place QPs on at " + (s.name.empty() ? "this stage" : s.name));
  std::sort(qps.begin(), qps.end(), [](const QpLoad& a, const QpLoad& b) {
    return a.weight != b.weight ? a.weight > b.weight : a.idle != b.idle ? b.idle : a.qpn < b.qpn;
  });
  // The candidate ports by route, in port order, and the routes in the order their first port comes.
  std::map<Route, std::vector<uint16_t>> ports;
  std::vector<Route> routes;
  auto route_of = [&](uint16_t port) -> std::optional<Route> {
    Route r;
    for (const auto& s : stages) {
      auto it = s.port_path.find(port);
      if (it == s.port_path.end() || std::find(s.paths.begin(), s.paths.end(), it->second) == s.paths.end())
        return std::nullopt;
      r.push_back(it->second);
    }
    return r;
  };
  for (const auto& [port, _] : stages.front().port_path)
    if (auto r = route_of(port)) {
      if (!ports.count(*r)) routes.push_back(*r);
      ports[*r].push_back(port);
    }
  // Routes listed in the stages' path order, so ties go to the path listed first.
  auto listed = [&](const Route& r) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < stages.size(); i++)
      idx.push_back(static_cast<size_t>(std::find(stages[i].paths.begin(), stages[i].paths.end(), r[i]) -
                                        stages[i].paths.begin()));
    return idx;
  };
  std::sort(routes.begin(), routes.end(), [&](const Route& a, const Route& b) { return listed(a) < listed(b); });
  // Tightness: fewer paths first, then further on.
  std::vector<size_t> order(stages.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return stages[a].paths.size() != stages[b].paths.size() ? stages[a].paths.size() < stages[b].paths.size() : a > b;
  });

  BalancePlan plan;
  for (const auto& s : stages) {
    StageLoad l{s.name, {}, {}, 1.0};
    for (const auto& p : s.paths) l.load[p] = 0, l.count[p] = 0;
    plan.stages.push_back(std::move(l));
  }
  std::map<Route, double> route_load;
  std::map<Route, size_t> on_route;  // QPs placed per route (each needs a port of its own)
  std::vector<std::map<std::string, int>> zero_count(stages.size());  // per stage and path: QPs weighing 0
  std::map<Route, int> route_zero;
  std::vector<Route> chosen(qps.size());
  std::vector<std::optional<Route>> now(qps.size());
  for (size_t i = 0; i < qps.size(); i++) {
    if (qps[i].sport) now[i] = route_of(*qps[i].sport);
    // A QP that weighs nothing (not started, or idle) changes no load: it goes where the fewest
    // such QPs are, so that they are spread too for when they send.
    const bool weightless = qps[i].weight == 0;
    auto key = [&](const Route& r) {
      std::vector<double> k;
      if (weightless) {
        for (size_t s : order) k.push_back(zero_count[s][r[s]]);
        k.push_back(now[i] && *now[i] == r ? 0 : 1);
        k.push_back(route_zero[r]);
      }
      for (size_t s : order) k.push_back(plan.stages[s].load.at(r[s]));
      for (size_t s : order) k.push_back(plan.stages[s].count.at(r[s]));
      k.push_back(now[i] && *now[i] == r ? 0 : 1);
      k.push_back(route_load[r]);
      return k;
    };
    const Route* best = nullptr;
    std::vector<double> best_key;
    for (const auto& r : routes) {
      if (on_route[r] >= ports[r].size()) continue;  // as many QPs as known ports already
      auto k = key(r);
      if (!best || k < best_key) best = &r, best_key = std::move(k);
    }
    if (!best)
      throw Error(std::to_string(qps.size()) + " QPs, but only " + std::to_string(i) +
                  " candidate ports whose paths are known; probe more ports");
    chosen[i] = *best;
    for (size_t s = 0; s < stages.size(); s++) {
      plan.stages[s].load[(*best)[s]] += qps[i].weight;
      plan.stages[s].count[(*best)[s]]++;
    }
    route_load[*best] += qps[i].weight;
    on_route[*best]++;
    if (weightless) {
      for (size_t s = 0; s < stages.size(); s++) zero_count[s][(*best)[s]]++;
      route_zero[*best]++;
    }
  }
  // Fewer moves: QPs of nearly equal weight (within kSameWeight of the group's heaviest; the QPs
  // of a collective differ by a few frames) trade the routes LPT gave them so that as many as can
  // stay where they are. The routes' QP counts do not change, their loads by less than that.
  for (size_t g = 0; g < qps.size();) {
    size_t end = g + 1;
    while (end < qps.size() && qps[end].idle == qps[g].idle && qps[end].weight >= qps[g].weight * (1 - kSameWeight)) end++;
    // The group's routes in LPT's order; a QP that stays takes its own, the others what is left,
    // their own LPT route first, so a group with nobody staying keeps LPT's plan as it was.
    std::vector<Route> pool(chosen.begin() + static_cast<long>(g), chosen.begin() + static_cast<long>(end));
    auto take = [&](const Route& r) {
      auto it = std::find(pool.begin(), pool.end(), r);
      if (it == pool.end()) return false;
      pool.erase(it);
      return true;
    };
    std::vector<bool> done(end - g, false);
    for (size_t i = g; i < end; i++)
      if (now[i] && take(*now[i])) {
        chosen[i] = *now[i];
        done[i - g] = true;
      }
    for (size_t i = g; i < end; i++)
      if (!done[i - g] && take(chosen[i])) done[i - g] = true;
    for (size_t i = g; i < end; i++)
      if (!done[i - g]) {
        chosen[i] = pool.front();
        pool.erase(pool.begin());
      }
    g = end;
  }
  for (auto& st : plan.stages)
    for (auto& [path, l] : st.load) l = 0;
  for (size_t i = 0; i < qps.size(); i++)
    for (size_t s = 0; s < stages.size(); s++) plan.stages[s].load[chosen[i][s]] += qps[i].weight;
  std::set<uint16_t> kept;  // present ports their QPs keep
  std::vector<bool> keeps(qps.size(), false);
  for (size_t i = 0; i < qps.size(); i++)
    if (now[i] && *now[i] == chosen[i] && kept.insert(*qps[i].sport).second) keeps[i] = true;
  // Ports: a QP staying on its route keeps its port; the others take their route's first ports
  // that no QP keeps or was given.
  std::set<uint16_t> taken = kept;
  for (size_t i = 0; i < qps.size(); i++) {
    QpPlacement q{qps[i].qpn, chosen[i], 0, qps[i].weight, false};
    if (keeps[i]) {
      q.sport = *qps[i].sport;
    } else {
      const auto& list = ports[chosen[i]];
      auto free = std::find_if(list.begin(), list.end(), [&](uint16_t p) { return !taken.count(p); });
      if (free == list.end()) throw Error("no free port left on a route; probe more ports");  // cannot happen: counted above
      q.sport = *free;
      taken.insert(*free);
      q.moved = true;
    }
    plan.qps.push_back(q);
  }
  std::sort(plan.qps.begin(), plan.qps.end(), [](const QpPlacement& a, const QpPlacement& b) { return a.qpn < b.qpn; });
  for (auto& s : plan.stages) {
    s.imbalance = imbalance_of(s, qps.size());
    plan.imbalance = std::max(plan.imbalance, s.imbalance);
  }
  return plan;
}

nlohmann::json to_json(const BalancePlan& plan) {
  nlohmann::json stages = nlohmann::json::array(), qps = nlohmann::json::array();
  for (const auto& s : plan.stages) {
    nlohmann::json paths = nlohmann::json::array();
    for (const auto& [p, l] : s.load) paths.push_back({{"path", p}, {"qps", s.count.at(p)}, {"load", l}});
    stages.push_back({{"name", s.name}, {"imbalance", s.imbalance}, {"paths", paths}});
  }
  for (const auto& q : plan.qps)
    qps.push_back({{"qpn", q.qpn}, {"paths", q.paths}, {"sport", q.sport}, {"weight", q.weight}, {"moved", q.moved}});
  return {{"stages", stages}, {"imbalance", plan.imbalance}, {"qps", qps}};
}

}  // namespace qpspread::scenario
