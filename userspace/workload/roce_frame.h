// RoCEv2 frames as a NIC puts them on the wire (Ethernet / IPv4 / UDP 4791 / BTH / payload /
// ICRC), and parsing of such frames, plain or inside VXLAN, for tests and experiments.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace qpspread::workload {

struct RoceFrameSpec {
  std::array<uint8_t, 6> src_mac{}, dst_mac{};
  uint32_t src_ip = 0, dst_ip = 0;  // IPv4, host byte order
  uint16_t src_port = 49152;        // inner UDP source port
  uint32_t dest_qp = 0;             // 24 bits
  uint32_t psn = 0;                 // 24 bits
  uint8_t opcode = 0x04;            // RC SEND_ONLY
  bool ack_req = false;
  size_t payload_len = 256;
};

std::vector<uint8_t> build_rocev2_frame(const RoceFrameSpec& spec);

// CRC32 (IEEE, reflected) of the RoCEv2 invariant fields: 8 bytes of 0xff standing for the LRH,
// then the IP header with TOS, TTL and checksum set to 0xff, the UDP header with its checksum set
// to 0xffff, and the BTH with its reserved byte 4 set to 0xff, then the payload. `l3` starts at
// the IPv4 header and ends before the ICRC.
uint32_t rocev2_icrc(std::span<const uint8_t> l3);

struct ParsedVxlanRoce {
  uint16_t outer_sport = 0, outer_dport = 0;
  uint32_t outer_src = 0, outer_dst = 0;  // host order
  uint32_t vni = 0;
  bool inner_is_roce = false;
  uint32_t dest_qp = 0, psn = 0;
  std::vector<uint8_t> inner_frame;
};

// Outer Ethernet (optional 802.1Q) / IPv4 / UDP / VXLAN / inner frame; nullopt if not VXLAN.
std::optional<ParsedVxlanRoce> parse_vxlan_frame(std::span<const uint8_t> frame,
                                                 uint16_t vxlan_port = 4789);
// (destination QP, PSN) of a plain Ethernet / IPv4 / UDP 4791 / BTH frame.
std::optional<std::pair<uint32_t, uint32_t>> parse_rocev2_qp_psn(std::span<const uint8_t> frame);

}  // namespace qpspread::workload
