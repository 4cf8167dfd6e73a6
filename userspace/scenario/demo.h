// The demo, the main job: one small experiment spec (demo_spec) run by the experiment engine
// (experiment_run.h): the multi-DC lab (lab/scaleacross.clab.yml) up without Docker, both WAN links'
// rate capped, qpspread attached to every leaf and the borders' WAN interfaces, a cross-DC ring
// AllReduce between hosts of one VNI with the mode off, then qp-hash, then balance. The demo adds
// the stats of the first rank's leaf and a top frame over the balance run, writes the result JSON (and the runs'
// records, which `qpspread experiment report` reads), and the lab is down on every path: success,
// error, Ctrl-C.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "userspace/report/stats_report.h"
#include "userspace/scenario/lab_session.h"
#include "userspace/wan/impairment.h"

namespace qpspread::scenario {

struct DemoOptions {
  std::string topo = "lab/scaleacross.clab.yml";
  std::string lab = "qpspread-demo";
  uint32_t vni = 100;
  int ranks = 2;  // one host per data center: the WAN, not the 2 cores, is the bottleneck
  int qps = 8;    // per peer
  uint64_t wan_rate_bps = 20'000'000;  // each WAN link's cap
  // Per host: more than one capped WAN link carries, less than two, with room to spare when the
  // QPs are split evenly (18 of 20 Mbit/s on each): where the split is uneven, the fuller link waits.
  uint64_t rate_bps = 36'000'000;
  size_t size = 1000000;               // AllReduce bytes per rank
  int iterations = 4;                  // per mode
  // Congestion control as RoCE NICs run it (workload --cc): DCQCN per QP, answering the CNPs that
  // ECN marks at the WAN queue cause; "none" is the open loop (go-back-N only).
  std::string cc = "dcqcn";
  wan::EcnMarking wan_ecn{10'000, 60'000, 10};  // of each WAN link's queue; off: none marked
  uint64_t ack_timeout_us = 250'000;           // above the WAN round trip with its queue
  std::string out = "results/demo.json";  // where the result JSON goes; "" writes none
  std::string records = "results/demo";   // the engine's records (runs.jsonl, spec.yml, ...), replaced
};

// The spec the demo runs (as YAML, recorded as records/spec.yml): the options as its fixed settings,
// the WAN delay, jitter and loss of the topology's first WAN link, the mode as its one axis.
std::string demo_spec(const DemoOptions& opts, const wan::Impairment& topology_wan);

struct DemoResult {
  // What the result file holds: {"lab", "lab_up_s", "stats_leaf", "total_s",
  //   "workload": {"algorithm", "ranks", "bytes", "qps", "iterations", "rate_mbit_per_host", "rate",
  //                "sport", "wan_rate", "vni", "cc", "wan_ecn", "ack_timeout"},
  //   "modes": {"off"|"qp-hash"|"balance": {"wan_links": [{"link", "rocev2_bytes", "share"}], "imbalance", "jain",
  //             "iteration_ms_p50", "iteration_ms_p99", "iteration_ms", "correct", "frames",
  //             "retransmitted_frames", "ecn_ce_rx", "cnp_tx"}},
  //   "balance_stats": stats -j of the stats leaf after the balance run, "balance_top": a top frame
  //   over the balance run}
  nlohmann::json doc;
  report::StatsReport balance_stats;  // the same report, typed, for the plain renderer
  std::string written;                // the file written ("" when none)
};


// Installs the Ctrl-C/SIGTERM handler (common/interrupt.h) so an interrupt tears the lab down.
// Throws qpspread::Error when a step fails, after the lab is down.
DemoResult run_demo(const DemoOptions& opts, const Progress& progress);

}  // namespace qpspread::scenario
