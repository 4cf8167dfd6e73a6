#include "userspace/workload/rc_wire.h"

#include "common/error.h"

namespace qpspread::workload {

void put_aeth(uint8_t out[kAethLen], const Aeth& a) {
  out[0] = a.syndrome;
  out[1] = static_cast<uint8_t>(a.msn >> 16);
  out[2] = static_cast<uint8_t>(a.msn >> 8);
  out[3] = static_cast<uint8_t>(a.msn);
}

std::optional<Aeth> parse_aeth(std::span<const uint8_t> p) {
  if (p.size() < kAethLen) return std::nullopt;
  return Aeth{p[0], static_cast<uint32_t>(p[1] << 16 | p[2] << 8 | p[3])};
}

SportModel parse_sport_model(const std::string& name) {
  if (name == "fixed") return SportModel::Fixed;
  if (name == "qpn") return SportModel::Qpn;
  if (name == "few") return SportModel::Few;
  throw Error("unknown source-port model '" + name + "' (use fixed, qpn or few)");
}

const char* sport_model_name(SportModel m) {
  switch (m) {
    case SportModel::Fixed: return "fixed";
    case SportModel::Qpn: return "qpn";
    case SportModel::Few: return "few";
  }
  return "?";
}

uint16_t rdma_udp_sport(uint32_t lqpn, uint32_t rqpn) {
  // include/rdma/ib_verbs.h: rdma_calc_flow_label() and rdma_flow_label_to_udp_sport().
  uint64_t v = static_cast<uint64_t>(lqpn) * rqpn;
  v ^= v >> 20;
  v ^= v >> 40;  // of the already folded value, as the kernel does
  const uint32_t fl = static_cast<uint32_t>(v) & 0xfffff;
  uint32_t fl_low = fl & 0x03fff, fl_high = fl & 0xfc000;
  fl_low ^= fl_high >> 14;
  return static_cast<uint16_t>(fl_low | 0xc000);
}

uint16_t inner_sport(SportModel m, uint32_t local_qpn, uint32_t remote_qpn) {
  switch (m) {
    case SportModel::Fixed: return 49152;
    case SportModel::Qpn: return rdma_udp_sport(local_qpn, remote_qpn);
    case SportModel::Few: return static_cast<uint16_t>(49152 + (local_qpn % 4) * 0x1111);
  }
  return 49152;
}

}  // namespace qpspread::workload
