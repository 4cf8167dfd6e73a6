// qpspread agent: keeps qpspread attached in its targets' namespaces as devices come and go, runs
// the balance controllers of the VNIs in mode balance, and serves what the maps hold over HTTP
// (agent_http.h).
//
// Self-healing: the agent subscribes to rtnetlink in each namespace (links, addresses, routes,
// nexthops, neighbours and FDB entries, tc filters) and only then attaches, so no change between
// the two is lost; after each burst of notifications (or an overflow of the socket: ENOBUFS), and
// every `resync` in any case, it runs attach again: attach is idempotent and all or nothing, puts
// back a tc or XDP program of ours that someone removed (a tcx program's removal makes no
// notification: the resync finds it), attaches new or recreated devices and newly discovered
// uplinks, and forgets records of interfaces that are gone. Others' filters, tcx programs and
// XDP programs are never touched (attach refuses an interface with a foreign XDP program and says
// so in /healthz).
//
// Modes: a VNI without a mode gets `mode`; a VNI listed under `vnis` gets its mode when the agent
// starts, when a reload changed it, and when the VNI is new (its device created, or the pins
// recreated). In between, `qpspread mode` beside the agent is respected.
//
// Lifecycle: SIGHUP reloads the file (a bad file is reported and the running config kept) and
// applies the difference; SIGTERM/SIGINT stop the agent and leave the datapath attached (traffic
// stays steered while it restarts) unless on_exit is detach. A restarted agent adopts its pins:
// attach finds its own records and duplicates nothing; counters continue. With systemd
// (Type=notify) it reports READY, RELOADING and STOPPING.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/netns.h"
#include "userspace/agent/agent_config.h"

namespace qpspread::agent {

// How one target namespace fares, for /healthz and /v1/status.
struct TargetHealth {
  std::string netns;  // the namespace's name ("(current)": the agent's own)
  std::string node;   // a lab's node, or ""
  bool ok = false;    // the last attach succeeded
  std::string error;  // why not
  uint64_t reconciles = 0, errors = 0;
  int64_t last_reconcile_ms = 0;  // Unix time
  size_t devices = 0, uplinks = 0, transit = 0;
  std::vector<std::string> balance_errors;  // "VNI 100: ..." of the last step
  nlohmann::json to_json() const;
};

// A target as the endpoint reads it: its namespace and its health (copies, safe to use unlocked).
struct TargetView {
  std::shared_ptr<const Netns> ns;
  TargetHealth health;
};

class Agent {
 public:
  // Resolves the targets (a lab's nodes from its state) and opens their namespaces; throws
  // qpspread::Error naming a missing namespace or lab. Nothing is attached yet.
  explicit Agent(AgentConfig cfg);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Attaches, serves and heals until SIGTERM or SIGINT; returns the exit code. Throws
  // qpspread::Error when the endpoint cannot listen. `pidfile` ("": none) is written once the
  // agent serves, and removed when it stops.
  int run(const std::string& pidfile = "");

  // For the endpoint (any thread).
  std::vector<TargetView> views() const;
  nlohmann::json agent_json() const;

 private:
  struct Target;
  void reload();
  void reconcile(Target& t);
  void balance(Target& t);
  void adopt(AgentConfig next, std::vector<std::unique_ptr<Target>> targets);

  AgentConfig cfg_;
  std::vector<std::unique_ptr<Target>> targets_;  // changed only on the main thread, under mu_
  mutable std::mutex mu_;
  int64_t started_ms_ = 0;
  uint64_t reloads_ = 0, reload_errors_ = 0;
};

// One line on stderr, with the UTC time (journald or a terminal reads it).
void log_line(const std::string& text);

}  // namespace qpspread::agent
