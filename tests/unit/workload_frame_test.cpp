// RoCEv2 frame layout, checksums and parsing (plain and inside VXLAN). Checksums are verified
// with an implementation written here from RFC 1071/768, not the library's.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/error.h"
#include "userspace/workload/roce_frame.h"

namespace qpspread::workload {
namespace {

constexpr size_t kIpAt = 14, kUdpAt = 34, kBthAt = 42, kPayloadAt = 54;

RoceFrameSpec sample() {
  RoceFrameSpec s;
  s.src_mac = {0x02, 0, 0, 0, 0, 0x01};
  s.dst_mac = {0x02, 0, 0, 0, 0, 0x02};
  s.src_ip = 0x0a000001;  // 10.0.0.1
  s.dst_ip = 0xc0a80102;  // 192.168.1.2
  s.src_port = 0xc123;
  s.dest_qp = 0xabcdef;
  s.psn = 0x123456;
  return s;
}

uint16_t be16(const std::vector<uint8_t>& f, size_t at) {
  return static_cast<uint16_t>(f[at] << 8 | f[at + 1]);
}
uint32_t be24(const std::vector<uint8_t>& f, size_t at) {
  return static_cast<uint32_t>(f[at] << 16 | f[at + 1] << 8 | f[at + 2]);
}
uint32_t be32(const std::vector<uint8_t>& f, size_t at) {
  return static_cast<uint32_t>(be16(f, at)) << 16 | be16(f, at + 2);
}

// RFC 1071 one's-complement sum over [at, at+len), plus `acc`; a valid checksum sums to 0xffff.
uint16_t ones_sum(const std::vector<uint8_t>& f, size_t at, size_t len, uint32_t acc = 0) {
  for (size_t i = 0; i < len; i += 2)
    acc += static_cast<uint32_t>(f[at + i] << 8) | (i + 1 < len ? f[at + i + 1] : 0u);
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

TEST(RoceFrame, LayoutOfEthernetIpv4UdpBthPayload) {
  const std::vector<uint8_t> f = build_rocev2_frame(sample());
  ASSERT_EQ(f.size(), 14u + 20 + 8 + 12 + 256 + 4);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), (std::vector<uint8_t>{2, 0, 0, 0, 0, 2}));
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 6, f.begin() + 12), (std::vector<uint8_t>{2, 0, 0, 0, 0, 1}));
  EXPECT_EQ(be16(f, 12), 0x0800);
  EXPECT_EQ(f[kIpAt], 0x45);
  EXPECT_EQ(be16(f, kIpAt + 2), f.size() - 14);  // IPv4 total length
  EXPECT_EQ(be16(f, kIpAt + 6), 0x4000);         // DF, offset 0
  EXPECT_EQ(f[kIpAt + 8], 64);                   // TTL
  EXPECT_EQ(f[kIpAt + 9], 17);                   // UDP
  EXPECT_EQ(be32(f, kIpAt + 12), 0x0a000001u);
  EXPECT_EQ(be32(f, kIpAt + 16), 0xc0a80102u);
  EXPECT_EQ(be16(f, kUdpAt), 0xc123);
  EXPECT_EQ(be16(f, kUdpAt + 2), 4791);
  EXPECT_EQ(be16(f, kUdpAt + 4), f.size() - kUdpAt);
  // BTH: opcode, SE/M/PadCnt/TVer, P_Key, FECN/BECN/resv, dest QP, AckReq/resv, PSN.
  EXPECT_EQ(f[kBthAt + 0], 0x04);
  EXPECT_EQ(f[kBthAt + 1], 0x00);
  EXPECT_EQ(be16(f, kBthAt + 2), 0xffff);
  EXPECT_EQ(f[kBthAt + 4], 0x00);
  EXPECT_EQ(be24(f, kBthAt + 5), 0xabcdefu);
  EXPECT_EQ(f[kBthAt + 8], 0x00);
  EXPECT_EQ(be24(f, kBthAt + 9), 0x123456u);
  // The payload names its QP and PSN so a received frame can be traced to its origin.
  EXPECT_EQ(be32(f, kPayloadAt), 0xabcdefu);
  EXPECT_EQ(be32(f, kPayloadAt + 4), 0x123456u);
}

TEST(RoceFrame, AckReqOpcodeAnd24BitMasking) {
  RoceFrameSpec s = sample();
  s.ack_req = true;
  s.opcode = 0x0a;             // RC RDMA WRITE ONLY
  s.dest_qp = 0x7fabcdef;      // only 24 bits fit
  s.psn = 0xff000001;
  const std::vector<uint8_t> f = build_rocev2_frame(s);
  EXPECT_EQ(f[kBthAt], 0x0a);
  EXPECT_EQ(f[kBthAt + 8], 0x80);
  EXPECT_EQ(be24(f, kBthAt + 5), 0xabcdefu);
  EXPECT_EQ(be24(f, kBthAt + 9), 0x000001u);
}

TEST(RoceFrame, PayloadNotMultipleOfFourIsPaddedAndCounted) {
  RoceFrameSpec s = sample();
  s.payload_len = 250;
  const std::vector<uint8_t> f = build_rocev2_frame(s);
  ASSERT_EQ(f.size(), 14u + 20 + 8 + 12 + 252 + 4);
  EXPECT_EQ((f[kBthAt + 1] >> 4) & 3, 2);  // PadCnt
  EXPECT_EQ(f[kPayloadAt + 250], 0);
  EXPECT_EQ(f[kPayloadAt + 251], 0);
}

TEST(RoceFrame, DifferentFramesDifferInPayload) {
  RoceFrameSpec a = sample(), b = sample();
  b.psn = a.psn + 1;
  const auto fa = build_rocev2_frame(a), fb = build_rocev2_frame(b);
  EXPECT_NE(std::vector<uint8_t>(fa.begin() + kPayloadAt, fa.end() - 4),
            std::vector<uint8_t>(fb.begin() + kPayloadAt, fb.end() - 4));
  EXPECT_EQ(build_rocev2_frame(a), fa);  // deterministic
}

TEST(RoceFrame, Ipv4AndUdpChecksumsVerify) {
  for (size_t payload : {0u, 1u, 3u, 8u, 255u, 256u, 1024u}) {
    for (uint32_t qp : {0u, 0x100u, 0xffffffu}) {
      RoceFrameSpec s = sample();
      s.payload_len = payload;
      s.dest_qp = qp;
      s.psn = qp ^ 0x5a5a5a;
      const std::vector<uint8_t> f = build_rocev2_frame(s);
      SCOPED_TRACE("payload " + std::to_string(payload) + " qp " + std::to_string(qp));
      EXPECT_EQ(ones_sum(f, kIpAt, 20), 0xffff);
      const size_t udp_len = f.size() - kUdpAt;
      const uint32_t pseudo = ones_sum(f, kIpAt + 12, 8) + 17u + static_cast<uint32_t>(udp_len);
      EXPECT_NE(be16(f, kUdpAt + 6), 0);  // 0 would mean "no checksum"
      EXPECT_EQ(ones_sum(f, kUdpAt, udp_len, pseudo), 0xffff);
    }
  }
}

TEST(RoceFrame, OversizedPayloadThrows) {
  RoceFrameSpec s = sample();
  s.payload_len = 65536 - 20 - 8 - 12 - 4;
  EXPECT_THROW(build_rocev2_frame(s), Error);
  s.payload_len = 1500;
  EXPECT_NO_THROW(build_rocev2_frame(s));
}

TEST(ParseRoce, QpAndPsnRoundTrip) {
  for (uint32_t qp : {0u, 1u, 0x100u, 0x123456u, 0xffffffu}) {
    for (uint32_t psn : {0u, 7u, 0x800000u, 0xffffffu}) {
      RoceFrameSpec s = sample();
      s.dest_qp = qp;
      s.psn = psn;
      const auto got = parse_rocev2_qp_psn(build_rocev2_frame(s));
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->first, qp);
      EXPECT_EQ(got->second, psn);
    }
  }
}

TEST(ParseRoce, VlanTaggedFrameParses) {
  std::vector<uint8_t> f = build_rocev2_frame(sample());
  const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x64};  // VLAN 100
  f.insert(f.begin() + 12, tag, tag + 4);
  const auto got = parse_rocev2_qp_psn(f);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->first, 0xabcdefu);
}

TEST(ParseRoce, RejectsOtherTraffic) {
  const std::vector<uint8_t> good = build_rocev2_frame(sample());
  std::vector<uint8_t> f = good;
  f[kUdpAt + 3] = 53;  // another UDP port
  EXPECT_FALSE(parse_rocev2_qp_psn(f));
  f = good;
  f[kIpAt + 9] = 6;  // TCP
  EXPECT_FALSE(parse_rocev2_qp_psn(f));
  f = good;
  f[12] = 0x86;  // IPv6 ethertype
  f[13] = 0xdd;
  EXPECT_FALSE(parse_rocev2_qp_psn(f));
  f = good;
  f[kIpAt + 6] = 0x20;  // more fragments: the BTH may not be where it seems
  EXPECT_FALSE(parse_rocev2_qp_psn(f));
  f = good;
  f[kIpAt] = 0x44;  // IHL below 5
  EXPECT_FALSE(parse_rocev2_qp_psn(f));
  EXPECT_FALSE(parse_rocev2_qp_psn(std::span(good).first(kBthAt + 11)));  // BTH cut short
  EXPECT_TRUE(parse_rocev2_qp_psn(std::span(good).first(kBthAt + 12)));
  EXPECT_FALSE(parse_rocev2_qp_psn(std::vector<uint8_t>{}));
}

// Outer Ethernet / IPv4 / UDP sport->4789 / VXLAN (I flag, vni) around `inner`.
std::vector<uint8_t> vxlan_wrap(const std::vector<uint8_t>& inner, uint16_t sport, uint32_t vni) {
  std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00};
  const size_t ip_len = 20 + 8 + 8 + inner.size();
  const std::vector<uint8_t> ip = {0x45, 0, static_cast<uint8_t>(ip_len >> 8),
                                   static_cast<uint8_t>(ip_len), 0, 0, 0x40, 0, 64, 17, 0, 0,
                                   10, 255, 0, 1, 10, 255, 0, 2};
  f.insert(f.end(), ip.begin(), ip.end());
  const size_t udp_len = ip_len - 20;
  const std::vector<uint8_t> udp = {static_cast<uint8_t>(sport >> 8), static_cast<uint8_t>(sport),
                                    0x12, 0xb5, static_cast<uint8_t>(udp_len >> 8),
                                    static_cast<uint8_t>(udp_len), 0, 0};
  f.insert(f.end(), udp.begin(), udp.end());
  const std::vector<uint8_t> vx = {0x08, 0, 0, 0, static_cast<uint8_t>(vni >> 16),
                                   static_cast<uint8_t>(vni >> 8), static_cast<uint8_t>(vni), 0};
  f.insert(f.end(), vx.begin(), vx.end());
  f.insert(f.end(), inner.begin(), inner.end());
  return f;
}

TEST(ParseVxlan, HandBuiltFrame) {
  const std::vector<uint8_t> inner = build_rocev2_frame(sample());
  const auto p = parse_vxlan_frame(vxlan_wrap(inner, 54321, 0x123456));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->outer_sport, 54321);
  EXPECT_EQ(p->outer_dport, 4789);
  EXPECT_EQ(p->outer_src, 0x0aff0001u);
  EXPECT_EQ(p->outer_dst, 0x0aff0002u);
  EXPECT_EQ(p->vni, 0x123456u);
  EXPECT_TRUE(p->inner_is_roce);
  EXPECT_EQ(p->dest_qp, 0xabcdefu);
  EXPECT_EQ(p->psn, 0x123456u);
  EXPECT_EQ(p->inner_frame, inner);
}

TEST(ParseVxlan, VlanTagAndEthernetPadding) {
  // A small inner frame: the outer frame is padded to the Ethernet minimum on the wire.
  std::vector<uint8_t> inner = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06};
  std::vector<uint8_t> f = vxlan_wrap(inner, 1000, 10);
  const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x0a};
  f.insert(f.begin() + 12, tag, tag + 4);
  f.resize(f.size() + 10, 0);
  const auto p = parse_vxlan_frame(f);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->vni, 10u);
  EXPECT_FALSE(p->inner_is_roce);  // ARP
  EXPECT_EQ(p->inner_frame, inner);
}

TEST(ParseVxlan, RejectsNonVxlan) {
  const std::vector<uint8_t> roce = build_rocev2_frame(sample());
  EXPECT_FALSE(parse_vxlan_frame(roce));  // plain RoCEv2, UDP 4791
  std::vector<uint8_t> f = vxlan_wrap(roce, 1, 1);
  EXPECT_TRUE(parse_vxlan_frame(f));
  EXPECT_FALSE(parse_vxlan_frame(f, 8472));  // another VXLAN port configured
  f[42] = 0;                                 // I flag cleared
  EXPECT_FALSE(parse_vxlan_frame(f));
  EXPECT_FALSE(parse_vxlan_frame(std::span(f).first(45)));  // VXLAN header cut short
}

}  // namespace
}  // namespace qpspread::workload
