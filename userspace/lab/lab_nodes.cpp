// The lab's building blocks: commands in namespaces, veth links, FRR daemons, FRR's view.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/command.h"
#include "common/error.h"
#include "common/process.h"
#include "userspace/lab/lab_internal.h"
#include "userspace/lab/lab_runner.h"

namespace qpspread::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

}  // namespace

std::vector<std::string> in_netns(const std::string& ns, const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  if (!argv.empty() && argv[0] == "ip") {
    out = {"ip", "-n", ns};
    out.insert(out.end(), argv.begin() + 1, argv.end());
  } else {
    out = {"ip", "netns", "exec", ns};
    out.insert(out.end(), argv.begin(), argv.end());
  }
  return out;
}

void veth_between(const std::string& ns_a, const std::string& if_a, const std::string& ns_b, const std::string& if_b,
                  int mtu) {
  run_checked({"ip", "link", "add", "name", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b});
  for (const auto& [ns, dev] : {std::pair{ns_a, if_a}, std::pair{ns_b, if_b}}) {
    if (mtu) run_checked({"ip", "-n", ns, "link", "set", "dev", dev, "mtu", std::to_string(mtu)});
    run_checked({"ip", "-n", ns, "link", "set", "dev", dev, "up"});
  }
}

void start_frr(LabState& st, const std::string& ns, const std::string& node, const std::string& frr_conf) {
  const std::string run_dir = "/var/run/frr/" + ns;
  fs::create_directories(run_dir);
  if (const passwd* pw = ::getpwnam("frr")) ::chown(run_dir.c_str(), pw->pw_uid, pw->pw_gid);
  // The daemons start empty; vtysh then hands each its part of the integrated config.
  const std::string empty = st.dir() + "/empty.conf";
  if (!fs::exists(empty)) std::ofstream(empty) << "!\n";
  ::chmod(empty.c_str(), 0644);
  for (const char* daemon : {"zebra", "bfdd", "bgpd"}) {
    const std::string pidfile = run_dir + "/" + daemon + ".pid";
    ::unlink(pidfile.c_str());
    run_checked({"ip", "netns", "exec", ns, std::string("/usr/lib/frr/") + daemon, "-d", "-N", ns, "-f", empty, "-i",
                 pidfile, "--log", "file:" + run_dir + "/frr.log"});
    const pid_t pid = wait_for_pidfile(pidfile);
    if (!pid) throw Error(std::string(daemon) + " of node " + node + " wrote no pid file; see " + run_dir + "/frr.log");
    st.add_process({node, daemon, pid, process_start_ticks(pid)});
  }
  CommandOutput r = run_command({"vtysh", "-N", ns, "-f", frr_conf});
  if (r.exit_code != 0) throw Error("node " + node + ": FRR refused " + frr_conf + ": " + r.out + r.err);
}

json frr_show(const std::string& ns, const std::string& command) {
  CommandOutput r = run_command({"vtysh", "-N", ns, "-c", command + " json"});
  if (r.exit_code != 0 || r.out.empty()) return json();
  return json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

RouterView router_view(const std::string& ns) {
  RouterView v;
  const json bgp = frr_show(ns, "show bgp summary");
  if (bgp.is_discarded() || !bgp.is_object()) return v;
  v.answered = true;
  for (const char* afi : {"ipv4Unicast", "l2VpnEvpn"})
    if (bgp.contains(afi) && bgp[afi].contains("peers"))
      for (const auto& [peer, p] : bgp[afi]["peers"].items())
        v.bgp_peers[std::string(afi) + " " + peer] = p.value("state", "?");
  const json bfd = frr_show(ns, "show bfd peers");
  if (bfd.is_array())
    for (const auto& p : bfd) v.bfd_peers[p.value("interface", "") + "/" + p.value("peer", "")] = p.value("status", "?");
  const json vnis = frr_show(ns, "show evpn vni");
  if (vnis.is_object()) {
    for (const auto& [key, info] : vnis.items()) {
      const uint32_t vni = info.value("vni", 0u);
      if (!vni) continue;
      std::vector<std::string>& vteps = v.vni_remote_vteps[vni];
      const json detail = frr_show(ns, "show evpn vni " + std::to_string(vni));
      // FRR 8.4 lists the remote VTEPs as strings under "numRemoteVteps"; later versions as
      // objects under "remoteVteps".
      for (const char* k : {"numRemoteVteps", "remoteVteps"})
        if (detail.is_object() && detail.contains(k) && detail[k].is_array())
          for (const auto& r : detail[k]) vteps.push_back(r.is_string() ? r.get<std::string>() : r.value("ip", ""));
    }
  }
  return v;
}

}  // namespace qpspread::lab
