// RoCEv2 ICRC against frames whose ICRC was computed elsewhere, and against an independent
// computation (zlib's CRC32 with the masks written out here).
//
// Vectors, both from the Scapy test suite (test/contrib/roce.uts in secdev/scapy):
//  - a CNP captured from a Mellanox ConnectX-4 Lx: its ICRC was computed by NIC hardware;
//  - Scapy's "example UC packet" (UC SEND_ONLY, TOS 1, MigReq, PadCnt 2), ICRC 0x78f353f3 as
//    Scapy reads the wire bytes big endian; the frame is rebuilt from the Scapy fields and the
//    rebuild is confirmed by Scapy's asserted IP (0xb4d5) and UDP (0xaca2) checksums.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "userspace/workload/roce_frame.h"

namespace qpspread::workload {
namespace {

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  std::string digits;
  for (char c : hex)
    if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
  for (size_t i = 0; i + 1 < digits.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  return out;
}

// ConnectX-4 Lx CNP: 10.0.17.1 -> 10.0.18.1, UDP 0 -> 4791 (checksum 0), opcode 0x81, BECN,
// dest QP 0x000118, 16 reserved bytes, ICRC 82 fd 00 2a.
const char* const kCnpConnectX4 =
    "e41d 2dab 2bc2 7cfe 9064 3b32 0800 45c2"
    "003c 718c 4000 4011 9161 0a00 1101 0a00"
    "1201 0000 12b7 0028 0000 8100 ffff 4000"
    "0118 0000 0000 0000 0000 0000 0000 0000"
    "0000 0000 0000 82fd 002a";

// Scapy UC SEND_ONLY: 192.168.0.7 -> 192.168.0.7, 49152 -> 4791, dest QP 211, PSN 13571856,
// 18 payload bytes + 2 pad bytes, ICRC 78 f3 53 f3.
const char* const kUcScapy =
    "248a07a8fa22 248a07a8fa22 0800"
    "4501 0040 0478 4000 4011 b4d5 c0a8 0007 c0a8 0007"
    "c000 12b7 002c aca2"
    "2460 ffff 0000 00d3 00cf 1710"
    "4630 818b e289 35d9 0e9a 9550 5401 be88 5e50 0000"
    "78f3 53f3";

// The ICRC as it sits on the wire (least significant byte first) for a frame with a 14-byte
// Ethernet header.
uint32_t wire_icrc(const std::vector<uint8_t>& f) {
  const size_t n = f.size();
  return f[n - 4] | f[n - 3] << 8 | f[n - 2] << 16 | static_cast<uint32_t>(f[n - 1]) << 24;
}
uint32_t library_icrc(const std::vector<uint8_t>& f) {
  return rocev2_icrc(std::span(f).subspan(14, f.size() - 14 - 4));
}

// Independent of the library: zlib's CRC32 over 8 x 0xff and the masked IPv4/UDP/BTH/payload.
uint32_t zlib_icrc(const std::vector<uint8_t>& f) {
  std::vector<uint8_t> m(f.begin() + 14, f.end() - 4);
  const size_t udp = (m[0] & 0x0f) * 4u;
  m[1] = m[8] = m[10] = m[11] = 0xff;
  m[udp + 6] = m[udp + 7] = 0xff;
  m[udp + 8 + 4] = 0xff;
  m.insert(m.begin(), 8, 0xff);
  return static_cast<uint32_t>(crc32(crc32(0, nullptr, 0), m.data(), static_cast<uInt>(m.size())));
}

TEST(RoceIcrc, MatchesConnectX4CapturedCnp) {
  const std::vector<uint8_t> f = from_hex(kCnpConnectX4);
  ASSERT_EQ(f.size(), 74u);
  EXPECT_EQ(wire_icrc(f), 0x2a00fd82u);
  EXPECT_EQ(library_icrc(f), wire_icrc(f));
  EXPECT_EQ(zlib_icrc(f), wire_icrc(f));
}

TEST(RoceIcrc, MatchesScapyUcExample) {
  const std::vector<uint8_t> f = from_hex(kUcScapy);
  ASSERT_EQ(f.size(), 14u + 64);
  EXPECT_EQ(library_icrc(f), wire_icrc(f));
  EXPECT_EQ(zlib_icrc(f), wire_icrc(f));
}

TEST(RoceIcrc, SeedMatchesRxeConstant) {
  // rxe_icrc.c starts crc32_le from 0xdebb20e3, "the result of computing a CRC with a seed of
  // 0xffffffff and 8 bytes of 0xff representing a masked LRH"; zlib's result is its complement.
  const uint8_t lrh[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(~static_cast<uint32_t>(crc32(0, lrh, sizeof(lrh))), 0xdebb20e3u);
}

TEST(RoceIcrc, BuiltFramesCarryTheIndependentIcrc) {
  for (size_t payload : {0u, 2u, 256u, 1021u}) {
    RoceFrameSpec s;
    s.src_ip = 0x0a000001;
    s.dst_ip = 0x0a000002;
    s.dest_qp = 0x100 + static_cast<uint32_t>(payload);
    s.psn = 42;
    s.payload_len = payload;
    const std::vector<uint8_t> f = build_rocev2_frame(s);
    SCOPED_TRACE("payload " + std::to_string(payload));
    EXPECT_EQ(wire_icrc(f), zlib_icrc(f));
    EXPECT_EQ(wire_icrc(f), library_icrc(f));
  }
}

TEST(RoceIcrc, VariantFieldsAreMaskedInvariantOnesAreNot) {
  RoceFrameSpec s;
  s.dest_qp = 0x321;
  const std::vector<uint8_t> f = build_rocev2_frame(s);
  const uint32_t icrc = library_icrc(f);
  // What routers and ECN marking may change on the way: TOS, TTL, IP checksum, UDP checksum,
  // FECN/BECN.
  for (size_t at : {15u, 22u, 24u, 25u, 40u, 41u, 46u}) {
    std::vector<uint8_t> g = f;
    g[at] ^= 0x5a;
    EXPECT_EQ(library_icrc(g), icrc) << "byte " << at;
  }
  // Everything else is covered: the inner UDP source port (so it must never be rewritten), the
  // addresses, the destination QP, the PSN, the payload.
  for (size_t at : {34u, 35u, 26u, 33u, 49u, 53u, 54u, 100u}) {
    std::vector<uint8_t> g = f;
    g[at] ^= 0x01;
    EXPECT_NE(library_icrc(g), icrc) << "byte " << at;
  }
}

TEST(RoceIcrc, ShortInputThrows) {
  const std::vector<uint8_t> f = build_rocev2_frame(RoceFrameSpec{});
  EXPECT_THROW(rocev2_icrc(std::span(f).subspan(14, 20 + 8 + 11)), Error);
  EXPECT_THROW(rocev2_icrc(std::span(f).subspan(14, 10)), Error);
  EXPECT_NO_THROW(rocev2_icrc(std::span(f).subspan(14, 20 + 8 + 12)));
}

}  // namespace
}  // namespace qpspread::workload
