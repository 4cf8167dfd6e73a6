// RoCEv2 frames as a NIC puts them on the wire (Ethernet / IPv4 / UDP 4791 / BTH / payload /
// ICRC), and parsing of such frames, plain or inside VXLAN, for tests and experiments.
//
// The kernel here has no RDMA/Soft-RoCE (see KERNEL-NOTES.md), so RoCEv2 traffic is generated as
// raw frames: they must look exactly like a NIC's so that BPF programs and fabrics treat them as
// real RoCEv2, and carry a correct ICRC so a real receiver would accept them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace qpspread::workload {

inline constexpr uint16_t kRoceV2Port = 4791;  // IANA port of RoCEv2
inline constexpr uint16_t kVxlanPort = 4789;   // IANA port of VXLAN
inline constexpr size_t kBthLen = 12;
inline constexpr size_t kIcrcLen = 4;

struct RoceFrameSpec {
  std::array<uint8_t, 6> src_mac{}, dst_mac{};
  uint32_t src_ip = 0, dst_ip = 0;  // IPv4, host byte order
  uint16_t src_port = 49152;        // inner UDP source port
  uint32_t dest_qp = 0;             // 24 bits
  uint32_t psn = 0;                 // 24 bits
  uint8_t opcode = 0x04;            // RC SEND_ONLY
  bool ack_req = false;
  uint8_t ecn = 0;                  // the IPv4 header's ECN field: 0 Not-ECT, 2 ECT(0), 3 CE
  uint8_t dscp = 0;                 // and its DSCP
  bool becn = false;                // BTH byte 4 bit 6: a CNP's congestion notification
  size_t payload_len = 256;
  // When set: the payload_len bytes here are the payload (an AETH, a transport's data) instead
  // of the QP/PSN pattern below.
  const uint8_t* payload_data = nullptr;
};

// Ethernet / IPv4 (DF, TTL 64, valid header checksum) / UDP to 4791 (valid checksum) / BTH
// (P_Key 0xffff, SE=0, M=0, TVer=0) / payload / ICRC. The payload starts with the QP and the PSN
// (big endian, 4 bytes each) followed by a pattern derived from both, so every frame of a run is
// distinct and a received frame names its origin. A payload that is not a multiple of 4 bytes is
// followed by zero pad bytes counted in the BTH PadCnt, as the InfiniBand spec requires (the
// default 256 bytes needs none). Throws qpspread::Error when the frame would exceed 65535 bytes.
std::vector<uint8_t> build_rocev2_frame(const RoceFrameSpec& spec);
// The same frame written into `out` (resized), so a sender can reuse its buffers.
void build_rocev2_frame_into(const RoceFrameSpec& spec, std::vector<uint8_t>& out);

// The RoCEv2 ICRC of an IPv4 packet, as the 32-bit value whose least significant byte goes on the
// wire first. `l3` starts at the IPv4 header and ends before the ICRC.
//
// It is the Ethernet CRC32 (reflected polynomial 0xEDB88320, initial value ~0, final complement)
// over 8 bytes of 0xff standing for the InfiniBand LRH, then the packet with its variant fields
// masked to ones: IPv4 TOS, TTL and header checksum, the UDP checksum, and BTH byte 4 (FECN, BECN,
// resv6). Sources: IBTA RoCEv2 annex (A17); Linux drivers/infiniband/sw/rxe/rxe_icrc.c (seed
// 0xdebb20e3 = state after the 8 LRH bytes, same masks, crc32_le, complemented, stored in CPU
// order on little-endian machines); Scapy scapy/contrib/roce.py. Checked in the unit tests
// against a CNP captured from a ConnectX-4 Lx and Scapy's UC SEND_ONLY example.
// Throws qpspread::Error when l3 is too short to hold IPv4, UDP and the BTH.
uint32_t rocev2_icrc(std::span<const uint8_t> l3);

struct ParsedVxlanRoce {
  uint16_t outer_sport = 0, outer_dport = 0;
  uint32_t outer_src = 0, outer_dst = 0;  // host order
  uint32_t vni = 0;
  bool inner_is_roce = false;
  uint32_t dest_qp = 0, psn = 0;  // valid when inner_is_roce
  std::vector<uint8_t> inner_frame;  // the inner Ethernet frame, from its destination MAC on
};

// Outer Ethernet (optional 802.1Q) / IPv4 / UDP to vxlan_port / VXLAN (I flag set) / inner frame,
// as captured on an underlay interface; nullopt for anything else (BGP, BFD, ARP, fragments).
std::optional<ParsedVxlanRoce> parse_vxlan_frame(std::span<const uint8_t> frame,
                                                 uint16_t vxlan_port = kVxlanPort);
// (destination QP, PSN) of a plain Ethernet (optional 802.1Q) / IPv4 / UDP 4791 / BTH frame.
std::optional<std::pair<uint32_t, uint32_t>> parse_rocev2_qp_psn(std::span<const uint8_t> frame);

// A plain RoCEv2 frame taken apart. payload runs from after the BTH to before the pad bytes
// and the ICRC, and points into the frame given to parse_rocev2.
struct RoceView {
  uint32_t src_ip = 0, dst_ip = 0;  // host order
  uint16_t src_port = 0;
  uint8_t opcode = 0;
  bool ack_req = false;
  uint8_t ecn = 0;    // of the IPv4 header: 3 = CE, marked on the way
  bool becn = false;  // BTH BECN (a CNP sets it)
  uint32_t dest_qp = 0, psn = 0;
  std::span<const uint8_t> payload;
  bool icrc_ok = false;
};
// nullopt when the frame is not Ethernet (optional 802.1Q) / IPv4 / UDP 4791 / BTH / ICRC or
// its lengths do not add up; a wrong ICRC is reported in icrc_ok, not by nullopt.
std::optional<RoceView> parse_rocev2(std::span<const uint8_t> frame);

}  // namespace qpspread::workload
