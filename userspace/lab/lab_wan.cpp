#include "userspace/lab/lab_wan.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/command.h"
#include "common/error.h"
#include "common/process.h"
#include "common/units.h"
#include "userspace/lab/lab_internal.h"
#include "userspace/lab/netem.h"
#include "userspace/wan/relay_service.h"

namespace qpspread::lab {
namespace {

using nlohmann::json;

std::string wire_netns(const std::string& lab, const std::string& link) { return "qps-wire-" + lab + "-" + link; }

// What the relay or netem applies now: the declared impairment, or everything lost when cut.
wan::Impairment effective(const json& link) {
  wan::Impairment imp = wan::impairment_from_json(link["impairment"]);
  if (link.value("cut", false)) imp.loss_percent = 100;
  return imp;
}

void write_control(const json& link) { wan::write_control(link["control"].get<std::string>(), effective(link)); }

// The relay's last words, for an error message: its log's last non-empty line.
std::string last_line(const std::string& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

void apply(LabState& st, const std::string& name) {
  const json& link = st.json()["links"][name];
  if (link["backend"] == "netem") {
    for (const auto& end : link["ends"])
      for (const auto& argv : qdisc_commands(end["netns"].get<std::string>(), end["ifname"].get<std::string>(), effective(link)))
        run_checked(argv);
    return;
  }
  write_control(link);
  const LabProcess relay{"wire:" + name, "wan-relay", link["relay_pid"].get<pid_t>(), link["relay_start_ticks"].get<unsigned long long>()};
  if (!still_running(relay)) throw Error("the relay of WAN link " + name + " is not running; see " + link["log"].get<std::string>());
  ::kill(relay.pid, SIGHUP);
}

// The relay of one WAN link, recorded before it runs; returns once it has written its pidfile.
void start_relay(LabState& st, const std::string& name, const std::string& wire) {
  const json& link = st.json()["links"][name];
  const std::string log = link["log"].get<std::string>(), pidfile = st.dir() + "/" + name + ".pid";
  // The control file is read on SIGHUP; the declared impairment goes in as flags from the start.
  const wan::Impairment imp = effective(link);
  const std::vector<std::string> argv = {
      self_exe(), "wan-relay", "--netns", wire, "--a", "wire-a", "--b", "wire-b",
      "--control", link["control"].get<std::string>(), "--pidfile", pidfile,
      "--delay", format_duration_us(imp.delay_us), "--jitter", format_duration_us(imp.jitter_us),
      "--loss", format_number(imp.loss_percent), "--rate", format_rate_bps(imp.rate_bps), "--ecn", wan::format_ecn(imp.ecn)};
  const pid_t pid = spawn_daemon(argv, log);
  const LabProcess p{"wire:" + name, "wan-relay", pid, process_start_ticks(pid)};
  st.add_process(p);
  st.json()["links"][name]["relay_pid"] = pid;
  st.json()["links"][name]["relay_start_ticks"] = p.start_ticks;
  st.save();
  if (wait_for_pidfile(pidfile, std::chrono::seconds(10), pid) == 0) {
    const std::string why = last_line(log);
    throw Error("WAN link " + name + ": the relay did not start" + (why.empty() ? "" : " (" + why + ")") + "; see " +
                log + ", and 'qpspread lab down' removes what the lab made");
  }
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
  json link = {{"name", l.name}, {"impairment", wan::to_json(l.impairment)}, {"cut", false},
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
  start_relay(st, l.name, wire);
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

json wan_impair(LabState& st, const ClabLink& l, const wan::ImpairmentChange& change) {
  json& link = st.json()["links"][l.name];
  link["impairment"] = wan::to_json(change.applied_to(wan::impairment_from_json(link["impairment"])));
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
