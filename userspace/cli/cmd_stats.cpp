// stats: per VNI, the paths (attached uplink x remote VTEP) with their counters and shares, the
// imbalance and Jain's index over them, and the QPs; as a table, JSON, or Prometheus text.
#include <cstdio>
#include <iostream>
#include <set>

#include "loader/attach.h"
#include "userspace/cli/commands.h"
#include "userspace/cli/prometheus.h"
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
    v["qps"] = json::array();
    for (const auto& q : qps) {
      if (q.vni != vni) continue;
      json qj = {{"qpn", q.qpn}, {"packets", q.packets}, {"bytes", q.bytes}, {"sport", q.sport}};
      if (auto it = pr.qp_paths.find(qps_qp_key{q.vni, q.qpn}); it != pr.qp_paths.end()) {
        auto name = pr.ifnames.find(it->second.ifindex);
        qj["path"] = name == pr.ifnames.end() ? std::to_string(it->second.ifindex) : name->second;
        qj["moves"] = it->second.moves;
      }
      v["qps"].push_back(qj);
    }
    j["vnis"].push_back(v);
  }
  return j;
}

void print_stats(const json& j) {
  for (const auto& v : j["vnis"]) {
    std::printf("VNI %u (mode %s) in netns %s\n", v["vni"].get<unsigned>(), v["mode"].get<std::string>().c_str(),
                j["netns"].get<std::string>().c_str());
    if (!v["paths"].empty()) {
      std::printf("  %-10s %-16s %12s %12s %12s %7s\n", "UPLINK", "REMOTE-VTEP", "TX-PACKETS", "TX-BYTES", "ROCEV2-PKTS", "SHARE");
      for (const auto& p : v["paths"])
        std::printf("  %-10s %-16s %12lu %12s %12lu %6.1f%%\n", p["ifname"].get<std::string>().c_str(),
                    p["remote_vtep"].get<std::string>().c_str(), static_cast<unsigned long>(p["tx_packets"].get<uint64_t>()),
                    human_bytes(p["tx_bytes"].get<uint64_t>()).c_str(),
                    static_cast<unsigned long>(p["tx_roce_packets"].get<uint64_t>()), 100 * p["share"].get<double>());
      std::printf("  imbalance %.2f, Jain's index %.3f\n", v["imbalance"].get<double>(), v["jain"].get<double>());
    }
    std::printf("  %-10s %12s %12s %12s %-8s %6s\n", "QPN", "PACKETS", "BYTES", "OUTER-SPORT", "PATH", "MOVES");
    for (const auto& q : v["qps"]) {
      const unsigned sport = q["sport"].get<unsigned>();
      std::printf("  0x%-8x %12lu %12s %12s %-8s %6s\n", q["qpn"].get<unsigned>(),
                  static_cast<unsigned long>(q["packets"].get<uint64_t>()), human_bytes(q["bytes"].get<uint64_t>()).c_str(),
                  sport ? std::to_string(sport).c_str() : "-", q.contains("path") ? q["path"].get<std::string>().c_str() : "-",
                  q.contains("moves") ? std::to_string(q["moves"].get<uint64_t>()).c_str() : "-");
    }
  }
}

}  // namespace

void register_stats_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("stats", "per-VNI path counters, shares, imbalance, Jain's index and per-QP counters");
  auto target = std::make_shared<NetnsTarget>();
  auto vni = std::make_shared<uint32_t>(0);
  auto prom = std::make_shared<bool>(false);
  target->add_to(cmd, true);
  auto* vni_opt = cmd->add_option("--vni", *vni, "only this VNI");
  cmd->add_flag("--prometheus", *prom, "Prometheus text exposition (no per-QP labels)");
  cmd->callback([&ctx, target, vni, vni_opt, prom] {
    ctx.action = [&ctx, target, vni, vni_opt, prom] {
      Netns ns = Netns::open(target->resolve());
      json j = build_stats(ns, vni_opt->count() ? std::optional<uint32_t>(*vni) : std::nullopt);
      if (*prom) {
        std::cout << prometheus_text(j);
        return;
      }
      emit(ctx.out, j, print_stats);
    };
  });
}

}  // namespace qpspread::cli
