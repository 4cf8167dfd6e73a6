// What the WAN links carried over a run with events, sampled: every link-direction's RoCEv2 bytes
// (cumulative, as the borders' uplink programs count them) at times from the run's start, and what
// follows from them about a link cut: how long the cut link still carried traffic, and how long
// after its return the links were even again. Pure, so the figures are unit-tested.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "userspace/scenario/experiment_spec.h"

namespace qpspread::scenario {

struct WanTimeline {
  std::vector<double> t_ms;                               // sample times from the run's start
  std::map<std::string, std::vector<uint64_t>> bytes;     // "wan1 dc1-border1>dc2-border1" -> per sample
  std::vector<uint64_t> reordered;  // the receiving leaves' PSN-reordered frames, per sample (may be empty)
};

struct TimelineMetrics {
  // From the first link cut to the first sample from which the cut link carried nothing more
  // (until it came back, or the run ended): the routers' reaction (BFD) as the traffic saw it.
  std::optional<double> cut_quiet_ms;
  // From that link's return (the event) to the first sample at which it carried traffic again: the
  // routers' reconvergence (BFD up, BGP re-established, the route's leg back).
  std::optional<double> back_ms;
  // Frames the receiving leaves saw reordered from that sample to the run's end: where nothing is
  // lost any more, what the QPs' moves back onto the link did to their order.
  std::optional<uint64_t> reordered_after_back;
  // From that link's return to the start of the first window of `window_ms` (from a sample on)
  // over which every link-direction that carried anything in the run carried within
  // `max_imbalance` (max / mean) of the others: how long until the links were even again.
  std::optional<double> rebalanced_ms;
};

TimelineMetrics timeline_metrics(const WanTimeline& t, const std::vector<ExperimentEvent>& events, double window_ms,
                                 double max_imbalance);

// {"t_ms": [...], "wan": {"wan1 dc1-border1>dc2-border1": [...]}}
nlohmann::json to_json(const WanTimeline& t);

}  // namespace qpspread::scenario
