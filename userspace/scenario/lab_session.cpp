#include "userspace/scenario/lab_session.h"

#include <algorithm>
#include <chrono>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/netns.h"
#include "loader/attach.h"
#include "userspace/lab/clab_deployed.h"
#include "userspace/lab/host_resolve.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/lab/lab_state.h"
#include "userspace/lab/lab_wan.h"
#include "userspace/report/stats_report.h"

namespace qpspread::scenario {

std::string role(const lab::ClabNode& n) { return n.labels.count("role") ? n.labels.at("role") : ""; }

LabControl::~LabControl() {
  if (!open_) return;
  try {
    close([](const std::string&) {});
  } catch (...) {
  }
}

double LabControl::open(const Progress& say) {
  const auto t0 = std::chrono::steady_clock::now();
  if (topo_.runner == lab::Runner::Qpspread) {
    say("bringing up lab " + topo_.name + " from " + topo_.file.string());
    open_ = true;  // from here on, close() takes down whatever lab_up made
    const nlohmann::json up = lab::lab_up(topo_, {60, say, ""});
    throw_if_interrupted();
    if (!up["converged"].get<bool>()) throw Error("the lab did not converge: " + up["not_converged"].dump());
  } else {
    const std::vector<std::string> missing = lab::clab_not_deployed(topo_);
    if (!missing.empty()) {
      std::string what;
      for (size_t i = 0; i < missing.size() && i < 3; i++) what += (i ? "; " : "") + missing[i];
      throw Error("lab " + topo_.name + " is not deployed as " + topo_.file.string() + " describes (" + what +
                  "); deploy it with 'containerlab deploy -t " + topo_.file.string() + "' (its lab name must be " +
                  topo_.name + ", the spec's lab) or use runner: qpspread");
    }
    say("lab " + topo_.name + " deployed by containerlab: waiting for it to converge (timeout 60 s)");
    open_ = true;
    wait_converged(topo_, 60, "(deployed by containerlab)");
  }
  attach_all(topo_, say);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void LabControl::close(const Progress& say, bool keep) {
  if (!open_) return;
  open_ = false;
  if (keep) return;
  if (topo_.runner == lab::Runner::Qpspread) {
    say("tearing the lab down");
    lab::lab_down(topo_.name);
    return;
  }
  for (const auto& n : topo_.nodes)
    if (role(n) == "leaf" || role(n) == "border") detach(Netns::open(topo_.netns(n.name)));
  // Without sch_netem no run could have impaired a WAN link: nothing to put back.
  if (!lab::netem_available()) {
    say("lab " + topo_.name + " left up, qpspread detached");
    return;
  }
  say("lab " + topo_.name + " left up, qpspread detached, WAN links as " + topo_.file.string() + " has them");
  for (const auto& l : topo_.links)
    if (l.wan) lab::clab_set_link(topo_, l, l.impairment);
}

void LabControl::set_wan(const wan::Impairment& imp) {
  if (topo_.runner == lab::Runner::Containerlab) {
    for (const auto& l : topo_.links)
      if (l.wan) lab::clab_set_link(topo_, l, imp);
  } else {
    auto st = lab::LabState::load(topo_.name);
    if (!st) throw Error("lab " + topo_.name + " has no state; see qpspread lab status --name " + topo_.name);
    for (const auto& l : topo_.links)
      if (l.wan) lab::wan_impair(*st, l, wan::ImpairmentChange::all_of(imp));
  }
  wan_ = imp;
}

void LabControl::link(const std::string& name, bool up) {
  if (topo_.runner == lab::Runner::Qpspread) {
    lab::lab_link(topo_.name, name, up);
    return;
  }
  const lab::ClabLink* l = topo_.link(name);
  if (!l) throw Error("lab " + topo_.name + " has no link '" + name + "' in " + topo_.file.string());
  if (l->wan) lab::clab_require_netem();
  lab::clab_run(lab::clab_link_commands(topo_, *l, up, wan_));
}

void LabControl::node(const std::string& name, bool start) {
  if (topo_.runner == lab::Runner::Qpspread) {
    lab::lab_node(topo_.name, name, start);
    return;
  }
  if (!topo_.node(name)) throw Error("lab " + topo_.name + " has no node '" + name + "' in " + topo_.file.string());
  lab::clab_run(lab::clab_node_commands(topo_, name, start));
}

void wait_converged(const lab::ClabTopology& t, int timeout_s, const std::string& why) {
  const std::vector<std::string> missing =
      lab::await_converged(t, std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s));
  throw_if_interrupted();
  if (missing.empty()) return;
  std::string what;
  for (size_t i = 0; i < missing.size() && i < 4; i++) what += (i ? "; " : "") + missing[i];
  throw Error("the lab did not converge within " + std::to_string(timeout_s) + " s " + why + ": " + what +
              (t.runner == lab::Runner::Qpspread ? "; see qpspread lab status --name " + t.name : ""));
}

std::map<std::string, uint64_t> wan_bytes(const lab::ClabTopology& t) {
  std::map<std::string, uint64_t> out;
  for (const auto& l : t.links) {
    if (!l.wan) continue;
    for (const auto& [from, to] : {std::pair{&l.a, &l.b}, std::pair{&l.b, &l.a}}) {
      uint64_t sum = 0;
      const report::StatsReport r = report::build_stats(Netns::open(t.netns(from->node)), std::nullopt);
      for (const auto& v : r.vnis)
        for (const auto& p : v.paths)
          if (p.ifname == from->ifname) sum += p.tx.roce_bytes;
      out[l.name + " " + from->node + ">" + to->node] = sum;
    }
  }
  return out;
}

std::vector<NodeAttach> lab_attach_plan(const lab::ClabTopology& t) {
  std::vector<NodeAttach> plan;
  for (const auto& n : t.nodes) {
    NodeAttach a{n.name, role(n) == "border", {}};
    if (a.border) {
      for (const auto& l : t.links)
        for (const auto* ep : {&l.a, &l.b})
          if (l.wan && ep->node == n.name) a.opts.uplinks.push_back(ep->ifname);
    } else if (role(n) != "leaf") {
      continue;
    }
    plan.push_back(std::move(a));
  }
  return plan;
}

void attach_all(const lab::ClabTopology& t, const Progress& say) {
  for (NodeAttach& a : lab_attach_plan(t)) {
    a.opts.initial_mode = {QPS_MODE_OFF, QPS_DEFAULT_FLOWLET_GAP_US, 0};
    const AttachReport r = attach(Netns::open(t.netns(a.node)), a.opts);
    say("attached to " + a.node + ": " + std::to_string(r.devices.size()) + " VXLAN devices, " +
        std::to_string(r.uplinks.size()) + (a.border ? " WAN links" : " uplinks"));
  }
}

std::vector<workload::HostAddr> ring_hosts(const lab::ClabTopology& t, uint32_t vni, int ranks) {
  std::map<std::string, std::vector<std::string>> by_dc;
  const std::string suffix = "-h" + std::to_string(vni);
  for (const auto& n : t.nodes)
    if (role(n) == "host" && n.name.ends_with(suffix)) by_dc[n.labels.count("dc") ? n.labels.at("dc") : ""].push_back(n.name);
  if (by_dc.size() < 2) throw Error("the lab has no hosts of VNI " + std::to_string(vni) + " in two data centers");
  std::vector<std::string> names;
  for (auto& [dc, hosts] : by_dc) {
    std::sort(hosts.begin(), hosts.end());
    for (int i = 0; i < ranks / 2 && i < static_cast<int>(hosts.size()); i++) names.push_back(hosts[static_cast<size_t>(i)]);
  }
  std::vector<workload::HostAddr> hosts;
  for (const auto& n : names) hosts.push_back(lab::resolve_host(t.netns(n)));
  return hosts;
}

std::string leaf_of_host(const lab::ClabTopology& t, const workload::HostAddr& host, uint32_t vni) {
  std::string leaf = host.netns.substr(t.netns("").size());
  leaf.resize(leaf.size() - ("-h" + std::to_string(vni)).size());
  return leaf;
}

}  // namespace qpspread::scenario
