#include "userspace/scenario/experiment_events.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "common/clock.h"
#include "common/command.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "userspace/lab/lab_runner.h"

namespace qpspread::scenario {
namespace {

using nlohmann::json;

// BFD runs 300 ms x 3 in the generated labs: a session still up 3 s after the cut never went down.
constexpr int64_t kBfdWatchNs = 3'000'000'000;
constexpr auto kBfdPoll = std::chrono::milliseconds(20);

struct Watched {
  std::string node, ifname;
};

// The BFD sessions a cut ends: both ends of a link, or the neighbors' ends of a node's links.
std::vector<Watched> watched_ends(const lab::ClabTopology& t, const ExperimentEvent& e) {
  std::vector<Watched> out;
  auto router = [&](const std::string& node) {
    const auto it = std::find_if(t.nodes.begin(), t.nodes.end(), [&](const auto& n) { return n.name == node; });
    return it != t.nodes.end() && !it->frr_conf().empty();
  };
  if (!e.link.empty()) {
    if (const lab::ClabLink* l = t.link(e.link))
      for (const auto* ep : {&l->a, &l->b})
        if (router(ep->node)) out.push_back({ep->node, ep->ifname});
    return out;
  }
  for (const auto& l : t.links)
    for (const auto& [mine, other] : {std::pair{&l.a, &l.b}, std::pair{&l.b, &l.a}})
      if (mine->node == e.node && router(other->node)) out.push_back({other->node, other->ifname});
  return out;
}

bool bfd_down_on(const lab::ClabTopology& t, const Watched& w) {
  const json peers = lab::frr_show(t, w.node, "show bfd peers");
  if (!peers.is_array()) return false;
  for (const auto& p : peers)
    if (p.value("interface", "") == w.ifname && p.value("status", "up") != "up") return true;
  return false;
}

}  // namespace

EventPlayer::EventPlayer(LabControl& lab, std::vector<ExperimentEvent> events, bool bfd)
    : lab_(lab), events_(std::move(events)), bfd_(bfd) {
  std::stable_sort(events_.begin(), events_.end(), [](const auto& a, const auto& b) { return a.at_us < b.at_us; });
  if (!events_.empty()) thread_ = std::thread([this] { play(); });
}

EventPlayer::~EventPlayer() { finish(); }

void EventPlayer::start() {
  std::lock_guard lock(mu_);
  if (!start_ns_) start_ns_ = mono_ns();
  cv_.notify_all();
}

void EventPlayer::play() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return start_ns_ || stop_; });
  for (const auto& e : events_) {
    const auto due = std::chrono::steady_clock::now() +
                     std::chrono::nanoseconds(start_ns_ + static_cast<int64_t>(e.at_us) * 1000 - mono_ns());
    if (cv_.wait_until(lock, due, [&] { return stop_; })) return;
    lock.unlock();
    fire(e);
    lock.lock();
  }
}

void EventPlayer::fire(const ExperimentEvent& e) {
  const int64_t now = mono_ns();
  int64_t none = 0;
  first_ns_.compare_exchange_strong(none, now);
  const bool cut = e.state == "down" || e.state == "stop";
  try {
    if (!e.link.empty()) {
      lab_.link(e.link, !cut);
      link_down_[e.link] = cut;
    } else {
      lab_.node(e.node, !cut);
      node_stopped_[e.node] = cut;
    }
  } catch (const std::exception& ex) {
    std::lock_guard lock(mu_);
    const std::string what = e.link.empty() ? "node " + e.node : "link " + e.link;
    out_.errors.push_back(std::to_string(e.at_us / 1000) + " ms " + what + " " + e.state + ": " + ex.what());
    return;
  }
  std::lock_guard lock(mu_);
  out_.fired++;
  if (cut && bfd_ && !cut_watched_) {
    cut_watched_ = true;
    bfd_thread_ = std::thread([this, e, now] { watch_bfd(e, now); });
  }
}

void EventPlayer::watch_bfd(const ExperimentEvent& e, int64_t cut_ns) {
  const std::vector<Watched> ends = watched_ends(lab_.topo(), e);
  while (!ends.empty() && mono_ns() - cut_ns < kBfdWatchNs && !interrupted()) {
    for (const auto& w : ends)
      if (bfd_down_on(lab_.topo(), w)) {
        std::lock_guard lock(mu_);
        out_.bfd_detect_ms = static_cast<double>(mono_ns() - cut_ns) / 1e6;
        return;
      }
    std::this_thread::sleep_for(kBfdPoll);
  }
}

EventPlayer::Outcome EventPlayer::finish() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  // The BFD watch ends by itself (a detection, or its 3 s): a run shorter than that waits for it.
  if (bfd_thread_.joinable()) bfd_thread_.join();
  std::lock_guard lock(mu_);
  out_.links_down.clear();
  out_.nodes_stopped.clear();
  for (const auto& [l, down] : link_down_)
    if (down) out_.links_down.push_back(l);
  for (const auto& [n, stopped] : node_stopped_)
    if (stopped) out_.nodes_stopped.push_back(n);
  return out_;
}

void restore_lab(LabControl& lab, const EventPlayer::Outcome& o, BfdSwitch& bfd, const Progress& say) {
  if (o.fired == 0 && o.errors.empty()) return;
  for (const auto& l : o.links_down) lab.link(l, true);
  for (const auto& n : o.nodes_stopped) lab.node(n, true);
  if (!o.nodes_stopped.empty() && !bfd.on()) bfd.apply();
  say("waiting for the lab to converge after the events");
  wait_converged(lab.topo(), 60, "after the run's events");
}

void BfdSwitch::learn() {
  for (const auto& n : topo_.nodes) {
    if (n.frr_conf().empty()) continue;
    std::vector<std::string> argv = topo_.vtysh(n.name);
    argv.insert(argv.end(), {"-c", "show running-config"});
    const CommandOutput r = run_command(argv);
    if (r.exit_code != 0) throw Error(n.name + ": vtysh show running-config failed; is FRR running? " + r.err);
    Router router;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      const auto b = line.find_first_not_of(' ');
      if (b == std::string::npos) continue;
      line = line.substr(b);
      if (line.rfind("router bgp ", 0) == 0) router.asn = line.substr(11, line.find(' ', 11) - 11);
      // "neighbor X bfd" and "neighbor X bfd profile Y" (not "bfd check-control-plane-failure").
      const auto at = line.find(" bfd");
      if (line.rfind("neighbor ", 0) == 0 && at != std::string::npos &&
          (line.size() == at + 4 || line.compare(at + 4, 9, " profile ") == 0))
        router.bfd_lines.push_back(line);
    }
    if (router.asn.empty()) throw Error(n.name + ": no 'router bgp' in its running configuration");
    routers_[n.name] = router;
  }
}

void BfdSwitch::apply() {
  if (routers_.empty()) learn();
  for (const auto& [node, r] : routers_) {
    std::vector<std::string> argv = topo_.vtysh(node);
    argv.insert(argv.end(), {"-c", "configure terminal", "-c", "router bgp " + r.asn});
    for (const auto& l : r.bfd_lines) {
      // Off: "no neighbor X bfd" drops the profile with it; on: both lines, in their order.
      if (!on_ && l.find(" profile ") != std::string::npos) continue;
      argv.insert(argv.end(), {"-c", (on_ ? "" : "no ") + l});
    }
    const CommandOutput c = run_command(argv);
    if (c.exit_code != 0)
      throw Error(node + ": vtysh refused to switch BFD " + (on_ ? "on" : "off") + ": " + c.out + c.err);
  }
}

void BfdSwitch::set(bool on, const Progress& say) {
  if (on == on_) return;
  on_ = on;
  say(std::string("BFD ") + (on ? "on (BGP peers follow BFD)" : "off (BGP hold timers only)") + " on every router");
  apply();
  wait_converged(topo_, 60, std::string("after switching BFD ") + (on ? "on" : "off"));
}

}  // namespace qpspread::scenario
