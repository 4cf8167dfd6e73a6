// The loader's API: attach qpspread to a namespace's VXLAN devices, detach it, report its state.
// Every call enters the namespace on its own thread (Netns::run).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/netns.h"
#include "loader/pinned_maps.h"
#include "loader/tc_hook.h"
#include "loader/uplink_discovery.h"
#include "qpspread/abi.h"

namespace qpspread {

struct AttachOptions {
  std::vector<std::string> devices;  // empty: every VXLAN device in the namespace
  uint32_t mark = QPS_DEFAULT_MARK;  // skb mark for steered packets; must not be 0
  qps_vni_cfg initial_mode{QPS_MODE_QP_HASH, QPS_DEFAULT_FLOWLET_GAP_US, 0};  // for VNIs that have no mode yet
  // Underlay interfaces to count per path: tc egress, and XDP on receive (tc ingress on a veth).
  std::vector<std::string> uplinks;
  // Interfaces VXLAN encapsulated elsewhere arrives by (a leaf in front of host VTEPs): XDP
  // rewrites its outer source port before this node's ECMP decision.
  std::vector<std::string> transit;
  // VNIs the transit rewrite steers (their mode starts as initial_mode); default: the VNIs of
  // the namespace's own VXLAN devices.
  std::vector<uint32_t> transit_vnis;
  // With no `uplinks`: find them from the routes to the remote VTEPs (uplink_discovery.h).
  bool discover_uplinks = true;
  // How the tc programs go on their hooks (tc_hook.h); none: tcx where the kernel has it (6.6+),
  // else clsact. An interface attached before keeps its way in (naming the other one: a warning).
  std::optional<TcApi> tc_api;
  // A namespace with no VXLAN device (yet) and no uplink named is not an error: nothing is attached
  // (the agent, waiting for FRR or ifupdown to create them).
  bool vteps_optional = false;
};

struct DeviceState {
  std::string ifname;
  int ifindex = 0;
  uint32_t vni = 0;
  uint32_t prog_id = 0;        // qpspread's tc program on the hook now (0: missing)
  TcApi tc_api = TcApi::clsact;  // how its tc programs are attached
  bool created_qdisc = false;    // clsact: attach created the qdisc
  bool already_attached = false;  // attach: it was attached before this call
  uint16_t port_min = 0;
  uint16_t port_count = 0;
  uint32_t mark = 0;
  uint32_t mode = QPS_MODE_OFF;  // VXLAN device: the mode its program instance was loaded with
  uint32_t xdp_prog_id = 0;   // underlay_xdp on this interface (uplinks: rx; transit: rewrite)
  std::string xdp_mode;       // "native" or "generic"; "" without XDP
  bool rx_on_tc = false;      // uplink: underlay_xdp's receive program is on tc ingress instead (a veth)
  uint32_t rx_tc_prog_id = 0; // ... its id there (0: missing)
  std::vector<uint32_t> vnis; // transit: the VNIs it steers
  uint8_t kind = QPS_ATTACH_VXLAN;  // enum qps_attach_kind
};

struct AttachReport {
  std::string pin_dir;
  std::vector<DeviceState> devices;
  std::vector<DeviceState> uplinks;
  std::vector<DeviceState> transit;
  std::vector<std::string> warnings;  // e.g. generic XDP where native was refused
  bool uplinks_discovered = false;        // uplinks came from discovery, not from the caller
  std::vector<RemoteVtep> remote_vteps;  // what discovery found (empty when it did not run)
  // Records of interfaces that are gone (deleted, or their namespace's device recreated with a new
  // ifindex): forgotten, their VNI's mode kept. Renamed interfaces keep their record, renamed.
  std::vector<std::string> forgotten;
  std::vector<uint32_t> new_vnis;  // VNIs that had no mode before this call (given initial_mode)
};

struct DetachReport {
  bool was_attached = false;
  std::vector<std::string> devices;  // interfaces whose tc / XDP programs were removed
  std::vector<std::string> qdiscs_removed;
};

struct NetnsStatus {
  std::string netns;
  std::string pin_dir;
  bool attached = false;
  std::vector<DeviceState> devices;
  std::vector<DeviceState> uplinks;
  std::vector<DeviceState> transit;
  std::map<uint32_t, uint32_t> vni_modes;
  // Per program, summed over CPUs; empty when that program was never attached here.
  std::vector<ReasonStats> reasons;         // vxlan_egress (VTEP, tc on the VXLAN devices)
  std::vector<ReasonStats> uplink_reasons;  // uplink_egress (tc on the uplinks): frames not VXLAN
  std::vector<ReasonStats> xdp_reasons;     // underlay_xdp (uplinks: rx; transit: rewrite)
  size_t qp_entries = 0;  // 0 when not counted
};

// All or nothing, and idempotent: devices already attached are left as they are (their config is
// refreshed), a tc or XDP program of ours someone removed is put back, records of interfaces
// that no longer exist are forgotten; if any device fails, everything this call added is removed
// again.
AttachReport attach(const Netns& ns, const AttachOptions& opts);
// Removes exactly what attach added: qpspread's tc programs (tcx) or filters and the clsact qdiscs
// it created (when no one else's filter is on them), its XDP programs, and the pins. Safe to repeat.
DetachReport detach(const Netns& ns);
// count_qps: read the QP map to fill qp_entries (a full read of it; the stats report, which reads
// it anyway, asks without).
NetnsStatus status(const Netns& ns, bool count_qps = true);
// Sets the VNI's mode (and mode balance's flowlet gap; cfg.coarse_res_ns is the loader's to fill
// in); throws naming the attached VNIs when it is not one (a VXLAN device's, or steered by
// transit). The transit program reads it from the next packet on; the VNI's VTEP programs, which
// hold it in their read-only config, are replaced by instances loaded with it before this returns.
// If one cannot be, the VNI is given back its old mode everywhere and this throws.
void set_mode(const Netns& ns, uint32_t vni, const qps_vni_cfg& cfg);
// Every VNI's mode and flowlet gap here (empty when qpspread is not attached): a cheap read.
std::map<uint32_t, qps_vni_cfg> vni_configs(const Netns& ns);
// Mode balance: the outer source ports of QPs (QPN -> port; 0: none, the QP keeps its qp-hash
// port). Every port must be in the source-port range of one of this namespace's programs for the
// VNI (a VXLAN device's, or the transit range); all are checked before any is written, and a bad
// one throws naming the ranges.
void assign_ports(const Netns& ns, uint32_t vni, const std::map<uint32_t, uint16_t>& ports);
std::vector<QpStats> qp_stats(const Netns& ns, std::optional<uint32_t> vni);

// What the uplink programs counted: per path sent (tc) and received (XDP, remote = the sender),
// per QP its last uplink, port and moves, and what it received: reordered frames and gaps.
struct PathReport {
  std::vector<PathStats> paths;
  std::vector<PathStats> rx_paths;
  std::map<qps_qp_key, qps_qp_path> qp_paths;
  std::map<qps_qp_key, qps_qp_rx> qp_rx;
  std::map<qps_qp_key, uint16_t> assignments;       // mode balance: the ports assigned here
  std::map<qps_qp_key, qps_qp_flowlet> flowlets;    // mode balance: the ports in use here
  std::map<uint32_t, std::string> ifnames;  // ifindex -> name, of attached uplinks
};
PathReport path_report(const Netns& ns);

}  // namespace qpspread
