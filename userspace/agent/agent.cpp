#include "userspace/agent/agent.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/error.h"
#include "loader/attach.h"
#include "loader/rtnl.h"
#include "userspace/agent/agent_http.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/scenario/balance.h"
#include "userspace/scenario/lab_session.h"

namespace qpspread::agent {

using nlohmann::json;

namespace {

// A burst of notifications (a device created and brought up, its addresses, our own tc filters) is
// answered once, this long after its first one.
constexpr int64_t kSettleNs = 20'000'000;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string vni_text(uint32_t vni) { return "VNI " + std::to_string(vni); }

bool same_vni_cfg(const qps_vni_cfg& a, const qps_vni_cfg& b) {
  return a.mode == b.mode && (a.mode != QPS_MODE_BALANCE || a.flowlet_gap_us == b.flowlet_gap_us);
}

// What a target is before it is opened: its namespace, options and observers.
struct TargetSpec {
  std::string netns;  // "": the agent's own
  std::string node;
  AttachOptions opts;
  std::vector<scenario::Observer> observers;
};

AttachOptions base_options(const AgentConfig& c) {
  AttachOptions o;
  o.mark = c.mark;
  o.tc_api = c.tc_api;
  o.initial_mode = c.default_mode;
  o.vteps_optional = true;
  return o;
}

std::vector<TargetSpec> resolve(const AgentConfig& c) {
  std::vector<TargetSpec> out;
  std::vector<scenario::Observer> observers;
  for (const auto& o : c.balance_observe) observers.push_back({o, o, {}});
  for (const auto& t : c.targets) {
    if (!t.lab.empty()) {
      const lab::ClabTopology topo = lab::lab_topology(t.lab);
      const std::vector<scenario::Observer> borders = scenario::lab_observers(topo);
      for (scenario::NodeAttach& a : scenario::lab_attach_plan(topo)) {
        TargetSpec s{topo.netns(a.node), a.node, base_options(c), a.border ? std::vector<scenario::Observer>{} : borders};
        s.opts.uplinks = a.opts.uplinks;
        out.push_back(std::move(s));
      }
      continue;
    }
    TargetSpec s{t.netns, "", base_options(c), observers};
    s.opts.devices = t.devices;
    s.opts.discover_uplinks = t.discover_uplinks;
    s.opts.uplinks = t.uplinks;
    s.opts.transit = t.transit;
    s.opts.transit_vnis = t.transit_vnis;
    out.push_back(std::move(s));
  }
  for (size_t i = 0; i < out.size(); i++)
    for (size_t j = 0; j < i; j++)
      if (out[i].netns == out[j].netns)
        throw UsageError("netns " + (out[i].netns.empty() ? std::string("(the agent's own)") : out[i].netns) +
                         " is a target twice in " + c.file.string() + " (a lab's node and a netns?); name it once");
  return out;
}

// Written whole or not at all (a reader polling for it never sees half a PID).
void write_pidfile(const std::string& path) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << ::getpid() << "\n";
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(errno_text("cannot write the pidfile " + path, errno));
}

}  // namespace

void log_line(const std::string& text) {
  static std::mutex mu;
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "%s.%03dZ agent: %s\n", stamp, ms, text.c_str());
}

json TargetHealth::to_json() const {
  return {{"netns", netns},
          {"node", node.empty() ? json(nullptr) : json(node)},
          {"ok", ok},
          {"error", error.empty() ? json(nullptr) : json(error)},
          {"reconciles", reconciles},
          {"errors", errors},
          {"last_reconcile_ms", last_reconcile_ms},
          {"devices", devices},
          {"uplinks", uplinks},
          {"transit", transit},
          {"balance_errors", balance_errors}};
}

struct Agent::Target {
  TargetSpec spec;
  std::shared_ptr<Netns> ns;
  std::unique_ptr<RtnlEvents> events;
  bool dirty = true;
  int64_t dirty_since = 0;
  std::set<uint32_t> apply;  // configured VNIs whose mode is to be set once they are attached
  std::set<std::string> warned;  // attach's warnings already logged
  std::map<uint32_t, std::unique_ptr<scenario::BalanceController>> balancers;
  TargetHealth health;

  explicit Target(TargetSpec s) : spec(std::move(s)) {
    ns = std::make_shared<Netns>(spec.netns.empty() ? Netns::current() : Netns::open(spec.netns));
    // Subscribed before the first attach lists anything: no change in between is lost.
    ns->run([&] {
      events = std::make_unique<RtnlEvents>(std::initializer_list<int>{
          RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
          RTNLGRP_NEXTHOP, RTNLGRP_NEIGH, RTNLGRP_TC});
    });
    health.netns = ns->name();
    health.node = spec.node;
  }
};

Agent::Agent(AgentConfig cfg) : cfg_(std::move(cfg)) {
  for (TargetSpec& s : resolve(cfg_)) {
    auto t = std::make_unique<Target>(std::move(s));
    for (const auto& [vni, c] : cfg_.vnis) t->apply.insert(vni);
    targets_.push_back(std::move(t));
  }
}

Agent::~Agent() = default;

void Agent::reconcile(Target& t) {
  t.dirty = false;
  const int64_t started = unix_ms();
  const std::string where = " in netns " + t.ns->name();
  try {
    const AttachReport r = attach(*t.ns, t.spec.opts);
    for (const auto& g : r.forgotten) log_line("forgot " + g + where + " (gone)");
    for (const auto& d : r.devices)
      if (!d.already_attached) log_line("attached " + d.ifname + " (" + vni_text(d.vni) + ")" + where);
    for (const auto& u : r.uplinks)
      if (!u.already_attached) log_line("counting on uplink " + u.ifname + where);
    for (const auto& x : r.transit)
      if (!x.already_attached) log_line("rewriting on transit " + x.ifname + where);
    for (const auto& w : r.warnings)
      if (t.warned.insert(w).second) log_line("warning: " + w + where);  // once, not at every attach
    for (uint32_t v : r.new_vnis)
      if (cfg_.vnis.count(v)) t.apply.insert(v);
    if (!t.apply.empty()) {
      const auto now = vni_configs(*t.ns);
      for (auto it = t.apply.begin(); it != t.apply.end();) {
        const auto cur = now.find(*it);
        const auto want = cfg_.vnis.find(*it);
        if (want == cfg_.vnis.end()) {
          it = t.apply.erase(it);
          continue;
        }
        if (cur == now.end()) {
          ++it;  // not attached here (yet)
          continue;
        }
        if (!same_vni_cfg(cur->second, want->second)) {
          set_mode(*t.ns, *it, want->second);
          log_line(vni_text(*it) + where + ": mode " + mode_name(want->second.mode) + " (config)");
        }
        it = t.apply.erase(it);
      }
    }
    std::lock_guard<std::mutex> lock(mu_);  // the endpoint's threads copy health
    t.health.reconciles++;
    t.health.last_reconcile_ms = started;
    t.health.ok = true;
    t.health.error.clear();
    t.health.devices = r.devices.size();
    t.health.uplinks = r.uplinks.size();
    t.health.transit = r.transit.size();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mu_);
    t.health.reconciles++;
    t.health.last_reconcile_ms = started;
    if (t.health.error != e.what()) log_line(std::string("error") + where + ": " + e.what());
    t.health.ok = false;
    t.health.error = e.what();
    t.health.errors++;
  }
}

void Agent::balance(Target& t) {
  std::vector<std::string> errors;
  std::set<uint32_t> in_balance;
  for (const auto& [vni, c] : vni_configs(*t.ns))
    if (c.mode == QPS_MODE_BALANCE) in_balance.insert(vni);
  std::erase_if(t.balancers, [&](const auto& kv) { return !in_balance.count(kv.first); });
  for (uint32_t vni : in_balance) {
    try {
      auto& ctl = t.balancers[vni];
      if (!ctl) {
        scenario::BalanceOptions o;
        o.vni = vni;
        o.observers = t.spec.observers;
        o.node = t.spec.node;
        ctl = std::make_unique<scenario::BalanceController>(*t.ns, o);
        log_line("balancing " + vni_text(vni) + " in netns " + t.ns->name());
      }
      ctl->step();
    } catch (const std::exception& e) {
      errors.push_back(vni_text(vni) + ": " + e.what());
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& e : errors)
    if (std::find(t.health.balance_errors.begin(), t.health.balance_errors.end(), e) == t.health.balance_errors.end())
      log_line("balance in netns " + t.ns->name() + ": " + e);
  t.health.balance_errors = std::move(errors);
}

void Agent::adopt(AgentConfig next, std::vector<std::unique_ptr<Target>> fresh) {
  // Keep the targets (their sockets, controllers, health) that the new config still names, with
  // its options; the VNIs whose configured mode changed are applied again.
  std::set<uint32_t> changed;
  for (const auto& [vni, c] : next.vnis)
    if (!cfg_.vnis.count(vni) || !same_vni_cfg(cfg_.vnis.at(vni), c)) changed.insert(vni);
  std::vector<std::unique_ptr<Target>> out;
  // Held throughout: the endpoint's threads walk targets_, which the moves below leave with holes.
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& f : fresh) {
    auto old = std::find_if(targets_.begin(), targets_.end(),
                            [&](const auto& t) { return t && t->ns->inode() == f->ns->inode(); });
    if (old != targets_.end()) {
      (*old)->spec = f->spec;
      (*old)->apply.insert(changed.begin(), changed.end());  // only what the reload changed
      (*old)->dirty = true;
      out.push_back(std::move(*old));
    } else {
      log_line("new target: netns " + f->ns->name());
      out.push_back(std::move(f));
    }
  }
  for (const auto& t : targets_)
    if (t) log_line("released netns " + t->ns->name() + " (no longer in the config; left attached)");
  cfg_ = std::move(next);
  targets_ = std::move(out);
}

void Agent::reload() {
  sd_notify(0, "RELOADING=1");
  try {
    AgentConfig next = load_agent_config(cfg_.file);
    if (next.listen_host != cfg_.listen_host || next.listen_port != cfg_.listen_port)
      throw Error("listen changed; it takes a restart of the agent");
    std::vector<std::unique_ptr<Target>> fresh;
    for (TargetSpec& s : resolve(next)) {
      auto t = std::make_unique<Target>(std::move(s));
      for (const auto& [vni, c] : next.vnis) t->apply.insert(vni);  // a new target: all; adopt() narrows a kept one
      fresh.push_back(std::move(t));
    }
    adopt(std::move(next), std::move(fresh));
    reloads_++;
    log_line("reloaded " + cfg_.file.string());
  } catch (const std::exception& e) {
    reload_errors_++;
    log_line(std::string("reload failed, the running config stays: ") + e.what());
  }
  sd_notify(0, "READY=1");
}

std::vector<TargetView> Agent::views() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TargetView> out;
  for (const auto& t : targets_) out.push_back({t->ns, t->health});
  return out;
}

json Agent::agent_json() const {
  std::lock_guard<std::mutex> lock(mu_);
  json targets = json::array();
  for (const auto& t : targets_) targets.push_back(t->health.to_json());
  return {{"config", cfg_.file.string()}, {"pid", ::getpid()},        {"started_ms", started_ms_},
          {"reloads", reloads_},          {"reload_errors", reload_errors_}, {"on_exit", cfg_.detach_on_exit ? "detach" : "keep"},
          {"targets", targets}};
}

int Agent::run(const std::string& pidfile) {
  started_ms_ = unix_ms();
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&sigs, s);
  // Blocked before any thread starts (the endpoint's, Netns::run's): only signalfd sees them.
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  UniqueFd sfd(signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sfd) throw Error(errno_text("signalfd", errno));

  // The endpoint first: an agent that cannot listen (another one has the port) attaches nothing.
  // /healthz answers 503 until the first attach below.
  std::unique_ptr<Endpoint> endpoint;
  if (cfg_.listen_port) {
    endpoint = std::make_unique<Endpoint>(*this, cfg_.listen_host, cfg_.listen_port);
    log_line("serving /metrics, /v1/status, /v1/stats and /healthz on http://" + endpoint->address());
  }
  for (auto& t : targets_) reconcile(*t);
  log_line("watching " + std::to_string(targets_.size()) + " namespace(s)");
  sd_notify(0, "READY=1");
  if (!pidfile.empty()) write_pidfile(pidfile);

  int64_t next_resync = mono_ns() + cfg_.resync_ns;
  int64_t next_balance = mono_ns() + cfg_.balance_interval_ns;
  bool stop = false;
  while (!stop) {
    const int64_t now = mono_ns();
    int64_t due = std::min(next_resync, next_balance);
    for (const auto& t : targets_)
      if (t->dirty) due = std::min(due, t->dirty_since + kSettleNs);
    std::vector<pollfd> fds{{sfd.get(), POLLIN, 0}};
    for (const auto& t : targets_) fds.push_back({t->events->fd(), POLLIN, 0});
    const int wait_ms = static_cast<int>(std::clamp<int64_t>((due - now + 999'999) / 1'000'000, 0, 60'000));
    if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) throw Error(errno_text("poll", errno));

    signalfd_siginfo si{};
    while (::read(sfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      if (si.ssi_signo == SIGHUP) reload();
      else stop = true;
    }
    const int64_t t_now = mono_ns();
    for (auto& t : targets_)
      if (t->events->changed() && !t->dirty) {
        t->dirty = true;
        t->dirty_since = t_now;
      }
    if (t_now >= next_resync) {
      for (auto& t : targets_) t->dirty = true, t->dirty_since = 0;
      next_resync = t_now + cfg_.resync_ns;
    }
    for (auto& t : targets_)
      if (t->dirty && t_now >= t->dirty_since + kSettleNs) reconcile(*t);
    if (t_now >= next_balance) {
      for (auto& t : targets_) balance(*t);
      next_balance = mono_ns() + cfg_.balance_interval_ns;
    }
  }
  sd_notify(0, "STOPPING=1");
  endpoint.reset();
  if (!pidfile.empty()) ::unlink(pidfile.c_str());
  if (cfg_.detach_on_exit) {
    for (auto& t : targets_) {
      t->balancers.clear();
      try {
        const DetachReport r = detach(*t->ns);
        log_line("detached " + std::to_string(r.devices.size()) + " interface(s) in netns " + t->ns->name());
      } catch (const std::exception& e) {
        log_line("detach in netns " + t->ns->name() + " failed: " + e.what());
      }
    }
  } else {
    log_line("stopping; the datapath stays attached (on_exit: keep)");
  }
  return 0;
}

}  // namespace qpspread::agent
