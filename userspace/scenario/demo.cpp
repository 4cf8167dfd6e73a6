#include "userspace/scenario/demo.h"

#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/netns.h"
#include "common/units.h"
#include "userspace/lab/clab_file.h"
#include "userspace/report/top_frame.h"
#include "userspace/scenario/experiment_run.h"
#include "userspace/scenario/experiment_spec.h"

namespace qpspread::scenario {
namespace {

using nlohmann::json;

json workload_json(const DemoOptions& o) {
  return {{"algorithm", "ring allreduce"}, {"ranks", o.ranks}, {"bytes", o.size}, {"qps", o.qps},
          {"iterations", o.iterations}, {"rate_mbit_per_host", static_cast<double>(o.rate_bps) / 1e6},
          {"rate", format_rate_bps(o.rate_bps)}, {"sport", "fixed"}, {"wan_rate", format_rate_bps(o.wan_rate_bps)},
          {"vni", o.vni}, {"cc", o.cc}, {"wan_ecn", wan::format_ecn(o.wan_ecn)},
          {"ack_timeout", format_duration_us(o.ack_timeout_us)}};
}

// One mode's result in the demo's terms, from the engine's record of its run.
json mode_result(const json& rec) {
  const json& m = rec["metrics"];
  json links = json::array();
  for (const auto& l : rec["links"])
    if (l["kind"] == "wan")
      links.push_back({{"link", l["link"].get<std::string>() + " " + l["direction"].get<std::string>()},
                       {"rocev2_bytes", l["rocev2_bytes"]}, {"share", l["share"]}});
  return {{"wan_links", links}, {"imbalance", m["wan_imbalance"]}, {"jain", m["wan_jain"]},
          {"iteration_ms_p50", m["iteration_ms_p50"]}, {"iteration_ms_p99", m["iteration_ms_p99"]},
          {"iteration_ms", rec["iteration_ms"]}, {"correct", m["correct"]}, {"frames", m["frames"]},
          {"retransmitted_frames", m["retransmitted_frames"]}, {"ecn_ce_rx", m["ecn_ce_rx"]},
          {"cnp_tx", m["cnp_tx"]}};
}

// What the demo shows beside the engine's records: the first rank's leaf's stats after each run,
// so the top frame covers the balance run alone (the mode is set between runs, nothing else).
struct LeafWatch {
  const DemoOptions& o;
  const lab::ClabTopology& topo;
  DemoResult& res;
  report::StatsReport before;

  void operator()(const ExperimentRun&, const json& rec) {
    if (rec["status"] != "ok")
      throw Error("the run with mode " + rec["config"]["mode"].get<std::string>() + " failed: " + rec.value("error", ""));
    const std::string mode = rec["config"]["mode"];
    res.doc["modes"][mode] = mode_result(rec);
    if (!res.doc.contains("stats_leaf"))
      res.doc["stats_leaf"] = leaf_of_host(topo, ring_hosts(topo, o.vni, o.ranks).front(), o.vni);
    const report::StatsReport now =
        report::build_stats(Netns::open(topo.netns(res.doc["stats_leaf"].get<std::string>())), o.vni);
    if (mode == "balance") {
      const double s = rec["metrics"]["collective_s"];
      res.balance_stats = this_run(now);
      res.doc["balance_stats"] = report::to_json(res.balance_stats);
      res.doc["balance_top"] = report::top_frame(before, now, s, 5);
      res.doc["balance_top"]["interval"] = s;
    }
    before = now;
  }

  // The report with only the QPs that sent or received in this run (the earlier runs' QPs are
  // still in the maps, idle).
  report::StatsReport this_run(report::StatsReport now) const {
    for (auto& v : now.vnis) {
      const report::VniReport* was = nullptr;
      for (const auto& b : before.vnis)
        if (b.vni == v.vni) was = &b;
      std::erase_if(v.qps, [&](const report::QpRow& q) {
        if (!was) return false;
        for (const auto& b : was->qps)
          if (b.qpn == q.qpn) return b.packets == q.packets && b.rx_packets == q.rx_packets;
        return false;
      });
    }
    return now;
  }
};

void write_result(const DemoOptions& o, DemoResult& res) {
  if (o.out.empty()) return;
  const std::filesystem::path out(o.out);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  std::ofstream f(out);
  f << res.doc.dump(2) << "\n";
  if (!f) throw Error("cannot write the demo's result to " + o.out + "; pass --out with a writable path");
  res.written = o.out;
}

}  // namespace

std::string demo_spec(const DemoOptions& o, const wan::Impairment& topology_wan) {
  wan::Impairment cap = topology_wan;
  cap.rate_bps = o.wan_rate_bps;
  cap.ecn = o.wan_ecn;
  const json wan = wan::to_json(cap);
  return
      "# The demo (qpspread demo): mode off, then qp-hash, then balance, on the multi-DC lab;\n"
      "# `qpspread experiment run` runs this file as well.\n"
      "name: demo\n"
      "topology: " + std::filesystem::absolute(o.topo).lexically_normal().string() + "\n"
      "lab: " + o.lab + "\n"
      "fixed:\n"
      "  collective: allreduce\n"
      "  vni: " + std::to_string(o.vni) + "\n"
      "  ranks: " + std::to_string(o.ranks) + "\n"
      "  qps: " + std::to_string(o.qps) + "\n"
      "  split: split\n"
      "  sport: fixed\n"
      "  size: " + std::to_string(o.size) + "\n"
      "  iterations: " + std::to_string(o.iterations) + "\n"
      "  rate: " + format_rate_bps(o.rate_bps) + "\n"
      "  cc: " + o.cc + "\n"
      "  ack_timeout: " + format_duration_us(o.ack_timeout_us) + "\n"
      "  wan: " + wan.dump() + "\n"
      "  bfd: true\n"
      "axes:\n"
      "  mode: [off, qp-hash, balance]\n";
}

DemoResult run_demo(const DemoOptions& o, const Progress& say) {
  const auto t0 = std::chrono::steady_clock::now();
  lab::ClabTopology t = lab::load_clab(o.topo);
  t.name = o.lab;
  wan::Impairment topo_wan;
  for (const auto& l : t.links)
    if (l.wan) {
      topo_wan = l.impairment;
      break;
    }
  const ExperimentSpec spec = parse_experiment_spec(demo_spec(o, topo_wan), "demo.yml");
  DemoResult res;
  res.doc = {{"lab", t.name}, {"modes", json::object()}, {"workload", workload_json(o)}};
  ExperimentOptions eo;
  eo.out = o.records;
  eo.replace = true;
  eo.command_line = "qpspread demo";
  const ExperimentSummary sum = run_experiment(spec, eo, say, LeafWatch{o, t, res, {}});
  res.doc["lab_up_s"] = sum.lab_up_s;
  res.doc["records"] = sum.out.string();
  res.doc["total_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_result(o, res);
  return res;
}

}  // namespace qpspread::scenario
