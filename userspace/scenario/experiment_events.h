// The failures of a study's run (docs/experiment.md): events fired at their times from the start
// of the collective's first iteration through the lab's runner (LabControl: link, node), BFD's detection
// of the first cut, the lab put back and converged after the run; and BFD switched on or off on
// every router between runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "userspace/lab/clab_file.h"
#include "userspace/scenario/experiment_spec.h"
#include "userspace/scenario/lab_session.h"

namespace qpspread::scenario {

// Fires a run's events on a thread of its own. start() (from the collective's first iteration)
// sets the time origin; finish() ends the thread, dropping the events still due, and says what
// was measured. Whatever was cut or stopped stays so: restore_lab() undoes it.
class EventPlayer {
 public:
  EventPlayer(LabControl& lab, std::vector<ExperimentEvent> events, bool bfd);
  ~EventPlayer();
  EventPlayer(const EventPlayer&) = delete;
  EventPlayer& operator=(const EventPlayer&) = delete;

  void start();
  // The mono_ns() of the first event once it fires (0 before): where delivery gaps count from.
  const std::atomic<int64_t>* first_event_ns() const { return &first_ns_; }

  struct Outcome {
    int fired = 0;
    std::optional<double> bfd_detect_ms;  // the first cut (link down, node stop) to a BFD peer down
    std::vector<std::string> errors;      // events that failed
    std::vector<std::string> links_down, nodes_stopped;  // still so after the events
  };
  Outcome finish();

 private:
  void play();
  void fire(const ExperimentEvent& e);
  void watch_bfd(const ExperimentEvent& e, int64_t cut_ns);

  LabControl& lab_;
  std::vector<ExperimentEvent> events_;
  bool bfd_;
  std::atomic<int64_t> first_ns_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t start_ns_ = 0;
  bool stop_ = false;
  bool cut_watched_ = false;
  Outcome out_;
  std::map<std::string, bool> link_down_, node_stopped_;
  std::thread thread_, bfd_thread_;
};

// BFD on every router's BGP peer groups, or BGP hold timers only. The routers' own lines
// ("neighbor fabric bfd", "neighbor fabric bfd profile fabric") are read from their running
// configuration the first time and replayed to switch BFD back on.
class BfdSwitch {
 public:
  explicit BfdSwitch(const lab::ClabTopology& topo) : topo_(topo) {}
  bool on() const { return on_; }
  // Reconfigures every router and waits for convergence when `on` differs from the lab's setting;
  // throws qpspread::Error when vtysh refuses or the lab does not converge.
  void set(bool on, const Progress& say);
  // Configures every router as on() says, without waiting (a restarted router has BFD again).
  void apply();

 private:
  struct Router {
    std::string asn;
    std::vector<std::string> bfd_lines;  // "neighbor X bfd", "neighbor X bfd profile Y"
  };
  void learn();
  const lab::ClabTopology& topo_;
  bool on_ = true;  // as the lab's frr.conf files have it
  std::map<std::string, Router> routers_;  // by node
};

// Brings back what `o` left cut or stopped, puts a restarted router's BFD as `bfd` has it, and
// waits for the lab to converge. Throws qpspread::Error naming what does not converge.
void restore_lab(LabControl& lab, const EventPlayer::Outcome& o, BfdSwitch& bfd, const Progress& say);

}  // namespace qpspread::scenario
