#include "loader/pinned_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "loader/bpffs.h"
#include "loader/error.h"

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

// Per-CPU map values come back as one 8-byte-aligned slot per possible CPU.
template <typename T>
std::vector<T> percpu_lookup(int fd, const void* key) {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) throw Error("cannot count possible CPUs");
  static_assert(sizeof(T) % 8 == 0, "per-CPU values must be 8-byte multiples");
  std::vector<T> vals(static_cast<size_t>(ncpu));
  if (bpf_map_lookup_elem(fd, key, vals.data()) != 0) return {};
  return vals;
}

std::vector<ReasonStats> read_reasons(int fd) {
  if (fd < 0) return {};
  std::vector<ReasonStats> out;
  for (uint32_t r = 0; r < QPS_R__MAX; r++) {
    ReasonStats rs;
    rs.name = reason_name(r);
    for (const auto& v : percpu_lookup<qps_reason_stats>(fd, &r)) {
      rs.packets += v.packets;
      rs.bytes += v.bytes;
    }
    out.push_back(rs);
  }
  return out;
}

std::vector<PathStats> read_paths(int fd) {
  std::vector<PathStats> out;
  if (fd < 0) return out;
  qps_path_key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    PathStats p;
    p.ifindex = next.ifindex;
    p.vni = next.vni;
    char buf[INET6_ADDRSTRLEN] = {};
    static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(next.remote, v4_prefix, 12) == 0)
      inet_ntop(AF_INET, next.remote + 12, buf, sizeof(buf));
    else
      inet_ntop(AF_INET6, next.remote, buf, sizeof(buf));
    p.remote = buf;
    for (const auto& v : percpu_lookup<qps_path_stats>(fd, &next)) {
      p.packets += v.packets;
      p.bytes += v.bytes;
      p.roce_packets += v.roce_packets;
      p.roce_bytes += v.roce_bytes;
    }
    out.push_back(p);
    key = next;
    prev = &key;
  }
  return out;
}

}  // namespace

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
  }
  return "unknown";
}

std::optional<uint32_t> parse_mode(const std::string& text) {
  if (text == "off") return QPS_MODE_OFF;
  if (text == "qp-hash") return QPS_MODE_QP_HASH;
  return std::nullopt;
}

std::optional<PinnedMaps> PinnedMaps::open(const std::string& dir) {
  PinnedMaps m;
  m.vni_mode_ = open_pin(dir, "vni_mode");
  m.attachments_ = open_pin(dir, "attachments");
  m.reasons_ = open_pin(dir, "reasons");
  m.qp_stats_ = open_pin(dir, "qp_stats");
  m.path_stats_ = open_pin(dir, "path_stats");
  m.qp_paths_ = open_pin(dir, "qp_paths");
  m.rx_paths_ = open_pin(dir, "rx_paths");
  m.qp_rx_ = open_pin(dir, "qp_rx");
  m.xdp_reasons_ = open_pin(dir, "xdp_reasons");
  // Every object defines attachments and vni_mode; the other maps come with their programs (a
  // transit node may have no VXLAN device, so no VTEP program).
  if (!m.vni_mode_ && !m.attachments_) return std::nullopt;
  if (!m.vni_mode_ || !m.attachments_)
    throw Error("incomplete pins in " + dir + "; run 'qpspread detach' for this namespace, then attach again");
  return m;
}

std::vector<qps_attachment> PinnedMaps::attachments() const {
  std::vector<qps_attachment> out;
  uint32_t key = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(attachments_.get(), prev, &next) == 0) {
    qps_attachment a{};
    if (bpf_map_lookup_elem(attachments_.get(), &next, &a) == 0) out.push_back(a);
    key = next;
    prev = &key;
  }
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

void PinnedMaps::init_mode(uint32_t vni, uint32_t mode) const {
  qps_vni_cfg c{};
  c.mode = static_cast<qps_mode>(mode);
  if (bpf_map_update_elem(vni_mode_.get(), &vni, &c, BPF_NOEXIST) != 0 && errno != EEXIST)
    throw Error(errno_text("cannot set the mode of VNI " + std::to_string(vni), errno));
}

std::map<uint32_t, uint32_t> PinnedMaps::vni_modes() const {
  std::map<uint32_t, uint32_t> out;
  uint32_t key = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(vni_mode_.get(), prev, &next) == 0) {
    qps_vni_cfg c{};
    if (bpf_map_lookup_elem(vni_mode_.get(), &next, &c) == 0) out[next] = c.mode;
    key = next;
    prev = &key;
  }
  return out;
}

void PinnedMaps::set_mode(uint32_t vni, uint32_t mode) const {
  qps_vni_cfg c{};
  c.mode = static_cast<qps_mode>(mode);
  if (bpf_map_update_elem(vni_mode_.get(), &vni, &c, BPF_ANY) != 0)
    throw Error(errno_text("cannot set the mode of VNI " + std::to_string(vni), errno));
}

std::vector<ReasonStats> PinnedMaps::reasons() const { return read_reasons(reasons_.get()); }

std::vector<ReasonStats> PinnedMaps::xdp_reasons() const { return read_reasons(xdp_reasons_.get()); }

std::vector<QpStats> PinnedMaps::qp_stats() const {
  std::vector<QpStats> out;
  qps_qp_key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(qp_stats_.get(), prev, &next) == 0) {
    QpStats q;
    q.vni = next.vni;
    q.qpn = next.qpn;
    for (const auto& v : percpu_lookup<qps_qp_stats>(qp_stats_.get(), &next)) {
      q.packets += v.packets;
      q.bytes += v.bytes;
      if (v.sport) q.sport = v.sport;
    }
    out.push_back(q);
    key = next;
    prev = &key;
  }
  return out;
}

std::vector<PathStats> PinnedMaps::path_stats() const { return read_paths(path_stats_.get()); }

std::vector<PathStats> PinnedMaps::rx_paths() const { return read_paths(rx_paths_.get()); }

std::map<qps_qp_key, qps_qp_rx> PinnedMaps::qp_rx() const {
  std::map<qps_qp_key, qps_qp_rx> out;
  if (!qp_rx_) return out;
  qps_qp_key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(qp_rx_.get(), prev, &next) == 0) {
    qps_qp_rx q{};
    if (bpf_map_lookup_elem(qp_rx_.get(), &next, &q) == 0) out[next] = q;
    key = next;
    prev = &key;
  }
  return out;
}

std::map<qps_qp_key, qps_qp_path> PinnedMaps::qp_paths() const {
  std::map<qps_qp_key, qps_qp_path> out;
  if (!qp_paths_) return out;
  qps_qp_key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(qp_paths_.get(), prev, &next) == 0) {
    qps_qp_path p{};
    if (bpf_map_lookup_elem(qp_paths_.get(), &next, &p) == 0) out[next] = p;
    key = next;
    prev = &key;
  }
  return out;
}

void unpin_all(const std::string& dir) {
  for (const char* name : kPinnedMapNames) ::unlink((dir + "/" + name).c_str());
  ::rmdir(dir.c_str());
}

}  // namespace qpspread
