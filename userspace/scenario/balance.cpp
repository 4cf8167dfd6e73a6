#include "userspace/scenario/balance.h"

#include <linux/bpf.h>

#include <net/if.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/error.h"
#include "loader/attach.h"
#include "loader/fib_probe.h"
#include "loader/pinned_maps.h"
#include "loader/uplink_discovery.h"
#include "loader/vxlan_discovery.h"
#include "userspace/scenario/lab_session.h"
#include "userspace/scenario/path_probe.h"

namespace qpspread::scenario {

// What the controller knows of one observer's stage toward one remote VTEP.
struct BalanceController::Learned {
  std::string fingerprint;                     // of the observer's route to the remote
  std::optional<bool> on_way;                  // do this node's frames to the remote cross it?
  std::map<uint16_t, std::string> port_link;   // port -> the observer's interface
  std::set<uint16_t> unanswered;               // probed, not recorded there
};

struct BalanceController::Watched {
  Observer o;
  Netns ns;
  std::unique_ptr<RtnlEvents> events;
};

namespace {

std::string vni_text(uint32_t vni) { return "VNI " + std::to_string(vni); }

// This node's stage: the remote VTEP's uplinks, and for ports from the device's first on, the
// uplink the FIB sends each by, until every uplink has `per_path` ports or max_probes were asked.
BalanceStage probe_stage(const FibProbe& probe, const VxlanDevice& dev, const RemoteVtep& remote, size_t per_path,
                         size_t max_probes, size_t& probed) {
  BalanceStage stage;
  stage.paths = remote.uplinks;
  std::map<std::string, size_t> found;
  for (uint32_t k = 0; k < dev.port_count && probed < max_probes; k++) {
    const bool enough = std::all_of(stage.paths.begin(), stage.paths.end(),
                                    [&](const std::string& p) { return found[p] >= per_path; });
    if (enough) break;
    const uint16_t port = static_cast<uint16_t>(dev.port_min + k);
    const FibProbe::Answer a = probe.lookup(dev.local, remote.address, port, dev.dstport ? dev.dstport : 4789);
    probed++;
    char name[IF_NAMESIZE] = {};
    if (!a.found() || !::if_indextoname(a.oif, name)) continue;
    if (std::find(stage.paths.begin(), stage.paths.end(), name) == stage.paths.end()) continue;
    stage.port_path[port] = name;
    found[name]++;
  }
  // An uplink the FIB never picked (its link down, its next hop gone) is no path now.
  std::erase_if(stage.paths, [&](const std::string& p) { return found[p] == 0; });
  return stage;
}

std::string display(const Observer& o, const std::string& ifname) {
  auto it = o.names.find(ifname);
  return it == o.names.end() ? ifname : it->second;
}

}  // namespace

BalanceController::BalanceController(const Netns& ns, BalanceOptions opts) : ns_(ns), opts_(std::move(opts)) {
  tag_ = std::random_device{}() & 0xff;
  ns_.run([&] { events_ = std::make_unique<RtnlEvents>(); });
  for (const auto& o : opts_.observers) {
    auto w = std::make_unique<Watched>(Watched{o, Netns::open(o.netns), nullptr});
    w->ns.run([&] { w->events = std::make_unique<RtnlEvents>(); });
    observers_.push_back(std::move(w));
  }
}

BalanceController::~BalanceController() = default;

bool BalanceController::changed() {
  bool any = events_->changed();
  for (auto& w : observers_) any = w->events->changed() || any;
  return any;
}

std::vector<int> BalanceController::fds() const {
  std::vector<int> out{events_->fd()};
  for (const auto& w : observers_) out.push_back(w->events->fd());
  return out;
}

BalanceResult balance_once(const Netns& ns, const BalanceOptions& o) { return BalanceController(ns, o).step(); }

BalanceResult BalanceController::step() {
  const Netns& ns = ns_;
  const BalanceOptions& o = opts_;
  const auto modes = status(ns).vni_modes;
  const auto mode = modes.find(o.vni);
  if (mode == modes.end()) throw Error(vni_text(o.vni) + " is not attached in netns " + ns.name() + "; attach first");
  if (mode->second != QPS_MODE_BALANCE)
    throw Error(vni_text(o.vni) + " is in mode " + mode_name(mode->second) + " in netns " + ns.name() +
                ": its assignments would not be used; set `qpspread mode --vni " + std::to_string(o.vni) +
                " balance` first");
  BalanceResult r;
  r.netns = ns.name();
  r.vni = o.vni;
  // Weights, present ports and remote VTEPs, read before anything changes.
  struct Qp {
    QpLoad load;
    std::optional<std::string> remote;
  };
  std::vector<Qp> qps;
  std::map<uint32_t, uint64_t> bytes_now;
  std::set<uint32_t> forgotten;
  const PathReport pr = path_report(ns);
  for (const auto& q : qp_stats(ns, o.vni)) {
    bytes_now[q.qpn] = q.bytes;
    const bool is_expected = expected_.count(q.qpn) > 0;
    // Expectations set: the QPs seen before them are old (a previous run's); from then on their
    // bytes count from now.
    if (rebase_ && !is_expected) bytes_[q.qpn] = q.bytes;
    const auto before = bytes_.find(q.qpn);
    const uint64_t sent = before != bytes_.end() && before->second <= q.bytes ? q.bytes - before->second : q.bytes;
    Qp x{{q.qpn, static_cast<double>(sent), std::nullopt}, std::nullopt};
    // A QP that sent nothing since the step before is idle: placed after the others, so that a
    // finished QP does not hold a share of a path; idle for kForgetAfter steps (or seen before
    // the expectations were set: a previous run's), it is left out and its assignment cleared.
    x.load.idle = (stepped_ || rebase_) && sent == 0 && !is_expected;
    if (rebase_ && !is_expected) {
      idle_steps_[q.qpn] = kForgetAfter;
    } else if (x.load.idle) {
      idle_steps_[q.qpn]++;
    } else {
      idle_steps_.erase(q.qpn);
    }
    if (auto it = idle_steps_.find(q.qpn); it != idle_steps_.end() && it->second >= kForgetAfter) {
      forgotten.insert(q.qpn);
      continue;
    }
    if (q.sport) x.load.sport = q.sport;
    if (auto f = pr.flowlets.find({o.vni, q.qpn}); f != pr.flowlets.end()) x.load.sport = f->second.sport;
    if (auto p = pr.qp_paths.find({o.vni, q.qpn}); p != pr.qp_paths.end()) x.remote = vtep_text(p->second.remote);
    if (auto e = expected_.find(q.qpn); !x.remote && e != expected_.end()) x.remote = e->second;
    qps.push_back(x);
  }
  for (const auto& [qpn, remote] : expected_)
    if (!bytes_now.count(qpn)) qps.push_back({{qpn, 0.0, std::nullopt}, remote});
  // This node: the device, its remote VTEPs and, per remote, the candidate ports' uplinks.
  std::optional<VxlanDevice> dev;
  std::vector<RemoteVtep> remotes;
  std::map<std::string, BalanceStage> own;
  ns.run([&] {
    for (const auto& d : discover_vxlan_devices())
      if (d.vni == o.vni && !d.external) dev = d;
    if (!dev) throw Error("no VXLAN device of " + vni_text(o.vni) + " in netns " + ns.name());
    if (dev->local.empty())
      throw Error(dev->ifname + " has no local address: the FIB cannot be asked which uplink its frames take");
    std::string all;
    for (const auto& v : discover_uplinks({dev->ifindex}).remote_vteps) {
      all += (all.empty() ? "" : ", ") + v.address;
      if (!o.remote || *o.remote == v.address) remotes.push_back(v);
    }
    if (remotes.empty())
      throw Error(o.remote ? "remote VTEP " + *o.remote + " is not one of " + dev->ifname + "'s (" + all + ")"
                           : dev->ifname + " has no remote VTEP yet");
  });
  r.local = dev->local;
  // A QP goes with the remote its frames went to; with one remote VTEP, every QP goes there.
  std::map<std::string, std::vector<const Qp*>> by_remote;
  for (const auto& q : qps) {
    const std::string remote = q.remote ? *q.remote : remotes.size() == 1 ? remotes.front().address : "";
    if (std::any_of(remotes.begin(), remotes.end(), [&](const RemoteVtep& v) { return v.address == remote; }))
      by_remote[remote].push_back(&q);
  }
  if (by_remote.empty() && remotes.size() == 1) by_remote[remotes.front().address];  // no QP yet: the paths still
  std::map<uint32_t, uint16_t> ports;
  for (const auto& by : by_remote) {
    const std::string& remote_addr = by.first;  // not a binding: clang 14 cannot capture one
    const auto& group = by.second;
    const RemoteVtep& remote =
        *std::find_if(remotes.begin(), remotes.end(), [&](const RemoteVtep& v) { return v.address == remote_addr; });
    if (remote.uplinks.empty()) throw Error("no route to remote VTEP " + remote.address + " yet");
    BalanceGroup g;
    g.remote = remote.address;
    const size_t n = std::max<size_t>(group.size(), 1);
    // More candidates than QPs when stages further on must be matched too.
    ns.run([&] {
      own[remote.address] = probe_stage(probe_, *dev, remote, observers_.empty() ? n : 4 * n, o.max_probes, r.probed);
    });
    BalanceStage& mine = own[remote.address];
    mine.name = o.node.empty() ? ns.name() : o.node;
    if (mine.paths.empty()) {
      // The probe asks as for a forwarded frame (so that it hashes as the VXLAN driver does): a
      // namespace that does not forward answers nothing.
      int rc = 0;
      ns.run([&] { rc = probe_.lookup(dev->local, remote.address, 49152).rc; });
      if (rc == BPF_FIB_LKUP_RET_FWD_DISABLED)
        throw Error("IP forwarding is off in netns " + ns.name() + ", and mode balance asks the FIB as a router does; "
                    "set net.ipv4.ip_forward=1 (IPv6: net.ipv6.conf.all.forwarding=1) there");
      throw Error("the FIB sends by none of " + remote.address + "'s uplinks (" + std::to_string(r.probed) +
                  " ports asked); are they up?");
    }
    std::vector<BalanceStage> stages{mine};
    for (size_t k = 0; k < observers_.size(); k++) {
      Watched& w = *observers_[k];
      auto& slot = learned_[{k, remote.address}];
      if (!slot) slot = std::make_unique<Learned>();
      Learned& L = *slot;
      RouteToVtep route;
      w.ns.run([&] { route = route_to(remote.address); });
      const PathReport opr = path_report(w.ns);
      std::set<std::string> attached;
      for (const auto& [ifindex, name] : opr.ifnames) attached.insert(name);
      std::vector<std::string> legs;
      for (const auto& d : route.devices)
        if (attached.count(d)) legs.push_back(d);
      if (route.fingerprint != L.fingerprint) {
        if (!L.port_link.empty()) r.notes.push_back(w.o.name + ": its route to " + remote.address + " changed; what it told is dropped");
        L.port_link.clear();
        L.unanswered.clear();
        if (L.on_way == false) L.on_way.reset();
        L.fingerprint = route.fingerprint;
      }
      if (legs.empty()) continue;  // no route there, or none by an uplink qpspread counts
      // The QPs' own frames: a port seen on a link agrees with what was learned, or it is dropped.
      for (const Qp* q : group) {
        auto seen = opr.qp_paths.find({o.vni, q->load.qpn});
        if (seen == opr.qp_paths.end() || !q->load.sport || seen->second.sport != *q->load.sport ||
            vtep_text(seen->second.remote) != remote.address)
          continue;
        auto name = opr.ifnames.find(seen->second.ifindex);
        if (name == opr.ifnames.end()) continue;
        auto known = L.port_link.find(*q->load.sport);
        if (known != L.port_link.end() && known->second != name->second) {
          r.notes.push_back(w.o.name + ": QP " + std::to_string(q->load.qpn) + "'s port " + std::to_string(*q->load.sport) +
                            " left by " + name->second + ", not " + known->second + "; what it told is dropped");
          L.port_link.clear();
          L.unanswered.clear();
          break;
        }
        L.port_link[*q->load.sport] = name->second;
        L.on_way = true;
      }
      if (L.on_way == false) continue;
      // Candidates not known there yet: with one leg (and the frames known to cross it) every port
      // takes it; else probe them.
      std::vector<uint16_t> unknown;
      for (const auto& [port, _] : mine.port_path)
        if (!L.port_link.count(port) && !L.unanswered.count(port)) unknown.push_back(port);
      if (!unknown.empty() && legs.size() == 1 && L.on_way == true) {
        for (uint16_t p : unknown) L.port_link[p] = legs.front();
      } else if (!unknown.empty()) {
        ProbeBatch batch{r.local, remote.address, dev->dstport ? dev->dstport : static_cast<uint16_t>(4789), tag_, unknown};
        ns.run([&] { send_probes(batch); });
        g.probes += unknown.size();
        const auto answers = read_probes(w.ns, batch, o.probe_wait_ms);
        if (answers.empty() && !L.on_way) {
          L.on_way = false;  // none crossed it: not on the way to this remote
          continue;
        }
        L.on_way = true;
        for (uint16_t p : unknown) {
          auto a = answers.find(p);
          if (a == answers.end()) {
            L.unanswered.insert(p);
          } else {
            L.port_link[p] = a->second;
          }
        }
      }
      BalanceStage st;
      st.name = w.o.name;
      std::set<std::string> used;
      for (const auto& [port, link] : L.port_link)
        if (std::find(legs.begin(), legs.end(), link) != legs.end()) {
          st.port_path[port] = display(w.o, link);
          used.insert(link);
        }
      // A leg no known port takes (its link down, its next hop gone) is no path now.
      for (const auto& l : legs)
        if (used.count(l)) st.paths.push_back(display(w.o, l));
      if (st.paths.empty()) continue;
      g.observed.push_back(w.o.name);
      stages.push_back(std::move(st));
    }
    std::vector<QpLoad> loads;
    for (const Qp* q : group) loads.push_back(q->load);
    g.plan = plan_balance(loads, stages);
    for (const auto& q : g.plan.qps) ports[q.qpn] = q.sport;
    r.groups.push_back(std::move(g));
  }
  // Assignments of QPs gone (neither seen nor expected) or forgotten (idle too long) are cleared.
  for (const auto& [key, port] : pr.assignments)
    if (key.vni == o.vni && !ports.count(key.qpn) &&
        ((!bytes_now.count(key.qpn) && !expected_.count(key.qpn)) || forgotten.count(key.qpn)))
      ports[key.qpn] = 0;
  assign_ports(ns, o.vni, ports);
  bytes_ = std::move(bytes_now);
  stepped_ = true;
  rebase_ = false;
  return r;
}

struct LabBalancer::Leaf {
  std::string node;
  Netns ns;
  std::unique_ptr<BalanceController> ctl;
  std::string local;  // its VXLAN device's address for the VNI
};

std::vector<Observer> lab_observers(const lab::ClabTopology& topo) {
  std::vector<Observer> observers;
  for (const auto& n : topo.nodes) {
    if (role(n) != "border") continue;
    Observer o{n.name, topo.netns(n.name), {}};
    for (const auto& l : topo.links)
      for (const auto* ep : {&l.a, &l.b})
        if (ep->node == n.name) o.names[ep->ifname] = l.name;
    observers.push_back(std::move(o));
  }
  return observers;
}

LabBalancer::LabBalancer(const lab::ClabTopology& topo, uint32_t vni) {
  const std::vector<Observer> observers = lab_observers(topo);
  for (const auto& n : topo.nodes) {
    if (role(n) != "leaf") continue;
    Netns ns = Netns::open(topo.netns(n.name));
    const auto modes = status(ns).vni_modes;
    if (auto m = modes.find(vni); m == modes.end() || m->second != QPS_MODE_BALANCE) continue;
    auto leaf = std::make_unique<Leaf>(Leaf{n.name, std::move(ns), nullptr, ""});
    leaf->ns.run([&] {
      for (const auto& d : discover_vxlan_devices())
        if (d.vni == vni && !d.external) leaf->local = d.local;
    });
    BalanceOptions o;
    o.vni = vni;
    o.observers = observers;
    o.node = n.name;
    leaf->ctl = std::make_unique<BalanceController>(leaf->ns, o);
    leaves_.push_back(std::move(leaf));
  }
  if (leaves_.empty())
    throw Error("no leaf of lab " + topo.name + " has " + vni_text(vni) + " in mode balance; set it with `qpspread mode --lab " +
                topo.name + " --node LEAF --vni " + std::to_string(vni) + " balance`");
}

LabBalancer::~LabBalancer() = default;

std::vector<LabBalancer::Step> LabBalancer::step() {
  std::vector<Step> out;
  for (auto& l : leaves_) {
    Step s{l->node, std::nullopt, ""};
    try {
      s.result = l->ctl->step();
    } catch (const Error& e) {
      s.error = e.what();
    }
    out.push_back(std::move(s));
  }
  return out;
}

void LabBalancer::expect(const std::vector<ExpectedQp>& qps) {
  std::map<std::string, std::string> local;
  for (const auto& l : leaves_) local[l->node] = l->local;
  for (auto& l : leaves_) {
    std::map<uint32_t, std::string> mine;
    for (const auto& q : qps)
      if (q.from == l->node && local.count(q.to) && !local[q.to].empty()) mine[q.qpn] = local[q.to];
    l->ctl->expect(std::move(mine));
  }
}

bool LabBalancer::changed() {
  bool any = false;
  for (auto& l : leaves_) any = l->ctl->changed() || any;
  return any;
}

std::vector<int> LabBalancer::fds() const {
  std::vector<int> out;
  for (const auto& l : leaves_)
    for (int fd : l->ctl->fds()) out.push_back(fd);
  return out;
}

void await_next_step(const std::vector<int>& fds, const std::function<bool()>& changed, int64_t ns,
                     const std::function<bool()>& stop) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  std::vector<pollfd> p;
  for (int fd : fds) p.push_back({fd, POLLIN, 0});
  while (!stop() && std::chrono::steady_clock::now() < end)
    if (::poll(p.data(), p.size(), 20) > 0 && changed()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      changed();
      return;
    }
}

nlohmann::json to_json(const std::vector<LabBalancer::Step>& steps) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : steps) {
    nlohmann::json j = s.result ? to_json(*s.result) : nlohmann::json{{"error", s.error}};
    j["node"] = s.node;
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json to_json(const BalanceResult& r) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : r.groups)
    groups.push_back({{"remote", g.remote}, {"observed", g.observed}, {"probes", g.probes}, {"plan", to_json(g.plan)}});
  return {{"netns", r.netns}, {"vni", r.vni}, {"local", r.local}, {"probed", r.probed}, {"notes", r.notes},
          {"groups", groups}};
}

}  // namespace qpspread::scenario
