#include "userspace/lab/lab_wan.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/command.h"
#include "common/error.h"
#include "userspace/lab/lab_internal.h"

namespace qpspread::lab {
namespace {

using nlohmann::json;

std::string wire_netns(const std::string& lab, const std::string& link) { return "qps-wire-" + lab + "-" + link; }

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw Error("cannot find the qpspread binary (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

// Starts argv detached from this process (its own session, output to `log`); returns its PID.
pid_t spawn_daemon(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid < 0) throw Error("cannot fork");
  if (pid == 0) {
    ::setsid();
    const int null = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

json text_json(const ImpairmentText& imp) {
  json j = json::object();
  for (const auto& [k, v] : imp) j[k] = v;
  return j;
}

// What the relay or netem applies now: the declared impairment, or everything lost when cut.
ImpairmentText effective(const json& link) {
  ImpairmentText imp;
  for (const auto& [k, v] : link["impairment"].items()) imp[k] = v.get<std::string>();
  if (link.value("cut", false)) imp["loss"] = "100";
  return imp;
}

std::vector<std::string> netem_args(const ImpairmentText& imp) {
  std::vector<std::string> a = {"netem"};
  auto get = [&](const char* k) {
    auto it = imp.find(k);
    return it == imp.end() ? std::string() : it->second;
  };
  a.insert(a.end(), {"delay", get("delay").empty() ? "0ms" : get("delay")});
  if (!get("jitter").empty()) a.push_back(get("jitter"));
  if (!get("loss").empty()) a.insert(a.end(), {"loss", get("loss") + "%"});
  if (!get("rate").empty()) a.insert(a.end(), {"rate", get("rate")});
  return a;
}

void write_control(const json& link) {
  const std::string path = link["control"].get<std::string>(), tmp = path + ".tmp";
  std::ofstream(tmp) << text_json(effective(link)).dump() << "\n";
  std::rename(tmp.c_str(), path.c_str());
}

void apply(LabState& st, const std::string& name) {
  const json& link = st.json()["links"][name];
  if (link["backend"] == "netem") {
    for (const auto& end : link["ends"]) {
      std::vector<std::string> argv = {"tc", "-n", end["netns"].get<std::string>(), "qdisc", "replace", "dev",
                                       end["ifname"].get<std::string>(), "root"};
      for (const auto& a : netem_args(effective(link))) argv.push_back(a);
      run_checked(argv);
    }
    return;
  }
  write_control(link);
  const LabProcess relay{"wire:" + name, "wan-relay", link["relay_pid"].get<pid_t>(), link["relay_start_ticks"].get<unsigned long long>()};
  if (!still_running(relay)) throw Error("the relay of WAN link " + name + " is not running; see " + link["log"].get<std::string>());
  ::kill(relay.pid, SIGHUP);
}

}  // namespace

bool netem_available() {
  static const bool available = [] {
    const std::string ns = "qps-netem-probe-" + std::to_string(::getpid());
    if (run_command({"ip", "netns", "add", ns}).exit_code != 0) return false;
    run_command({"ip", "-n", ns, "link", "set", "lo", "up"});
    const bool ok = run_command({"tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"}).exit_code == 0;
    run_command({"ip", "netns", "del", ns});
    return ok;
  }();
  return available;
}

void wan_link_up(LabState& st, const ClabTopology& t, const ClabLink& l) {
  json link = {{"name", l.name}, {"impairment", text_json(l.impairment)}, {"cut", false},
               {"ends", {{{"netns", t.netns(l.a.node)}, {"ifname", l.a.ifname}}, {{"netns", t.netns(l.b.node)}, {"ifname", l.b.ifname}}}}};
  if (netem_available()) {
    link["backend"] = "netem";
    st.json()["links"][l.name] = link;
    st.save();
    veth_between(t.netns(l.a.node), l.a.ifname, t.netns(l.b.node), l.b.ifname, l.mtu);
    apply(st, l.name);
    return;
  }
  const std::string wire = wire_netns(t.name, l.name);
  link["backend"] = "relay";
  link["wire_netns"] = wire;
  link["control"] = st.dir() + "/" + l.name + ".json";
  link["log"] = st.dir() + "/" + l.name + ".log";
  st.json()["links"][l.name] = link;
  st.add_namespace(wire);
  run_checked({"ip", "netns", "add", wire});
  run_checked({"ip", "-n", wire, "link", "set", "lo", "up"});
  veth_between(t.netns(l.a.node), l.a.ifname, wire, "wire-a", l.mtu);
  veth_between(t.netns(l.b.node), l.b.ifname, wire, "wire-b", l.mtu);
  write_control(link);
  // The control file is read on SIGHUP; the declared impairment goes in as flags from the start.
  std::vector<std::string> argv = {self_exe(), "wan-relay", "--netns", wire, "--a", "wire-a", "--b", "wire-b",
                                   "--control", link["control"].get<std::string>()};
  for (const auto& [k, v] : effective(link))
    if (!v.empty()) argv.insert(argv.end(), {"--" + k, v});
  const pid_t pid = spawn_daemon(argv, link["log"].get<std::string>());
  const LabProcess p{"wire:" + l.name, "wan-relay", pid, process_start_ticks(pid)};
  st.add_process(p);
  st.json()["links"][l.name]["relay_pid"] = pid;
  st.json()["links"][l.name]["relay_start_ticks"] = p.start_ticks;
  st.save();
}

json wan_link_status(const LabState& st, const ClabLink& l) {
  const json& links = st.json()["links"];
  if (!links.contains(l.name)) return {{"name", l.name}, {"state", "not created"}};
  json j = links[l.name];
  j["endpoints"] = {l.a.text(), l.b.text()};
  if (j["backend"] == "relay") {
    const LabProcess relay{"", "", j["relay_pid"].get<pid_t>(), j["relay_start_ticks"].get<unsigned long long>()};
    j["relay_running"] = still_running(relay);
  }
  return j;
}

json wan_impair(LabState& st, const ClabLink& l, const ImpairmentText& change) {
  json& link = st.json()["links"][l.name];
  for (const auto& [k, v] : change) link["impairment"][k] = v;
  st.save();
  apply(st, l.name);
  st.event("impair " + l.name + " " + link["impairment"].dump());
  return {{"link", l.name}, {"backend", link["backend"]}, {"impairment", link["impairment"]}, {"time", utc_now()}};
}

void wan_cut(LabState& st, const ClabLink& l, bool cut) {
  st.json()["links"][l.name]["cut"] = cut;
  st.save();
  apply(st, l.name);
}

}  // namespace qpspread::lab
