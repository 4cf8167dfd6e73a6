// FRR's view of a router, the kernel's next hops, and the lab's one convergence check.
#include <map>
#include <thread>
#include <set>

#include "common/command.h"
#include "common/interrupt.h"
#include "userspace/lab/lab_internal.h"
#include "userspace/lab/lab_runner.h"

namespace qpspread::lab {
namespace {

using nlohmann::json;

json ip_json(const std::string& ns, std::vector<std::string> args) {
  args.insert(args.begin(), {"ip", "-j", "-n", ns});
  CommandOutput r = run_command(args);
  if (r.exit_code != 0 || r.out.empty()) return json();
  return json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

std::vector<std::string> group_devs(const std::string& ns, int64_t nhid) {
  std::vector<std::string> devs;
  json nh = ip_json(ns, {"nexthop", "show", "id", std::to_string(nhid)});
  if (!nh.is_array() || nh.empty()) return devs;
  if (nh[0].contains("group")) {
    for (const auto& member : nh[0]["group"])
      for (const auto& d : group_devs(ns, member.value("id", int64_t{0}))) devs.push_back(d);
  } else if (nh[0].contains("dev")) {
    devs.push_back(nh[0].value("dev", ""));
  }
  return devs;
}

// Prefix -> how many next hops FRR has installed in the kernel for its selected route.
std::map<std::string, size_t> frr_fib_paths(const ClabTopology& t, const std::string& node) {
  std::map<std::string, size_t> out;
  const json routes = frr_show(t, node, "show ip route");
  if (!routes.is_object()) return out;
  for (const auto& [prefix, entries] : routes.items()) {
    if (!entries.is_array()) continue;
    for (const auto& e : entries) {
      if (!e.value("selected", false)) continue;
      size_t fib = 0;
      for (const auto& nh : e.value("nexthops", json::array())) fib += nh.value("fib", false);
      out[prefix] = fib;
    }
  }
  return out;
}

// A VTEP's kernel route to each remote VTEP must carry every path FRR chose: FRR replaces a
// multipath route while paths arrive, and every such FIB change flushes the VXLAN device's
// cached tunnel route, moving traffic in the middle of an experiment.
void ecmp_pending(const ClabTopology& t, const std::string& node, const std::set<std::string>& remotes,
                  std::vector<std::string>& missing) {
  if (remotes.empty()) return;
  const std::string ns = t.netns(node);
  const std::map<std::string, size_t> fib = frr_fib_paths(t, node);
  for (const auto& r : remotes) {
    const std::string prefix = r + "/32";
    const auto it = fib.find(prefix);
    const size_t frr = it == fib.end() ? 0 : it->second;
    const size_t kernel = kernel_nexthop_devs(ns, prefix).size();
    if (frr == 0)
      missing.push_back(node + ": FRR has no route in the FIB to remote VTEP " + prefix);
    else if (kernel != frr)
      missing.push_back(node + ": kernel route to " + prefix + " has " + std::to_string(kernel) + " of FRR's " +
                        std::to_string(frr) + " next hops");
  }
}

}  // namespace

json frr_show(const ClabTopology& t, const std::string& node, const std::string& command) {
  std::vector<std::string> argv = t.vtysh(node);
  argv.insert(argv.end(), {"-c", command + " json"});
  CommandOutput r = run_command(argv);
  if (r.exit_code != 0 || r.out.empty()) return json();
  return json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

RouterView router_view(const ClabTopology& t, const std::string& node) {
  RouterView v;
  const json bgp = frr_show(t, node, "show bgp summary");
  if (bgp.is_discarded() || !bgp.is_object()) return v;
  v.answered = true;
  for (const char* afi : {"ipv4Unicast", "l2VpnEvpn"})
    if (bgp.contains(afi) && bgp[afi].contains("peers"))
      for (const auto& [peer, p] : bgp[afi]["peers"].items())
        v.bgp_peers[std::string(afi) + " " + peer] = p.value("state", "?");
  const json bfd = frr_show(t, node, "show bfd peers");
  if (bfd.is_array())
    for (const auto& p : bfd)
      v.bfd_peers[p.value("interface", "") + "/" + p.value("peer", "")] = p.value("status", "?");
  const json vnis = frr_show(t, node, "show evpn vni");
  if (vnis.is_object()) {
    for (const auto& [key, info] : vnis.items()) {
      const uint32_t vni = info.value("vni", 0u);
      if (!vni) continue;
      std::vector<std::string>& vteps = v.vni_remote_vteps[vni];
      const json detail = frr_show(t, node, "show evpn vni " + std::to_string(vni));
      // FRR 8.4 lists the remote VTEPs as strings under "numRemoteVteps"; later versions as
      // objects under "remoteVteps".
      for (const char* k : {"numRemoteVteps", "remoteVteps"})
        if (detail.is_object() && detail.contains(k) && detail[k].is_array())
          for (const auto& r : detail[k]) vteps.push_back(r.is_string() ? r.get<std::string>() : r.value("ip", ""));
    }
  }
  return v;
}

std::vector<std::string> kernel_nexthop_devs(const std::string& ns, const std::string& prefix) {
  std::vector<std::string> devs;
  json routes = ip_json(ns, {"route", "show", "exact", prefix});
  if (!routes.is_array() || routes.empty()) return devs;
  const json& r = routes[0];
  if (r.contains("nexthops")) {
    for (const auto& nh : r["nexthops"]) devs.push_back(nh.value("dev", ""));
  } else if (r.contains("nhid")) {
    devs = group_devs(ns, r.value("nhid", int64_t{0}));
  } else if (r.contains("dev")) {
    devs.push_back(r.value("dev", ""));
  }
  return devs;
}

std::vector<std::string> not_converged(const ClabTopology& t) {
  std::vector<std::string> missing;
  std::map<uint32_t, int> leaves_per_vni;
  std::map<std::string, std::map<uint32_t, int>> remote_vteps;  // node -> vni -> count
  for (const auto& n : t.nodes) {
    if (n.frr_conf().empty()) continue;
    const RouterView v = router_view(t, n.name);
    if (!v.answered) {
      missing.push_back(n.name + ": FRR does not answer");
      continue;
    }
    for (const auto& [peer, state] : v.bgp_peers)
      if (state != "Established") missing.push_back(n.name + ": BGP peer " + peer + " is " + state);
    if (v.bgp_peers.empty()) missing.push_back(n.name + ": no BGP peer yet");
    for (const auto& [peer, status] : v.bfd_peers)
      if (status != "up") missing.push_back(n.name + ": BFD peer " + peer + " is " + status);
    std::set<std::string> remotes;
    for (const auto& [vni, vteps] : v.vni_remote_vteps) {
      leaves_per_vni[vni]++;
      remote_vteps[n.name][vni] = static_cast<int>(vteps.size());
      remotes.insert(vteps.begin(), vteps.end());
    }
    ecmp_pending(t, n.name, remotes, missing);
  }
  for (const auto& [node, vnis] : remote_vteps)
    for (const auto& [vni, count] : vnis)
      if (count != leaves_per_vni[vni] - 1)
        missing.push_back(node + ": VNI " + std::to_string(vni) + " sees " + std::to_string(count) + " of " +
                          std::to_string(leaves_per_vni[vni] - 1) + " remote VTEPs");
  return missing;
}

std::vector<std::string> await_converged(const ClabTopology& t, std::chrono::steady_clock::time_point deadline) {
  // Converged means 3 clean checks in a row, 1 s apart: a session that flaps once is not up.
  std::vector<std::string> missing;
  int clean = 0;
  while (clean < 3 && !interrupted()) {
    missing = not_converged(t);
    clean = missing.empty() ? clean + 1 : 0;
    if (std::chrono::steady_clock::now() > deadline) break;
    if (clean < 3) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (missing.empty() && clean < 3)
    missing.push_back("clean for only " + std::to_string(clean) + " of 3 checks in a row");
  return missing;
}

}  // namespace qpspread::lab
