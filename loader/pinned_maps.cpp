#include "loader/pinned_maps.h"

#include <ctime>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <tuple>

#include "common/error.h"
#include "loader/bpffs.h"
#include "loader/map_batch.h"

namespace qpspread {
namespace {

UniqueFd open_pin(const std::string& dir, const char* name) {
  const std::string path = dir + "/" + name;
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return UniqueFd();
    throw Error(errno_text("cannot open pinned map " + path, err) +
                (err == EPERM || err == EACCES ? " (run as root)" : ""));
  }
  return UniqueFd(fd);
}

std::vector<PathStats> read_paths(int fd) {
  std::vector<PathStats> out;
  if (fd < 0) return out;
  for (const auto& [k, s] : read_percpu_map<qps_path_key, qps_path_stats>(fd, sum_cpus<qps_path_stats>))
    out.push_back({k.ifindex, k.vni, vtep_text(k.remote), s.packets, s.bytes, s.roce_packets, s.roce_bytes, s.ecn_ce, s.cnp});
  return out;
}

}  // namespace

std::string vtep_text(const uint8_t (&remote)[16]) {
  char buf[INET6_ADDRSTRLEN] = {};
  static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(remote, v4_prefix, 12) == 0)
    inet_ntop(AF_INET, remote + 12, buf, sizeof(buf));
  else
    inet_ntop(AF_INET6, remote, buf, sizeof(buf));
  return buf;
}

void add_counters(qps_qp_stats& sum, const qps_qp_stats& cpu) {
  sum.packets += cpu.packets;
  sum.bytes += cpu.bytes;
  if (cpu.sport) sum.sport = cpu.sport;
}

void add_counters(qps_path_stats& sum, const qps_path_stats& cpu) {
  sum.packets += cpu.packets;
  sum.bytes += cpu.bytes;
  sum.roce_packets += cpu.roce_packets;
  sum.roce_bytes += cpu.roce_bytes;
  sum.ecn_ce += cpu.ecn_ce;
  sum.cnp += cpu.cnp;
}

void add_counters(qps_reason_stats& sum, const qps_reason_stats& cpu) {
  sum.packets += cpu.packets;
  sum.bytes += cpu.bytes;
}

const char* reason_name(uint32_t reason) {
  static const char* const names[] = {
#define QPS_REASON_NAME(name, str) str,
      QPS_REASONS(QPS_REASON_NAME)
#undef QPS_REASON_NAME
  };
  return reason < QPS_R__MAX ? names[reason] : "unknown";
}

const char* mode_name(uint32_t mode) {
  switch (mode) {
    case QPS_MODE_OFF: return "off";
    case QPS_MODE_QP_HASH: return "qp-hash";
    case QPS_MODE_BALANCE: return "balance";
  }
  return "unknown";
}

std::optional<uint32_t> parse_mode(const std::string& text) {
  if (text == "off") return QPS_MODE_OFF;
  if (text == "qp-hash") return QPS_MODE_QP_HASH;
  if (text == "balance") return QPS_MODE_BALANCE;
  return std::nullopt;
}

namespace {

// Per reason, in enum order; empty when the map is not there.
std::vector<ReasonStats> read_reasons(int fd) {
  if (fd < 0) return {};
  std::vector<ReasonStats> out(QPS_R__MAX);
  for (uint32_t r = 0; r < QPS_R__MAX; r++) out[r].name = reason_name(r);
  const auto entries = read_percpu_map<uint32_t, qps_reason_stats>(fd, sum_cpus<qps_reason_stats>);
  for (const auto& [r, s] : entries) {
    if (r >= QPS_R__MAX) continue;  // a map sized by a newer BPF object
    out[r].packets = s.packets;
    out[r].bytes = s.bytes;
  }
  return out;
}

// A per-QP map (shared by all CPUs) by key; empty when it is not pinned (its program not attached).
template <class V>
std::map<qps_qp_key, V> per_qp(const UniqueFd& fd) {
  std::map<qps_qp_key, V> out;
  if (!fd) return out;
  for (const auto& [key, v] : read_map<qps_qp_key, V>(fd.get())) out.emplace(key, v);
  return out;
}

}  // namespace

std::optional<PinnedMaps> PinnedMaps::open(const std::string& dir) {
  PinnedMaps m;
  m.vni_mode_ = open_pin(dir, "vni_mode");
  m.attachments_ = open_pin(dir, "attachments");
  m.reasons_ = open_pin(dir, "reasons");
  m.qp_stats_ = open_pin(dir, "qp_stats");
  m.qp_assign_ = open_pin(dir, "qp_assign");
  m.qp_assign_gen_ = open_pin(dir, "qp_assign_gen");
  m.qp_flowlet_ = open_pin(dir, "qp_flowlet");
  m.path_stats_ = open_pin(dir, "path_stats");
  m.qp_paths_ = open_pin(dir, "qp_paths");
  m.uplink_reasons_ = open_pin(dir, "uplink_reasons");
  m.rx_paths_ = open_pin(dir, "rx_paths");
  m.qp_rx_ = open_pin(dir, "qp_rx");
  m.xdp_reasons_ = open_pin(dir, "xdp_reasons");
  // Every object defines attachments and vni_mode; the other maps come with their programs (a
  // transit node may have no VXLAN device, so no VTEP program).
  if (!m.vni_mode_ && !m.attachments_) return std::nullopt;
  if (!m.vni_mode_ || !m.attachments_)
    throw Error("incomplete pins in " + dir + "; run 'qpspread detach' for this namespace, then attach again");
  // Records of another size (another qpspread version's) would not fit the lookups below.
  map_batch_detail::checked_info(m.attachments_.get(), sizeof(uint32_t), sizeof(qps_attachment), false);
  return m;
}

std::vector<qps_attachment> PinnedMaps::attachments() const {
  std::vector<qps_attachment> out;
  for (const auto& [ifindex, a] : read_map<uint32_t, qps_attachment>(attachments_.get())) out.push_back(a);
  return out;
}

std::optional<qps_attachment> PinnedMaps::attachment(uint32_t ifindex) const {
  qps_attachment a{};
  if (bpf_map_lookup_elem(attachments_.get(), &ifindex, &a) != 0) return std::nullopt;
  return a;
}

void PinnedMaps::put_attachment(const qps_attachment& rec) const {
  if (bpf_map_update_elem(attachments_.get(), &rec.ifindex, &rec, BPF_ANY) != 0)
    throw Error(errno_text(std::string("cannot record the attachment of ") + rec.ifname, errno));
}

void PinnedMaps::delete_attachment(uint32_t ifindex) const {
  bpf_map_delete_elem(attachments_.get(), &ifindex);
}

uint32_t coarse_clock_res_ns() {
  timespec res{};
  ::clock_getres(CLOCK_MONOTONIC_COARSE, &res);
  return static_cast<uint32_t>(res.tv_sec * 1'000'000'000 + res.tv_nsec);
}

bool PinnedMaps::init_mode(uint32_t vni, qps_vni_cfg cfg) const {
  cfg.coarse_res_ns = coarse_clock_res_ns();
  if (bpf_map_update_elem(vni_mode_.get(), &vni, &cfg, BPF_NOEXIST) == 0) return true;
  if (errno != EEXIST) throw Error(errno_text("cannot set the mode of VNI " + std::to_string(vni), errno));
  return false;
}

std::map<uint32_t, qps_vni_cfg> PinnedMaps::vni_configs() const {
  std::map<uint32_t, qps_vni_cfg> out;
  for (const auto& [vni, c] : read_map<uint32_t, qps_vni_cfg>(vni_mode_.get())) out[vni] = c;
  return out;
}

std::map<uint32_t, uint32_t> PinnedMaps::vni_modes() const {
  std::map<uint32_t, uint32_t> out;
  for (const auto& [vni, c] : vni_configs()) out[vni] = c.mode;
  return out;
}

void PinnedMaps::set_mode(uint32_t vni, qps_vni_cfg cfg) const {
  cfg.coarse_res_ns = coarse_clock_res_ns();
  if (bpf_map_update_elem(vni_mode_.get(), &vni, &cfg, BPF_ANY) != 0)
    throw Error(errno_text("cannot set the mode of VNI " + std::to_string(vni), errno));
}

void PinnedMaps::assign(const qps_qp_key& qp, uint16_t sport) const {
  if (!qp_assign_) throw Error("no program of mode balance is attached here (no qp_assign pin); attach again");
  const qps_qp_assign a{sport, {}};
  if (bpf_map_update_elem(qp_assign_.get(), &qp, &a, BPF_ANY) != 0)
    throw Error(errno_text("cannot assign a port to QP " + std::to_string(qp.qpn), errno));
}

void PinnedMaps::unassign(const qps_qp_key& qp) const {
  if (qp_assign_) bpf_map_delete_elem(qp_assign_.get(), &qp);
}

void PinnedMaps::assignments_changed() const {
  if (!qp_assign_gen_) throw Error("no qp_assign_gen pin (attached by an older qpspread?); attach again");
  const uint32_t zero = 0;
  uint64_t gen = 0;
  bpf_map_lookup_elem(qp_assign_gen_.get(), &zero, &gen);
  gen++;
  if (bpf_map_update_elem(qp_assign_gen_.get(), &zero, &gen, BPF_ANY) != 0)
    throw Error(errno_text("cannot move qp_assign_gen", errno));
}

std::map<qps_qp_key, uint16_t> PinnedMaps::assignments() const {
  std::map<qps_qp_key, uint16_t> out;
  if (!qp_assign_) return out;
  for (const auto& [k, a] : read_map<qps_qp_key, qps_qp_assign>(qp_assign_.get())) out[k] = a.sport;
  return out;
}

std::map<qps_qp_key, qps_qp_flowlet> PinnedMaps::flowlets() const { return per_qp<qps_qp_flowlet>(qp_flowlet_); }

std::vector<ReasonStats> PinnedMaps::reasons() const { return read_reasons(reasons_.get()); }

std::vector<ReasonStats> PinnedMaps::uplink_reasons() const { return read_reasons(uplink_reasons_.get()); }

std::vector<ReasonStats> PinnedMaps::xdp_reasons() const { return read_reasons(xdp_reasons_.get()); }

std::vector<QpStats> PinnedMaps::qp_stats() const {
  if (!qp_stats_) return {};  // a transit-only namespace has no VTEP program
  const auto entries = read_percpu_map<qps_qp_key, qps_qp_stats>(qp_stats_.get(), sum_cpus<qps_qp_stats>);
  std::vector<QpStats> out;
  out.reserve(entries.size());
  for (const auto& [k, s] : entries) out.push_back({k.vni, k.qpn, s.packets, s.bytes, s.sport});
  // The VNIs whose VTEP programs leave the per-QP counts to the uplink programs (count_qps 0), and
  // whether they steer (their mode): their QPs' frames are counted in qp_paths. Frames a VTEP
  // program counted before uplinks came are added to those: no frame is counted by both.
  std::map<uint32_t, bool> by_uplinks;  // VNI -> steered
  for (const auto& [ifindex, a] : read_map<uint32_t, qps_attachment>(attachments_.get()))
    if (a.kind == QPS_ATTACH_VXLAN && !a.cfg.count_qps)
      by_uplinks[a.vni] |= a.cfg.vni_cfg.mode != QPS_MODE_OFF;
  if (by_uplinks.empty() || !qp_paths_) return out;
  std::sort(out.begin(), out.end(), [](const QpStats& a, const QpStats& b) {
    return std::tie(a.vni, a.qpn) < std::tie(b.vni, b.qpn);
  });
  const size_t from_vtep = out.size();
  for (const auto& [k, p] : read_map<qps_qp_key, qps_qp_path>(qp_paths_.get())) {
    const auto vni = by_uplinks.find(k.vni);
    if (vni == by_uplinks.end() || !p.packets) continue;
    const auto end = out.begin() + static_cast<std::ptrdiff_t>(from_vtep);
    auto it = std::lower_bound(out.begin(), end, k, [](const QpStats& q, const qps_qp_key& key) {
      return std::tie(q.vni, q.qpn) < std::tie(key.vni, key.qpn);
    });
    const bool seen = it != end && it->vni == k.vni && it->qpn == k.qpn;
    QpStats* q = seen ? &*it : &out.emplace_back(QpStats{k.vni, k.qpn});
    q->packets += p.packets;
    q->bytes += p.bytes;
    if (vni->second) q->sport = p.sport;  // the port it left with is the one chosen for it
  }
  return out;
}

std::vector<PathStats> PinnedMaps::path_stats() const { return read_paths(path_stats_.get()); }

std::vector<PathStats> PinnedMaps::rx_paths() const { return read_paths(rx_paths_.get()); }

std::map<qps_qp_key, qps_qp_rx> PinnedMaps::qp_rx() const { return per_qp<qps_qp_rx>(qp_rx_); }

std::map<qps_qp_key, qps_qp_path> PinnedMaps::qp_paths() const { return per_qp<qps_qp_path>(qp_paths_); }

void unpin_all(const std::string& dir) {
  for (const char* name : kPinnedMapNames) ::unlink((dir + "/" + name).c_str());
  ::rmdir(dir.c_str());
}

}  // namespace qpspread
