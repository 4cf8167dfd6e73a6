// lab up: namespaces, links, sysctls, exec commands, FRR, then the wait for convergence.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/command.h"
#include "common/error.h"
#include "common/netns.h"
#include "common/process.h"
#include "userspace/lab/lab_internal.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/lab/lab_state.h"
#include "userspace/lab/lab_wan.h"

namespace qpspread::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void say(const UpOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

void add_namespace(LabState& st, const std::string& ns) {
  st.add_namespace(ns);  // recorded first: a crash right after still gets it removed
  run_checked({"ip", "netns", "add", ns});
  run_checked({"ip", "-n", ns, "link", "set", "lo", "up"});
}

void add_link(LabState& st, const ClabTopology& t, const ClabLink& l) {
  if (l.wan) {
    wan_link_up(st, t, l);
    return;
  }
  veth_between(t.netns(l.a.node), l.a.ifname, t.netns(l.b.node), l.b.ifname, l.mtu);
}

// "net.ipv4.ip_forward" -> /proc/sys/net/ipv4/ip_forward, written from a thread inside the
// namespace: /proc/sys/net shows the namespace of the thread that opens it.
void apply_sysctls(const ClabTopology& t, const ClabNode& n) {
  if (n.sysctls.empty()) return;
  Netns::open(t.netns(n.name)).run([&] {
    for (const auto& [key, value] : n.sysctls) {
      std::string path = "/proc/sys/" + key;
      for (size_t i = 10; i < path.size(); i++)
        if (path[i] == '.') path[i] = '/';
      std::ofstream f(path);
      f << value;
      f.flush();
      if (!f) throw Error("node " + n.name + ": cannot set sysctl " + key + "=" + value);
    }
  });
}

// containerlab runs each `exec` entry in the container, without a shell: split on blanks.
void run_exec(const ClabTopology& t, const ClabNode& n) {
  for (const auto& line : n.exec) {
    std::istringstream words(line);
    std::vector<std::string> argv;
    for (std::string w; words >> w;) argv.push_back(w);
    if (argv.empty()) continue;
    CommandOutput r = run_command(in_netns(t.netns(n.name), argv));
    if (r.exit_code != 0) throw Error("node " + n.name + ": exec '" + line + "' failed: " + r.err);
  }
}

void start_routers(LabState& st, const ClabTopology& t) {
  for (const auto& n : t.nodes) {
    if (n.frr_conf().empty()) continue;
    if (!fs::exists(n.frr_conf())) throw Error("node " + n.name + ": no FRR config " + n.frr_conf());
    start_frr(st, t.netns(n.name), n.name, n.frr_conf());
  }
}

// `qpspread agent --lab` for the lab, recorded with its processes (lab down ends it); returns once
// it serves.
json start_agent(LabState& st, const std::string& lab, const std::string& listen) {
  const std::string log = st.dir() + "/agent.log", pidfile = st.dir() + "/agent.pid";
  ::unlink(pidfile.c_str());
  const pid_t pid = spawn_daemon({self_exe(), "agent", "--lab", lab, "--listen", listen, "--pidfile", pidfile}, log);
  st.add_process({"lab", "agent", pid, process_start_ticks(pid)});
  if (wait_for_pidfile(pidfile, std::chrono::seconds(20), pid) == 0)
    throw Error("the lab's agent did not start; see " + log + ", and 'qpspread lab down' removes what the lab made");
  st.event("agent started");
  return {{"pid", pid}, {"listen", listen}, {"log", log}};
}

}  // namespace

json lab_up(const ClabTopology& t, const UpOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (LabState::load(t.name)) {
    say(o, "lab " + t.name + " is up or was left by an earlier up: taking it down first");
    lab_down(t.name, o.progress);
  }
  for (const auto& n : t.nodes)
    if (netns_exists(t.netns(n.name)))
      throw Error("netns " + t.netns(n.name) + " exists and is not this lab's (a containerlab deployment?); "
                  "remove it or pick another lab name");
  LabState st = LabState::create(t.name, t.file.string());
  say(o, "creating " + std::to_string(t.nodes.size()) + " namespaces and " + std::to_string(t.links.size()) + " links");
  for (const auto& n : t.nodes) add_namespace(st, t.netns(n.name));
  for (const auto& l : t.links) add_link(st, t, l);
  say(o, "applying sysctls and exec commands");
  for (const auto& n : t.nodes) {
    apply_sysctls(t, n);
    run_exec(t, n);
  }
  say(o, "starting FRR (zebra, bfdd, bgpd)");
  start_routers(st, t);
  st.json()["up"] = true;
  st.event("up");
  say(o, "waiting for BGP, BFD, EVPN and the VTEPs' ECMP routes to converge (timeout " +
             std::to_string(o.timeout_s) + " s)");
  const std::vector<std::string> missing = await_converged(t, t0 + std::chrono::seconds(o.timeout_s));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.event(missing.empty() ? "converged" : "not converged after " + std::to_string(o.timeout_s) + " s");
  json out = {{"lab", t.name}, {"converged", missing.empty()}, {"seconds", secs}, {"not_converged", missing},
              {"nodes", t.nodes.size()}, {"links", t.links.size()}};
  if (!o.agent_listen.empty() && missing.empty()) {
    say(o, "starting qpspread agent --lab " + t.name + " (endpoint " + o.agent_listen + ")");
    out["agent"] = start_agent(st, t.name, o.agent_listen);
  }
  return out;
}

}  // namespace qpspread::lab
