// The pieces of the InfiniBand RC transport that a RoCEv2 queue pair puts on the wire: opcodes,
// the ACK Extended Transport Header (AETH), 24-bit PSN arithmetic, and the inner UDP source port
// a NIC chooses for a QP.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace qpspread::workload {

// RC opcodes (IBTA vol. 1, table 38: transport 000 = RC, then the operation).
enum class RcOpcode : uint8_t {
  SendFirst = 0x00,
  SendMiddle = 0x01,
  SendLast = 0x02,
  SendOnly = 0x04,
  Acknowledge = 0x11,
  // Not RC: the Congestion Notification Packet of RoCEv2 (annex A17, opcode 0x81, transport
  // 100 = CNP), BECN set, its payload 16 reserved bytes, sent to the QP whose frames were marked.
  Cnp = 0x81,
};
inline constexpr size_t kAethLen = 4;
inline constexpr size_t kCnpPayloadLen = 16;
inline constexpr uint8_t kCnpDscp = 48;

// AETH syndrome (bits 7-5 say what it is): 000 ACK with a credit count in bits 4-0 (11111 =
// no end-to-end flow control), 011 NAK with a code in bits 4-0 (00000 = PSN sequence error).
inline constexpr uint8_t kAethAckUnlimited = 0x1f;
inline constexpr uint8_t kAethNakSeqError = 0x60;

struct Aeth {
  uint8_t syndrome = kAethAckUnlimited;
  uint32_t msn = 0;  // 24 bits: messages the responder has completed
  bool is_ack() const { return (syndrome >> 5) == 0; }
  bool is_nak_seq_error() const { return syndrome == kAethNakSeqError; }
};
void put_aeth(uint8_t out[kAethLen], const Aeth& a);
// nullopt when fewer than 4 bytes are given.
std::optional<Aeth> parse_aeth(std::span<const uint8_t> payload);

inline constexpr uint32_t kPsnMask = 0xffffff;
inline uint32_t psn_add(uint32_t psn, uint32_t n) { return (psn + n) & kPsnMask; }
// Signed distance a - b on the 24-bit circle: positive when a is ahead of b (by < 2^23).
inline int32_t psn_diff(uint32_t a, uint32_t b) {
  const uint32_t d = (a - b) & kPsnMask;
  return d & 0x800000 ? static_cast<int32_t>(d) - 0x1000000 : static_cast<int32_t>(d);
}

// How a NIC picks the inner UDP source port of a QP (KERNEL-NOTES "RoCEv2 framing").
enum class SportModel { Fixed, Qpn, Few };
SportModel parse_sport_model(const std::string& name);  // fixed|qpn|few; throws qpspread::Error
const char* sport_model_name(SportModel m);
// fixed: 49152 for every QP; qpn: Linux rdma_get_udp_sport() of the QPN pair; few: one of four
// ports chosen by the local QPN, as old firmware did.
uint16_t inner_sport(SportModel m, uint32_t local_qpn, uint32_t remote_qpn);
// Linux rdma_flow_label_to_udp_sport(rdma_calc_flow_label(lqpn, rqpn)): the 20-bit flow label
// of the QPN product, folded and placed in the range 0xC000-0xFFFF.
uint16_t rdma_udp_sport(uint32_t local_qpn, uint32_t remote_qpn);

}  // namespace qpspread::workload
