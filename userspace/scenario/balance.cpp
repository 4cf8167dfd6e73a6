#include "userspace/scenario/balance.h"

#include <net/if.h>

#include <algorithm>
#include <map>

#include "common/error.h"
#include "loader/attach.h"
#include "loader/fib_probe.h"
#include "loader/uplink_discovery.h"
#include "loader/vxlan_discovery.h"

namespace qpspread::scenario {
namespace {

std::string vni_text(uint32_t vni) { return "VNI " + std::to_string(vni); }

// This node's stage: the remote VTEP's uplinks, and for ports from the device's first on, the
// uplink the FIB sends each by, until every uplink has `per_path` ports or max_probes were asked.
BalanceStage probe_stage(const FibProbe& probe, const VxlanDevice& dev, const RemoteVtep& remote, size_t per_path,
                         size_t max_probes, size_t& probed) {
  BalanceStage stage;
  stage.paths = remote.uplinks;
  std::map<std::string, size_t> found;
  probed = 0;
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

}  // namespace

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
  // Weights and present ports, read before anything changes.
  std::vector<QpLoad> loads;
  std::map<uint32_t, uint64_t> bytes_now;
  const PathReport pr = path_report(ns);
  for (const auto& q : qp_stats(ns, o.vni)) {
    bytes_now[q.qpn] = q.bytes;
    const auto before = bytes_.find(q.qpn);
    const uint64_t sent = before != bytes_.end() && before->second <= q.bytes ? q.bytes - before->second : q.bytes;
    QpLoad l{q.qpn, static_cast<double>(sent), std::nullopt};
    if (q.sport) l.sport = q.sport;
    if (auto f = pr.flowlets.find({o.vni, q.qpn}); f != pr.flowlets.end()) l.sport = f->second.sport;
    loads.push_back(l);
  }
  ns.run([&] {
    std::optional<VxlanDevice> dev;
    for (const auto& d : discover_vxlan_devices())
      if (d.vni == o.vni && !d.external) dev = d;
    if (!dev) throw Error("no VXLAN device of " + vni_text(o.vni) + " in netns " + ns.name());
    if (dev->local.empty())
      throw Error(dev->ifname + " has no local address: the FIB cannot be asked which uplink its frames take");
    const UplinkDiscovery up = discover_uplinks({dev->ifindex});
    std::vector<const RemoteVtep*> candidates;
    std::string all;
    for (const auto& v : up.remote_vteps) {
      all += (all.empty() ? "" : ", ") + v.address;
      if (!o.remote || *o.remote == v.address) candidates.push_back(&v);
    }
    if (candidates.empty())
      throw Error(o.remote ? "remote VTEP " + *o.remote + " is not one of " + dev->ifname + "'s (" + all + ")"
                           : dev->ifname + " has no remote VTEP yet");
    if (candidates.size() > 1)
      throw Error(dev->ifname + " sends to several remote VTEPs (" + all + "); name one with --remote");
    const RemoteVtep& remote = *candidates.front();
    if (remote.uplinks.empty()) throw Error("no route to remote VTEP " + remote.address + " yet");
    r.local = dev->local;
    r.remote = remote.address;
    const BalanceStage stage = probe_stage(probe_, *dev, remote, std::max<size_t>(loads.size(), 1), o.max_probes, r.probed);
    if (stage.paths.empty())
      throw Error("the FIB sends by none of " + remote.address + "'s uplinks (" + std::to_string(r.probed) +
                  " ports asked); are they up?");
    r.plan = plan_balance(loads, stage);
  });
  std::map<uint32_t, uint16_t> ports;
  for (const auto& q : r.plan.qps) ports[q.qpn] = q.sport;
  assign_ports(ns, o.vni, ports);
  bytes_ = std::move(bytes_now);
  return r;
}

nlohmann::json to_json(const BalanceResult& r) {
  return {{"netns", r.netns}, {"vni", r.vni}, {"local", r.local}, {"remote", r.remote}, {"probed", r.probed},
          {"plan", to_json(r.plan)}};
}

}  // namespace qpspread::scenario
