// The WAN link model (userspace/wan/link_model.h): ECN marking of the rate limit's queue, held at
// fixed depths, against the WRED profile; the CE mark in IPv4 (checksum kept valid) and IPv6
// frames; tail drop and no marking of frames that are not ECN-capable.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "userspace/wan/link_model.h"

namespace qpspread::wan {
namespace {

// Ethernet + IPv4 (ToS given, valid header checksum) + 8 bytes of UDP.
std::vector<uint8_t> ipv4_frame(uint8_t tos, bool vlan = false) {
  const size_t ip = vlan ? 18 : 14;
  std::vector<uint8_t> f(ip + 20 + 8, 0);
  f[ip - 2] = 0x08;  // ethertype IPv4
  if (vlan) {
    f[12] = 0x81;
    f[15] = 0x64;  // VLAN 100
  }
  const uint8_t hdr[20] = {0x45, tos, 0, 36, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
  for (size_t i = 0; i < 20; i++) f[ip + i] = hdr[i];
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(f[ip + i] << 8 | f[ip + i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  f[ip + 10] = static_cast<uint8_t>(~sum >> 8);
  f[ip + 11] = static_cast<uint8_t>(~sum & 0xff);
  return f;
}

uint16_t ipv4_checksum_over_header(const std::vector<uint8_t>& f, size_t ip) {
  uint32_t sum = 0;
  for (size_t i = ip; i < ip + 20; i += 2) sum += static_cast<uint32_t>(f[i] << 8 | f[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);  // 0xffff when the header's checksum is right
}

TEST(FrameEcn, Ipv4MarkKeepsTheChecksumValid) {
  for (uint8_t tos : {0x02, 0x01, 0xb8 | 0x02}) {
    std::vector<uint8_t> f = ipv4_frame(tos);
    EXPECT_EQ(FrameTos(f.data(), f.size()).ecn(), FrameEcn::Ect);
    ASSERT_TRUE(FrameTos(f.data(), f.size()).mark_ce());
    EXPECT_EQ(FrameTos(f.data(), f.size()).ecn(), FrameEcn::Ce);
    EXPECT_EQ(f[15], (tos & 0xfc) | 3) << "DSCP kept";
    EXPECT_EQ(FrameTos(f.data(), f.size()).dscp(), static_cast<unsigned>(tos >> 2));
    EXPECT_EQ(ipv4_checksum_over_header(f, 14), 0xffff) << "tos " << int(tos);
    EXPECT_FALSE(FrameTos(f.data(), f.size()).mark_ce()) << "already CE";
  }
  std::vector<uint8_t> vlan = ipv4_frame(0x02, true);
  ASSERT_TRUE(FrameTos(vlan.data(), vlan.size()).mark_ce());
  EXPECT_EQ(ipv4_checksum_over_header(vlan, 18), 0xffff);
}

TEST(FrameEcn, NotEctAndNotIpAreLeftAlone) {
  std::vector<uint8_t> f = ipv4_frame(0xb8);
  const std::vector<uint8_t> before = f;
  EXPECT_EQ(FrameTos(f.data(), f.size()).ecn(), FrameEcn::NotEct);
  EXPECT_FALSE(FrameTos(f.data(), f.size()).mark_ce());
  EXPECT_EQ(f, before);
  f[12] = 0x08;
  f[13] = 0x06;  // ARP
  EXPECT_EQ(FrameTos(f.data(), f.size()).ecn(), FrameEcn::NotIp);
  EXPECT_EQ(FrameTos(f.data(), 20).ecn(), FrameEcn::NotIp) << "truncated";
}

TEST(FrameEcn, Ipv6TrafficClassStraddlesTwoBytes) {
  std::vector<uint8_t> f(14 + 40, 0);
  f[12] = 0x86;
  f[13] = 0xdd;
  f[14] = 0x6b;  // version 6, traffic class 0xb8 | ECT(0) = 0xba: 0x6b 0xa0
  f[15] = 0xa5;  // low nibble: flow label
  EXPECT_EQ(FrameTos(f.data(), f.size()).ecn(), FrameEcn::Ect);
  ASSERT_TRUE(FrameTos(f.data(), f.size()).mark_ce());
  EXPECT_EQ(f[14], 0x6b);
  EXPECT_EQ(f[15], 0xb5) << "ECN bits 11, DSCP and flow label kept";
  EXPECT_EQ(FrameTos(f.data(), f.size()).dscp(), 0x2eu) << "traffic class 0xbb: DSCP 46 (EF)";
  EXPECT_EQ(FrameTos(f.data(), f.size()).ecn(), FrameEcn::Ce);
}

// 8 Mbit/s: one byte per microsecond. The queue is filled to `depth` at t = 0, then a frame of
// 1000 bytes arrives every 1000 us, as fast as the rate drains it: each finds `depth` queued.
double marked_fraction(const EcnMarking& ecn, uint64_t depth, int frames, bool ect = true) {
  LinkModel m(1'000'000, 42);
  m.imp.rate_bps = 8'000'000;
  m.imp.ecn = ecn;
  int64_t now = 0;
  // Each frame then finds what was queued less the 1000 bytes drained since the one before.
  while (m.queued_bytes(now) < depth + 1000) EXPECT_EQ(m.admit(1000, now, false).fate, LinkModel::Fate::Scheduled);
  const uint64_t held = depth;
  int marked = 0;
  for (int i = 0; i < frames; i++) {
    now += 1'000'000;
    EXPECT_EQ(m.queued_bytes(now), held);
    const LinkModel::Verdict v = m.admit(1000, now, ect);
    EXPECT_EQ(v.fate, LinkModel::Fate::Scheduled);
    marked += v.mark_ce;
  }
  return static_cast<double>(marked) / frames;
}

TEST(LinkModel, MarkingAtFixedQueueDepthsFollowsTheProfile) {
  const EcnMarking ecn{20'000, 100'000, 20};  // 20kb,100kb,20%
  const int n = 20000;
  EXPECT_EQ(marked_fraction(ecn, 0, n), 0.0);
  EXPECT_EQ(marked_fraction(ecn, 19'000, n), 0.0);
  for (uint64_t depth : {40'000u, 60'000u, 90'000u}) {
    const double p = ecn.probability(depth);
    const double got = marked_fraction(ecn, depth, n);
    const double sigma = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(got, p, 5 * sigma) << "depth " << depth << ": expected " << p;
  }
  EXPECT_EQ(marked_fraction(ecn, 100'000, n), 1.0);
  EXPECT_EQ(marked_fraction(ecn, 200'000, n), 1.0);
  EXPECT_EQ(marked_fraction(ecn, 200'000, n, false), 0.0) << "not ECN-capable: never marked";
  EXPECT_EQ(marked_fraction({}, 200'000, n), 0.0) << "marking off";
}

TEST(LinkModel, AFullQueueDropsAtTheTailAndDeparturesStayInOrder) {
  LinkModel m(10'000, 1);
  m.imp.rate_bps = 8'000'000;
  m.imp.delay_us = 5000;
  m.imp.jitter_us = 4000;
  int64_t last = 0;
  int scheduled = 0, full = 0;
  for (int i = 0; i < 30; i++) {
    const LinkModel::Verdict v = m.admit(1000, 0, true);
    if (v.fate == LinkModel::Fate::QueueFull) {
      full++;
      continue;
    }
    scheduled++;
    EXPECT_GE(v.due_ns, last);
    last = v.due_ns;
  }
  EXPECT_EQ(scheduled, 10);  // 10 000 bytes of queue
  EXPECT_EQ(full, 20);
}

}  // namespace
}  // namespace qpspread::wan
