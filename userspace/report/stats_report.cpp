// The stats report: what the datapath counted in one namespace, per VNI and path, as JSON.
#include "userspace/report/stats_report.h"

#include <cstdio>
#include <map>
#include <set>

#include "common/units.h"
#include "loader/attach.h"
#include "userspace/report/fairness.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

PathStats find_path(const std::vector<PathStats>& all, uint32_t vni, const std::string& remote, uint32_t ifindex) {
  for (const auto& p : all)
    if (p.vni == vni && p.remote == remote && p.ifindex == ifindex) return p;
  return {};
}

// Every attached uplink is a path to every remote VTEP of the VNI: one that carried nothing is a
// path with zero traffic, which is exactly what an imbalance must see. A path's tx counters are
// what left by the uplink toward the VTEP, its rx counters what arrived by it from the VTEP.
json vni_paths(uint32_t vni, const PathReport& pr) {
  std::set<std::string> remotes;
  for (const auto* list : {&pr.paths, &pr.rx_paths})
    for (const auto& p : *list)
      if (p.vni == vni) remotes.insert(p.remote);
  json paths = json::array();
  std::vector<uint64_t> load;
  std::map<uint32_t, uint64_t> per_uplink;
  for (const auto& remote : remotes) {
    for (const auto& [ifindex, ifname] : pr.ifnames) {
      const PathStats tx = find_path(pr.paths, vni, remote, ifindex);
      const PathStats rx = find_path(pr.rx_paths, vni, remote, ifindex);
      paths.push_back({{"ifname", ifname}, {"remote_vtep", remote}, {"tx_packets", tx.packets},
                       {"tx_bytes", tx.bytes}, {"tx_roce_packets", tx.roce_packets},
                       {"tx_roce_bytes", tx.roce_bytes}, {"rx_packets", rx.packets}, {"rx_bytes", rx.bytes},
                       {"rx_roce_packets", rx.roce_packets}, {"rx_roce_bytes", rx.roce_bytes}});
      load.push_back(tx.roce_bytes);
      per_uplink[ifindex] += tx.roce_bytes;
    }
  }
  const std::vector<double> share = metrics::shares(load);
  for (size_t i = 0; i < paths.size(); i++) paths[i]["share"] = share[i];
  // The ECMP choice is the uplink: the balance is over the uplinks, all remote VTEPs together (a
  // remote VTEP the VNI sends nothing to must not count as an idle path).
  std::vector<uint64_t> uplink_load;
  for (const auto& [ifindex, ifname] : pr.ifnames) uplink_load.push_back(per_uplink[ifindex]);
  return {{"paths", paths}, {"imbalance", metrics::imbalance(uplink_load)}, {"jain", metrics::jain_index(uplink_load)}};
}

json ifname_or_index(const PathReport& pr, uint32_t ifindex) {
  auto name = pr.ifnames.find(ifindex);
  return name == pr.ifnames.end() ? json(std::to_string(ifindex)) : json(name->second);
}

// The VNI's QPs, sent (VTEP program, uplink program) or received (XDP), by QPN.
json vni_qps(uint32_t vni, const std::vector<QpStats>& sent, const PathReport& pr) {
  std::map<uint32_t, json> by_qpn;
  auto entry = [&](uint32_t qpn) -> json& {
    json& q = by_qpn[qpn];
    if (q.is_null())
      q = {{"qpn", qpn}, {"packets", 0}, {"bytes", 0}, {"sport", 0},  {"path", nullptr},   {"moves", 0},
           {"rx_packets", 0}, {"rx_bytes", 0}, {"rx_path", nullptr}, {"reordered", 0}, {"gaps", 0}};
    return q;
  };
  for (const auto& q : sent) {
    if (q.vni != vni) continue;
    json& qj = entry(q.qpn);
    qj["packets"] = q.packets;
    qj["bytes"] = q.bytes;
    qj["sport"] = q.sport;
    if (auto it = pr.qp_paths.find(qps_qp_key{q.vni, q.qpn}); it != pr.qp_paths.end()) {
      qj["path"] = ifname_or_index(pr, it->second.ifindex);
      qj["moves"] = it->second.moves;
    }
  }
  for (const auto& [key, rx] : pr.qp_rx) {
    if (key.vni != vni) continue;
    json& qj = entry(key.qpn);
    qj["rx_packets"] = rx.packets;
    qj["rx_bytes"] = rx.bytes;
    qj["rx_path"] = ifname_or_index(pr, rx.ifindex);
    qj["reordered"] = rx.reordered;
    qj["gaps"] = rx.gaps;
  }
  json out = json::array();
  for (auto& [qpn, q] : by_qpn) out.push_back(std::move(q));
  return out;
}

// Per attached uplink, every frame it sent and received (VXLAN of any VNI, and the rest: ARP,
// BGP, BFD) as the programs counted them: what the kernel's interface counters show too.
json uplink_totals(const PathReport& pr) {
  json out = json::array();
  for (const auto& [ifindex, ifname] : pr.ifnames) {
    json u = {{"ifname", ifname}};
    for (const auto& [dir, list] : {std::pair{"tx", &pr.paths}, std::pair{"rx", &pr.rx_paths}}) {
      uint64_t packets = 0, bytes = 0, other_packets = 0, other_bytes = 0;
      for (const auto& p : *list) {
        if (p.ifindex != ifindex) continue;
        packets += p.packets;
        bytes += p.bytes;
        if (p.vni == QPS_VNI_OTHER) {
          other_packets += p.packets;
          other_bytes += p.bytes;
        }
      }
      const std::string d = dir;
      u[d + "_packets"] = packets;
      u[d + "_bytes"] = bytes;
      u[d + "_other_packets"] = other_packets;
      u[d + "_other_bytes"] = other_bytes;
    }
    out.push_back(u);
  }
  return out;
}

}  // namespace

json build_stats(const Netns& ns, std::optional<uint32_t> only) {
  const NetnsStatus st = status(ns);
  const PathReport pr = path_report(ns);
  const std::vector<QpStats> qps = qp_stats(ns, only);
  std::set<uint32_t> vnis;  // the VXLAN devices' VNIs and the transit ones (every VNI has a mode)
  for (const auto& d : st.devices) vnis.insert(d.vni);
  for (const auto& [vni, mode] : st.vni_modes) vnis.insert(vni);
  json j = {{"netns", ns.name()}, {"vnis", json::array()}, {"uplinks", uplink_totals(pr)}, {"reasons", json::object()}};
  for (const auto& r : st.reasons) j["reasons"][r.name] = {{"packets", r.packets}, {"bytes", r.bytes}};
  for (uint32_t vni : vnis) {
    if (only && vni != *only) continue;
    auto m = st.vni_modes.find(vni);
    json v = vni_paths(vni, pr);
    v["vni"] = vni;
    v["mode"] = mode_name(m == st.vni_modes.end() ? static_cast<uint32_t>(QPS_MODE_OFF) : m->second);
    v["qps"] = vni_qps(vni, qps, pr);
    // Moved, not copied: with 100 000 QPs a copy of the list costs as much as building it.
    j["vnis"].push_back(std::move(v));
  }
  return j;
}

namespace {

std::string name_or_dash(const json& v) { return v.is_string() ? v.get<std::string>() : "-"; }
unsigned long ul(const json& v) { return static_cast<unsigned long>(v.get<uint64_t>()); }

void print_paths(const json& v) {
  std::printf("  %-10s %-16s %11s %10s %11s %10s %7s\n", "UPLINK", "REMOTE-VTEP", "TX-PACKETS", "TX-BYTES", "RX-PACKETS",
              "RX-BYTES", "SHARE");
  for (const auto& p : v["paths"])
    std::printf("  %-10s %-16s %11lu %10s %11lu %10s %6.1f%%\n", p["ifname"].get<std::string>().c_str(),
                p["remote_vtep"].get<std::string>().c_str(), ul(p["tx_packets"]), human_bytes(p["tx_bytes"].get<uint64_t>()).c_str(),
                ul(p["rx_packets"]), human_bytes(p["rx_bytes"].get<uint64_t>()).c_str(), 100 * p["share"].get<double>());
  std::set<std::string> uplinks;
  for (const auto& p : v["paths"]) uplinks.insert(p["ifname"].get<std::string>());
  std::printf("  imbalance %.2f, Jain's index %.3f (over the tx RoCEv2 bytes of %zu uplinks)\n", v["imbalance"].get<double>(),
              v["jain"].get<double>(), uplinks.size());
}

void print_qps(const json& v) {
  std::printf("  %-10s %10s %10s %6s %-8s %5s %10s %-8s %9s %6s\n", "QPN", "TX-PKTS", "TX-BYTES", "SPORT", "PATH", "MOVES",
              "RX-PKTS", "RX-PATH", "REORDERED", "GAPS");
  for (const auto& q : v["qps"]) {
    const unsigned sport = q["sport"].get<unsigned>();
    std::printf("  0x%-8x %10lu %10s %6s %-8s %5lu %10lu %-8s %9lu %6lu\n", q["qpn"].get<unsigned>(), ul(q["packets"]),
                human_bytes(q["bytes"].get<uint64_t>()).c_str(), sport ? std::to_string(sport).c_str() : "-",
                name_or_dash(q["path"]).c_str(), ul(q["moves"]), ul(q["rx_packets"]), name_or_dash(q["rx_path"]).c_str(),
                ul(q["reordered"]), ul(q["gaps"]));
  }
}

}  // namespace

void print_stats_table(const json& j) {
  for (const auto& v : j["vnis"]) {
    std::printf("VNI %u (mode %s) in netns %s\n", v["vni"].get<unsigned>(), v["mode"].get<std::string>().c_str(),
                j["netns"].get<std::string>().c_str());
    if (!v["paths"].empty()) print_paths(v);
    print_qps(v);
  }
}


}  // namespace qpspread::cli
