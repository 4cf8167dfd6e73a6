#include "tests/support/fabric_checks.h"

#include "common/command.h"
#include "tests/support/test_fabric.h"

namespace qpspread::lab {
namespace {

using nlohmann::json;

std::string bgp_pending(const FrrRouter& r, size_t peers) {
  json s = r.show("show bgp summary json");
  for (const char* afi : {"ipv4Unicast", "l2VpnEvpn"}) {
    if (!s.contains(afi) || !s[afi].contains("peers") || s[afi]["peers"].size() < peers)
      return r.netns() + ": BGP " + afi + " has fewer than " + std::to_string(peers) + " peers";
    for (const auto& [name, p] : s[afi]["peers"].items())
      if (p.value("state", "") != "Established")
        return r.netns() + ": BGP " + afi + " session " + name + " is " + p.value("state", "?");
  }
  return "";
}

std::string bfd_pending(const FrrRouter& r, size_t peers) {
  json s = r.show("show bfd peers json");
  size_t up = 0;
  if (s.is_array())
    for (const auto& p : s) up += p.value("status", "") == "up";
  if (up < peers) return r.netns() + ": " + std::to_string(up) + " of " + std::to_string(peers) + " BFD peers up";
  return "";
}

std::string ecmp_pending(const FrrRouter& r, const std::string& prefix, size_t paths) {
  json s = r.show("show ip route " + prefix + " json");
  size_t fib = 0;
  if (s.contains(prefix) && !s[prefix].empty())
    for (const auto& nh : s[prefix][0].value("nexthops", json::array())) fib += nh.value("fib", false);
  if (fib < paths)
    return r.netns() + ": route to " + prefix + " has " + std::to_string(fib) + " of " + std::to_string(paths) + " ECMP next hops";
  return "";
}

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

std::string kernel_ecmp_pending(const std::string& ns, const std::string& prefix, size_t paths) {
  const size_t n = kernel_nexthop_devs(ns, prefix).size();
  if (n < paths)
    return ns + ": kernel route to " + prefix + " has " + std::to_string(n) + " of " + std::to_string(paths) + " next hops";
  return "";
}

std::string evpn_pending(const FrrRouter& r, uint32_t vni, const std::string& remote) {
  json s = r.show("show evpn vni " + std::to_string(vni) + " json");
  // FRR 8.4 lists the remote VTEPs as strings under "numRemoteVteps"; later ones as objects
  // under "remoteVteps".
  for (const char* key : {"numRemoteVteps", "remoteVteps"}) {
    if (!s.contains(key) || !s[key].is_array()) continue;
    for (const auto& v : s[key])
      if ((v.is_string() && v.get<std::string>() == remote) || (v.is_object() && v.value("ip", "") == remote))
        return "";
  }
  return r.netns() + ": EVPN VNI " + std::to_string(vni) + " does not list remote VTEP " + remote;
}

}  // namespace

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

std::string FabricChecks::pending() const {
  const auto& routers = fabric.routers();
  const size_t spines = routers.size() - 2;
  for (size_t i = 0; i < routers.size(); i++) {
    const size_t peers = i < 2 ? spines : 2;  // routers_[0..1] are the leaves
    if (auto p = bgp_pending(*routers[i], peers); !p.empty()) return p;
    if (auto p = bfd_pending(*routers[i], peers); !p.empty()) return p;
  }
  for (int i = 0; i < 2; i++) {
    const std::string other = fabric.leaf_vtep_ip(1 - i);
    if (auto p = ecmp_pending(*routers[static_cast<size_t>(i)], other + "/32", spines); !p.empty()) return p;
    if (auto p = kernel_ecmp_pending(fabric.leaf_netns(i), other + "/32", spines); !p.empty()) return p;
    if (auto p = evpn_pending(*routers[static_cast<size_t>(i)], fabric.vni(), other); !p.empty()) return p;
  }
  const HostInfo a = fabric.host(0), b = fabric.host(1);
  if (run_command({"ip", "netns", "exec", a.netns, "ping", "-c1", "-W1", b.ip}).exit_code != 0)
    return a.netns + " cannot ping " + b.ip + " over the VNI";
  return "";
}

}  // namespace qpspread::lab
