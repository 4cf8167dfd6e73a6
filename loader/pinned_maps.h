// Typed access to the maps attach pinned for one namespace: what later commands (mode, stats,
// status, detach) read and write, without loading any program.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "qpspread/abi.h"

inline bool operator<(const qps_qp_key& a, const qps_qp_key& b) {
  return a.vni != b.vni ? a.vni < b.vni : a.qpn < b.qpn;
}

namespace qpspread {

// The names of the maps in the BPF object; each is pinned under its own name.
inline constexpr const char* kPinnedMapNames[] = {"vni_mode", "attachments", "reasons", "qp_stats", "qp_assign", "qp_assign_gen", "qp_flowlet",
                                                  "path_stats", "qp_paths", "uplink_reasons",
                                                  "rx_paths", "qp_rx", "xdp_reasons"};

struct QpStats {
  uint32_t vni = 0;
  uint32_t qpn = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint16_t sport = 0;
};

// A VTEP address as the maps hold it (16 bytes, IPv4 mapped) in text: "10.1.0.11", "fd00::1".
std::string vtep_text(const uint8_t (&addr)[16]);

// The resolution of CLOCK_MONOTONIC_COARSE (a kernel tick), as mode balance's datapath needs it.
uint32_t coarse_clock_res_ns();

struct PathStats {
  uint32_t ifindex = 0;
  uint32_t vni = 0;
  std::string remote;  // remote VTEP address
  uint64_t packets = 0, bytes = 0, roce_packets = 0, roce_bytes = 0;
  uint64_t ecn_ce = 0, cnp = 0;  // received: CE-marked frames and CNPs (0 on the send side)
};

struct ReasonStats {
  std::string name;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

// Per-CPU counters added up. A QP's sport is any a CPU wrote: the CPU that sent the QP's packets
// keeps the port it chose, the others have 0.
void add_counters(qps_qp_stats& sum, const qps_qp_stats& cpu);
void add_counters(qps_path_stats& sum, const qps_path_stats& cpu);
void add_counters(qps_reason_stats& sum, const qps_reason_stats& cpu);
template <class T>
T sum_cpus(std::span<const T> cpus) {
  T sum{};
  for (const T& v : cpus) add_counters(sum, v);
  return sum;
}

const char* reason_name(uint32_t reason);
const char* mode_name(uint32_t mode);
// "off" / "qp-hash" / "balance"; nullopt for anything else.
std::optional<uint32_t> parse_mode(const std::string& text);

class PinnedMaps {
 public:
  // nullopt when nothing is pinned in dir (never attached, or detached).
  static std::optional<PinnedMaps> open(const std::string& dir);

  std::vector<qps_attachment> attachments() const;
  std::optional<qps_attachment> attachment(uint32_t ifindex) const;
  void put_attachment(const qps_attachment& rec) const;
  void delete_attachment(uint32_t ifindex) const;
  // Sets the mode only if the VNI has none: a mode chosen with `qpspread mode` survives re-attach.
  // True when it did (the VNI had no mode). coarse_res_ns is filled in.
  bool init_mode(uint32_t vni, qps_vni_cfg cfg) const;
  std::map<uint32_t, qps_vni_cfg> vni_configs() const;  // for every VNI with an entry
  std::map<uint32_t, uint32_t> vni_modes() const;       // VNI -> mode, for every VNI with an entry
  void set_mode(uint32_t vni, qps_vni_cfg cfg) const;   // coarse_res_ns filled in here
  // Mode balance: the outer source port assigned to a QP (qp_assign), and what the datapath does
  // with it (qp_flowlet: the port in use, the QP's last frame, its moves).
  void assign(const qps_qp_key& qp, uint16_t sport) const;
  void unassign(const qps_qp_key& qp) const;
  // After assign/unassign: moves qp_assign_gen, so the datapath reads the QPs' assignments again.
  void assignments_changed() const;
  std::map<qps_qp_key, uint16_t> assignments() const;
  std::map<qps_qp_key, qps_qp_flowlet> flowlets() const;
  std::vector<ReasonStats> reasons() const;        // summed over CPUs, in enum order (VTEP program)
  // Per QP sent: the VTEP programs' counts (summed over CPUs) and, for VNIs whose VTEP programs
  // leave them to the uplink programs, the uplinks' (qp_paths).
  std::vector<QpStats> qp_stats() const;
  // Uplink program state; empty when no uplink was attached.
  std::vector<PathStats> path_stats() const;       // summed over CPUs
  std::map<qps_qp_key, qps_qp_path> qp_paths() const;
  std::vector<ReasonStats> uplink_reasons() const;  // frames the uplink program found not VXLAN
  // Receive/transit (XDP) program state; empty when no XDP program was attached.
  std::vector<PathStats> rx_paths() const;         // summed over CPUs; remote = the sending VTEP
  std::map<qps_qp_key, qps_qp_rx> qp_rx() const;
  std::vector<ReasonStats> xdp_reasons() const;

 private:
  PinnedMaps() = default;
  UniqueFd vni_mode_, attachments_, reasons_, qp_stats_;
  UniqueFd qp_assign_, qp_assign_gen_, qp_flowlet_;  // present once a VTEP or XDP program was attached
  UniqueFd path_stats_, qp_paths_, uplink_reasons_;  // present once an uplink was attached
  UniqueFd rx_paths_, qp_rx_, xdp_reasons_;  // present once an XDP program was attached
};

// Removes the pinned maps and the directory; missing pins are fine.
void unpin_all(const std::string& dir);

}  // namespace qpspread
