// Frames for the packet fixtures: every variation the parser must handle, described by a few
// fields rather than hex dumps so a fixture says what it is.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace qpspread::test {

struct FrameDesc {
  uint16_t ethertype = 0x0800;       // 0x86dd for IPv6 (set by ipv6), 0x0806 ARP, ...
  std::vector<uint16_t> vlan_tpids;  // outer first: {0x88a8, 0x8100} is QinQ
  bool ipv6 = false;
  int ipv4_option_words = 0;         // IHL = 5 + this
  std::optional<uint8_t> ihl;        // a forced (bad) IHL
  uint16_t frag_off = 0x4000;        // DF; MF (0x2000) or an offset makes a fragment
  uint8_t l4_proto = 17;             // IPv4 protocol / IPv6 next header of the UDP position
  std::optional<uint8_t> ipv6_ext;   // an 8-byte IPv6 extension header of this type before UDP
  uint16_t sport = 49152;
  uint16_t dport = 4791;
  uint32_t qpn = 0x000123;
  uint32_t psn = 7;                  // 24 bits
  uint8_t opcode = 0x04;             // RC SEND Only
  size_t payload = 256;              // bytes after the BTH (ICRC included)
  std::optional<size_t> bth_bytes;   // only this many BTH bytes: the frame ends there
  std::optional<size_t> claimed_bth; // IP and UDP lengths claim only this many BTH bytes (padding follows)
  enum class Claim { both, ip, udp };
  Claim claimed_by = Claim::both;    // which length fields claim claimed_bth; the other claims 12
  std::optional<uint16_t> ipv4_tot_len;  // a forced IPv4 total length (the checksum still matches)
  std::optional<size_t> cut_at;      // the frame ends after this many bytes, wherever that is
};

// Frames carry a valid IPv4 header checksum and, when the whole datagram is in the frame, a valid
// UDP checksum (the program checks neither, but the fixtures should be frames a host could send).
std::vector<uint8_t> make_frame(const FrameDesc& d);

// An underlay frame carrying `inner` in VXLAN.
struct OuterDesc {
  bool ipv6 = false;
  bool vlan = false;     // one 802.1Q tag on the underlay
  uint8_t proto = 17;    // outer IP protocol / next header
  uint16_t sport = 50000;
  uint16_t dport = 4789;
  uint32_t vni = 100;
  uint16_t group_policy_id = 0;  // VXLAN-GBP (bytes 2-3 of the VXLAN header; G flag set when non-zero)
  bool udp_csum = false; // compute the outer UDP checksum (else 0: none, as Linux VXLAN over IPv4 sends by default)
  uint8_t ecn = 0;       // the outer ECN field (3: CE, as a queue on the way marks it)
};
std::vector<uint8_t> wrap_vxlan(const std::vector<uint8_t>& inner, const OuterDesc& o);
// Where wrap_vxlan put the outer UDP header.
size_t outer_udp_offset(const OuterDesc& o);
// Verifies the outer UDP checksum as a receiver does (the sum over pseudo-header, header and data
// is 0xffff); nullopt when the checksum field is 0 (none sent).
std::optional<bool> outer_udp_csum_ok(const std::vector<uint8_t>& frame, const OuterDesc& o);
// Remote VTEP addresses of wrap_vxlan's frames, as the programs key paths (IPv4 mapped).
std::array<uint8_t, 16> outer_dst(bool ipv6);

// Inner addresses of make_frame's frames, as words for qps_qp_hash.
inline constexpr uint8_t kSrc4[4] = {10, 100, 0, 1};
inline constexpr uint8_t kDst4[4] = {10, 100, 0, 2};
inline constexpr uint8_t kSrc6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
inline constexpr uint8_t kDst6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

// The outer source port a VTEP (or transit node) in mode qp-hash gives make_frame(d)'s QP.
uint16_t qp_hash_port(const FrameDesc& d, uint16_t port_min, uint16_t port_count);

}  // namespace qpspread::test
