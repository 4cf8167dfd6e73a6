// lab down, status, exec, and failure injection (link down|up, node stop|start).
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "common/command.h"
#include "common/error.h"
#include "common/netns.h"
#include "loader/attach.h"
#include "userspace/lab/lab_internal.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/lab/lab_state.h"
#include "userspace/lab/lab_wan.h"

namespace qpspread::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

LabState state_or_throw(const std::string& lab) {
  auto st = LabState::load(lab);
  if (!st) throw Error("lab " + lab + " is not up (no " + LabState::dir_for(lab) + "/state.json); run 'qpspread lab up' first");
  return std::move(*st);
}

// The lab's topology under the lab's name (up may have given it another than the file's).
ClabTopology topology_of(const LabState& st) {
  ClabTopology t = load_clab(st.json()["topology"].get<std::string>());
  t.name = st.lab();
  return t;
}

const ClabNode& node_or_throw(const ClabTopology& t, const std::string& node) {
  const ClabNode* n = t.node(node);
  if (!n) {
    std::string names;
    for (const auto& x : t.nodes) names += (names.empty() ? "" : ", ") + x.name;
    throw Error("lab " + t.name + " has no node '" + node + "' (nodes: " + names + ")");
  }
  return *n;
}

json node_status(const ClabTopology& t, const LabState& st, const ClabNode& n) {
  const std::string ns = t.netns(n.name);
  json j = {{"name", n.name}, {"netns", ns}, {"exists", netns_exists(ns)}, {"labels", n.labels},
            {"processes", json::array()}};
  for (const auto& p : st.processes())
    if (p.node == n.name) j["processes"].push_back({{"what", p.what}, {"pid", p.pid}, {"running", still_running(p)}});
  if (n.frr_conf().empty() || !j["exists"].get<bool>()) return j;
  const RouterView v = router_view(t, n.name);
  j["frr_answers"] = v.answered;
  j["bgp"] = json::array();
  for (const auto& [peer, state] : v.bgp_peers) j["bgp"].push_back({{"peer", peer}, {"state", state}});
  j["bfd"] = json::array();
  for (const auto& [peer, status] : v.bfd_peers) j["bfd"].push_back({{"peer", peer}, {"status", status}});
  j["vnis"] = json::array();
  for (const auto& [vni, vteps] : v.vni_remote_vteps) j["vnis"].push_back({{"vni", vni}, {"remote_vteps", vteps}});
  return j;
}

}  // namespace

ClabTopology lab_topology(const std::string& lab) { return topology_of(state_or_throw(lab)); }

json lab_down(const std::string& lab, const Progress& progress) {
  json out = {{"lab", lab}, {"was_up", false}, {"processes_ended", 0}, {"namespaces_removed", json::array()}};
  auto st = LabState::load(lab);
  if (!st) return out;
  out["was_up"] = true;
  if (progress) progress("taking lab " + lab + " down");
  out["processes_ended"] = end_processes(st->processes());
  const json namespaces = st->json()["namespaces"];
  for (auto it = namespaces.rbegin(); it != namespaces.rend(); ++it) {
    const std::string ns = it->get<std::string>();
    if (!netns_exists(ns)) continue;
    // qpspread's own pins for the namespace go with it (they are keyed by its inode).
    try {
      detach(Netns::open(ns));
    } catch (const Error&) {
    }
    run_command({"ip", "netns", "del", ns});
    std::error_code ec;
    fs::remove_all("/var/run/frr/" + ns, ec);
    out["namespaces_removed"].push_back(ns);
  }
  st->remove();
  return out;
}

json lab_status(const std::string& lab) {
  const LabState st = state_or_throw(lab);
  const ClabTopology t = topology_of(st);
  json j = {{"lab", lab}, {"topology", t.file.string()}, {"created", st.json()["created"]}, {"nodes", json::array()},
            {"links", json::array()}, {"events", st.json()["events"]}};
  for (const auto& n : t.nodes) j["nodes"].push_back(node_status(t, st, n));
  for (const auto& l : t.links)
    if (l.wan) j["links"].push_back(wan_link_status(st, l));
  return j;
}

int lab_exec(const std::string& lab, const std::string& node, const std::vector<std::string>& argv) {
  const LabState st = state_or_throw(lab);
  const ClabTopology t = topology_of(st);
  node_or_throw(t, node);
  if (argv.empty()) throw Error("lab exec needs a command after --");
  if (!netns_exists(t.netns(node)))
    throw Error("node " + node + " has no namespace " + netns_path(t.netns(node)) + "; is the lab up?");
  const Netns ns = Netns::open(t.netns(node));
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      ns.enter();
    } catch (...) {
      _exit(127);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) throw Error("cannot fork");
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

json lab_link(const std::string& lab, const std::string& name, bool up) {
  LabState st = state_or_throw(lab);
  const ClabTopology t = topology_of(st);
  const ClabLink* l = t.link(name);
  if (!l) throw Error("lab " + lab + " has no link '" + name + "' (name a link by vars.name or by an endpoint NODE:IF)");
  json j = {{"lab", lab}, {"link", l->name}, {"state", up ? "up" : "down"}};
  if (l->wan) {
    wan_cut(st, *l, !up);
    j["how"] = "relay drops every frame (no carrier change: only BFD can tell)";
  } else {
    for (const auto* ep : {&l->a, &l->b}) run_checked({"ip", "-n", t.netns(ep->node), "link", "set", "dev", ep->ifname, up ? "up" : "down"});
    j["how"] = "both ends administratively " + std::string(up ? "up" : "down");
  }
  j["time"] = utc_now();
  st.event("link " + l->name + (up ? " up" : " down"));
  return j;
}

json lab_node(const std::string& lab, const std::string& node, bool start) {
  LabState st = state_or_throw(lab);
  const ClabTopology t = topology_of(st);
  const ClabNode& n = node_or_throw(t, node);
  const std::string ns = t.netns(node);
  std::vector<std::string> ifs;
  for (const auto& l : t.links)
    for (const auto* ep : {&l.a, &l.b})
      if (ep->node == node) ifs.push_back(ep->ifname);
  if (!start) {
    std::vector<LabProcess> mine;
    for (const auto& p : st.processes())
      if (p.node == node) mine.push_back(p);
    end_processes(mine);
    st.remove_processes(node);
    for (const auto& i : ifs) run_checked({"ip", "-n", ns, "link", "set", "dev", i, "down"});
  } else {
    for (const auto& i : ifs) run_checked({"ip", "-n", ns, "link", "set", "dev", i, "up"});
    bool running = false;
    for (const auto& p : st.processes()) running |= p.node == node && still_running(p);
    if (!n.frr_conf().empty() && !running) start_frr(st, ns, node, n.frr_conf());
  }
  st.event("node " + node + (start ? " start" : " stop"));
  return {{"lab", lab}, {"node", node}, {"state", start ? "started" : "stopped"}, {"time", utc_now()}};
}

}  // namespace qpspread::lab
