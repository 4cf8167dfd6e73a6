#include "userspace/scenario/wan_timeline.h"

#include <algorithm>

namespace qpspread::scenario {

TimelineMetrics timeline_metrics(const WanTimeline& t, const std::vector<ExperimentEvent>& events, double window_ms,
                                 double max_imbalance) {
  TimelineMetrics m;
  const ExperimentEvent* down = nullptr;
  const ExperimentEvent* up = nullptr;
  for (const auto& e : events) {
    if (!down && !e.link.empty() && e.state == "down") down = &e;
    else if (down && !up && e.link == down->link && e.state == "up") up = &e;
  }
  if (!down || t.t_ms.empty()) return m;
  const double down_ms = static_cast<double>(down->at_us) / 1000;
  const double up_ms = up ? static_cast<double>(up->at_us) / 1000 : t.t_ms.back() + 1;
  const size_t n = t.t_ms.size();
  // The cut link's directions: their bytes at each sample, summed.
  auto cut_at = [&](size_t i) {
    uint64_t sum = 0;
    for (const auto& [name, v] : t.bytes)
      if (name.rfind(down->link + " ", 0) == 0) sum += v[i];
    return sum;
  };
  size_t last_up_sample = 0;  // the last sample before the link came back
  for (size_t i = 0; i < n && t.t_ms[i] < up_ms; i++) last_up_sample = i;
  for (size_t i = 0; i < n && t.t_ms[i] < up_ms; i++) {
    if (t.t_ms[i] < down_ms) continue;
    if (cut_at(i) == cut_at(last_up_sample)) {
      m.cut_quiet_ms = t.t_ms[i] - down_ms;
      break;
    }
  }
  if (!up) return m;
  for (size_t i = 1; i < n; i++)
    if (t.t_ms[i] >= up_ms && cut_at(i) > cut_at(i - 1)) {
      m.back_ms = t.t_ms[i] - up_ms;
      if (t.reordered.size() == n) m.reordered_after_back = t.reordered.back() - t.reordered[i - 1];
      break;
    }
  // The link-directions that carried anything in the run take part in the balance.
  std::vector<const std::vector<uint64_t>*> used;
  for (const auto& [name, v] : t.bytes)
    if (v.back() > v.front()) used.push_back(&v);
  if (used.size() < 2) return m;
  for (size_t i = 0; i < n; i++) {
    if (t.t_ms[i] < up_ms) continue;
    size_t j = i;
    while (j < n && t.t_ms[j] - t.t_ms[i] < window_ms) j++;
    if (j >= n) break;  // the run ended before a whole window
    double most = 0, total = 0;
    for (const auto* v : used) {
      const double d = static_cast<double>((*v)[j] - (*v)[i]);
      most = std::max(most, d);
      total += d;
    }
    if (total > 0 && most / (total / static_cast<double>(used.size())) <= max_imbalance) {
      m.rebalanced_ms = t.t_ms[i] - up_ms;
      break;
    }
  }
  return m;
}

nlohmann::json to_json(const WanTimeline& t) {
  nlohmann::json wan = nlohmann::json::object();
  for (const auto& [name, v] : t.bytes) wan[name] = v;
  return {{"t_ms", t.t_ms}, {"wan", wan}, {"psn_reordered", t.reordered}};
}

}  // namespace qpspread::scenario
