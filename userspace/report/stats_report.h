// The stats report shared by `stats`, `top`, `workload --paths` and the demo: one typed model of
// what qpspread's maps hold in one namespace, built in one place (build_stats), and its plain and
// JSON renderers (prometheus.h and top_frame.h render it too). A new field goes into these structs
// and the renderers, never into string keys spread over the commands.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/netns.h"
#include "loader/attach.h"
#include "userspace/report/fairness.h"

namespace qpspread::report {

struct PathCounters {
  uint64_t packets = 0, bytes = 0, roce_packets = 0, roce_bytes = 0;
  uint64_t ecn_ce = 0, cnp = 0;  // received only: frames marked CE on the way, RoCEv2 CNPs
};

// One attached uplink toward one remote VTEP of the VNI. tx: what left by the uplink toward the
// VTEP (uplink tc program); rx: what arrived by it from the VTEP (XDP).
struct VniPath {
  std::string ifname;
  std::string remote_vtep;
  PathCounters tx, rx;
  double share = 0;  // of the VNI's tx RoCEv2 bytes
};

struct QpRow {
  uint32_t qpn = 0;
  uint64_t packets = 0, bytes = 0;  // sent, as the VTEP program counted them (0 on a node without VXLAN devices)
  uint16_t sport = 0;               // the outer source port this VTEP chose (0: not steered here)
  std::optional<std::string> path;  // the uplink it last left by (uplink program)
  std::optional<uint16_t> path_sport;  // the outer source port it had there
  std::optional<std::string> path_remote;  // the remote VTEP it went to
  uint64_t moves = 0;               // times its uplink changed
  uint64_t rx_packets = 0, rx_bytes = 0;  // received (XDP)
  std::optional<std::string> rx_path;
  uint64_t reordered = 0, gaps = 0;
  uint64_t ecn_ce = 0, cnp = 0;  // received: CE-marked frames of the QP, CNPs to it
  // Mode balance here: the port assigned to the QP (none: its qp-hash port), the port it leaves
  // with now, and its moves; a move is pending while the two differ (the QP not yet idle for the gap).
  std::optional<uint16_t> assigned_sport, balance_sport;
  uint64_t balance_moves = 0;
  bool move_pending = false;
};

struct VniReport {
  uint32_t vni = 0;
  // The VNI's mode here (enum qps_mode); nullopt when the node only observes the VNI on its uplinks
  // (no VXLAN device and no transit for it: a border, spine or transit leaf).
  std::optional<uint32_t> mode;
  std::vector<VniPath> paths;  // every attached uplink x every remote VTEP seen for the VNI
  Balance balance;             // over the uplinks' tx RoCEv2 bytes (uplink_balance)
  std::vector<QpRow> qps;      // by QPN
};

// Every frame an attached uplink sent and received (VXLAN of any VNI, and the rest: ARP, BGP, BFD).
struct UplinkTotals {
  struct Dir {
    uint64_t packets = 0, bytes = 0, other_packets = 0, other_bytes = 0;
  };
  std::string ifname;
  Dir tx, rx;
};

struct StatsReport {
  std::string netns;
  std::vector<VniReport> vnis;  // by VNI
  std::vector<UplinkTotals> uplinks;
  std::vector<ReasonStats> reasons;         // VTEP program (vxlan_egress)
  std::vector<ReasonStats> uplink_reasons;  // uplink program (uplink_egress): frames that were not VXLAN
  std::vector<ReasonStats> xdp_reasons;     // underlay_xdp
};

// Reads the namespace's pinned maps (loader/attach.h) and builds the report.
StatsReport build_stats(const Netns& ns, std::optional<uint32_t> only_vni);
// The pure part, from what the loader read. VNIs: those of the VXLAN devices, those with a mode
// (transit), and those the uplink programs saw (paths sent and received, QPs).
StatsReport make_stats(const NetnsStatus& st, const PathReport& pr, const std::vector<QpStats>& sent,
                       std::optional<uint32_t> only_vni);

// {"netns", "vnis": [{"vni", "mode", "paths": [...], "imbalance", "jain", "qps": [...]}],
//  "uplinks": [{"ifname", "tx_packets", "tx_bytes", "tx_other_packets", ..., "rx_...": every frame}],
//  "reasons", "uplink_reasons", "xdp_reasons"}
// mode: "off" / "qp-hash" / "balance", or null for a VNI only observed on the uplinks. paths[]: ifname,
// remote_vtep, tx_/rx_ packets, bytes, roce_packets, roce_bytes, rx_ecn_ce, rx_cnp, share (of tx
// RoCEv2 bytes). qps[]: qpn, packets, bytes, sport, path, path_sport, moves (sent), rx_packets,
// rx_bytes, rx_path, reordered, gaps, ecn_ce, cnp (received), assigned_sport, balance_sport,
// balance_moves, move_pending (mode balance); path, path_sport, rx_path, assigned_sport and
// balance_sport are null when unknown. Each reasons
// object is {name: {"packets", "bytes"}}, empty when that program is not attached.
// stats_json_text writes it (fast: 100 000 QPs); to_json parses that for who needs a tree.
std::string stats_json_text(const StatsReport& report);
nlohmann::json to_json(const StatsReport& report);
nlohmann::json reasons_json(const std::vector<ReasonStats>& reasons);
// "off", "qp-hash", or null (only observed).
nlohmann::json mode_json(const std::optional<uint32_t>& mode);

// The report as `qpspread stats` prints it: per VNI a path table, the fairness line, a QP table.
void print_stats_table(const StatsReport& report);

}  // namespace qpspread::report
