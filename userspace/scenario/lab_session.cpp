#include "userspace/scenario/lab_session.h"

#include <algorithm>

#include "common/error.h"
#include "common/netns.h"
#include "loader/attach.h"
#include "userspace/lab/host_resolve.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/report/stats_report.h"

namespace qpspread::scenario {

std::string role(const lab::ClabNode& n) { return n.labels.count("role") ? n.labels.at("role") : ""; }

LabGuard::~LabGuard() {
  if (!armed) return;
  try {
    lab::lab_down(name);
  } catch (...) {
  }
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

void attach_all(const lab::ClabTopology& t, const Progress& say) {
  for (const auto& n : t.nodes) {
    AttachOptions o;
    o.initial_mode = QPS_MODE_OFF;
    if (role(n) == "border") {
      for (const auto& l : t.links)
        for (const auto* ep : {&l.a, &l.b})
          if (l.wan && ep->node == n.name) o.uplinks.push_back(ep->ifname);
    } else if (role(n) != "leaf") {
      continue;
    }
    const AttachReport r = attach(Netns::open(t.netns(n.name)), o);
    say("attached to " + n.name + ": " + std::to_string(r.devices.size()) + " VXLAN devices, " +
        std::to_string(r.uplinks.size()) + (role(n) == "border" ? " WAN links" : " uplinks"));
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
