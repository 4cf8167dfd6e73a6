// The stats report: what the datapath counted in one namespace, per VNI and path, as JSON.
#include "userspace/cli/stats_report.h"

#include <set>

#include "loader/attach.h"
#include "userspace/metrics/fairness.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

// Every attached uplink is a path to every remote VTEP of the VNI: one that carried nothing is a
// path with zero traffic, which is exactly what an imbalance must see.
json vni_paths(uint32_t vni, const PathReport& pr) {
  std::set<std::string> remotes;
  for (const auto& p : pr.paths)
    if (p.vni == vni) remotes.insert(p.remote);
  json paths = json::array();
  std::vector<uint64_t> load;
  for (const auto& remote : remotes) {
    for (const auto& [ifindex, ifname] : pr.ifnames) {
      PathStats ps;
      for (const auto& p : pr.paths)
        if (p.vni == vni && p.remote == remote && p.ifindex == ifindex) ps = p;
      paths.push_back({{"ifname", ifname}, {"remote_vtep", remote}, {"tx_packets", ps.packets},
                       {"tx_bytes", ps.bytes}, {"tx_roce_packets", ps.roce_packets},
                       {"tx_roce_bytes", ps.roce_bytes}});
      load.push_back(ps.roce_bytes);
    }
  }
  const std::vector<double> share = metrics::shares(load);
  for (size_t i = 0; i < paths.size(); i++) paths[i]["share"] = share[i];
  return {{"paths", paths}, {"imbalance", metrics::imbalance(load)}, {"jain", metrics::jain_index(load)}};
}

}  // namespace

json build_stats(const Netns& ns, std::optional<uint32_t> only) {
  const NetnsStatus st = status(ns);
  const PathReport pr = path_report(ns);
  const std::vector<QpStats> qps = qp_stats(ns, only);
  std::set<uint32_t> vnis;
  for (const auto& d : st.devices) vnis.insert(d.vni);
  json j = {{"netns", ns.name()}, {"vnis", json::array()}, {"reasons", json::object()}};
  for (const auto& r : st.reasons) j["reasons"][r.name] = {{"packets", r.packets}, {"bytes", r.bytes}};
  for (uint32_t vni : vnis) {
    if (only && vni != *only) continue;
    auto m = st.vni_modes.find(vni);
    json v = vni_paths(vni, pr);
    v["vni"] = vni;
    v["mode"] = mode_name(m == st.vni_modes.end() ? static_cast<uint32_t>(QPS_MODE_OFF) : m->second);
    json qp_list = json::array();
    for (const auto& q : qps) {
      if (q.vni != vni) continue;
      json qj = {{"qpn", q.qpn}, {"packets", q.packets}, {"bytes", q.bytes}, {"sport", q.sport}};
      if (auto it = pr.qp_paths.find(qps_qp_key{q.vni, q.qpn}); it != pr.qp_paths.end()) {
        auto name = pr.ifnames.find(it->second.ifindex);
        qj["path"] = name == pr.ifnames.end() ? std::to_string(it->second.ifindex) : name->second;
        qj["moves"] = it->second.moves;
      }
      qp_list.push_back(std::move(qj));
    }
    // Moved, not copied: with 100 000 QPs a copy of the list costs as much as building it.
    v["qps"] = std::move(qp_list);
    j["vnis"].push_back(std::move(v));
  }
  return j;
}

}  // namespace qpspread::cli
