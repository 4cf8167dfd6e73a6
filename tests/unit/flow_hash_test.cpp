// The port mapping against the kernel's own formula, for every port of several ranges, and the
// hash's spread over QPNs allocated one after another.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "qpspread/flow_hash.h"

namespace {

// include/net/udp.h, udp_flow_src_port(), copied as the kernel has it (Linux 6.x).
uint16_t kernel_udp_flow_src_port(uint32_t skb_hash, int min, int max) {
  uint32_t hash = skb_hash;
  hash ^= hash << 16;
  return static_cast<uint16_t>((((uint64_t)hash * (max - min)) >> 32) + min);
}

struct Range {
  uint16_t min, count;
};

TEST(FlowHash, KernelPicksExactlyThePortWeChoseForEveryHashBucket) {
  const Range ranges[] = {{32768, 28231}, {49152, 16383}, {1024, 64511}, {4000, 1}, {60000, 2}};
  for (const Range& r : ranges) {
    // Every port of the range is reached, and for each the kernel agrees with us.
    std::vector<bool> seen(r.count, false);
    for (uint32_t k = 0; k < r.count; k++) {
      // The smallest hash that our multiply-shift puts on port min + k.
      const uint32_t h = static_cast<uint32_t>((((uint64_t)k << 32) + r.count - 1) / r.count);
      const uint16_t ours = qps_port_for_hash(h, r.min, r.count);
      const uint32_t skb_hash = qps_skb_hash_for(h);
      ASSERT_NE(skb_hash, 0u);
      ASSERT_EQ(kernel_udp_flow_src_port(skb_hash, r.min, r.min + r.count), ours)
          << "range " << r.min << "+" << r.count << " k " << k;
      seen[ours - r.min] = true;
    }
    for (uint32_t k = 0; k < r.count; k++) ASSERT_TRUE(seen[k]) << "port " << r.min + k << " unreachable";
  }
}

// Mode balance steers a QP to a chosen port: the hash it derives for the port makes the kernel send
// exactly that port, for every port of every range.
TEST(FlowHash, HashForPortMakesTheKernelSendThatPort) {
  const Range ranges[] = {{32768, 28231}, {49152, 16383}, {1024, 64511}, {4000, 1}, {60000, 2}};
  for (const Range& r : ranges)
    for (uint32_t k = 0; k < r.count; k++) {
      const uint16_t port = static_cast<uint16_t>(r.min + k);
      const uint32_t h = qps_hash_for_port(port, r.min, r.count);
      ASSERT_EQ(qps_port_for_hash(h, r.min, r.count), port) << "range " << r.min << "+" << r.count;
      ASSERT_EQ(kernel_udp_flow_src_port(qps_skb_hash_for(h), r.min, r.min + r.count), port)
          << "range " << r.min << "+" << r.count;
    }
}

TEST(FlowHash, KernelAgreesForArbitraryHashes) {
  uint32_t x = 12345;
  for (int i = 0; i < 1000000; i++) {
    x = x * 1664525u + 1013904223u;
    ASSERT_EQ(kernel_udp_flow_src_port(qps_skb_hash_for(x), 32768, 60999), qps_port_for_hash(x, 32768, 28231));
  }
}

TEST(FlowHash, ZeroHashNeverReachesTheDriver) {
  // The driver replaces a zero skb hash by a hash of the Ethernet addresses.
  EXPECT_NE(qps_skb_hash_for(0), 0u);
  EXPECT_EQ(kernel_udp_flow_src_port(qps_skb_hash_for(0), 32768, 60999), qps_port_for_hash(0, 32768, 28231));
}

TEST(FlowHash, SequentialQpnsSpreadEvenlyOverPaths) {
  const __u32 addrs[2] = {0x0a640001, 0x0a640002};
  for (int paths : {2, 4, 8}) {
    std::vector<int> n(static_cast<size_t>(paths), 0);
    const int qps = 4096;
    for (uint32_t q = 0; q < static_cast<uint32_t>(qps); q++)
      n[static_cast<size_t>(qps_port_for_hash(qps_qp_hash(addrs, 2, 0x100 + q), 0, static_cast<uint16_t>(paths)))]++;
    for (int c : n) EXPECT_NEAR(c, qps / paths, qps / paths * 0.1) << paths << " paths";
  }
}

// What a 4-way ECMP router sees: 1024 QPs created one after another between the same two hosts,
// their outer ports on the default range, reduced to 4 paths either by the port's low bits or by
// a multiply-shift of the port. Each path must carry 256 QPs within 15%.
TEST(FlowHash, ThousandSequentialQpsSpreadOverFourPathsWithinFifteenPercent) {
  const __u32 v4[2] = {0x0a640001, 0x0a640002};
  const __u32 v6[8] = {0xfd000000, 0, 0, 1, 0xfd000000, 0, 0, 2};
  struct Family {
    const char* name;
    const __u32* words;
    int nwords;
  };
  for (const Family& fam : {Family{"IPv4", v4, 2}, Family{"IPv6", v6, 8}}) {
    std::array<int, 4> low_bits{}, mul_shift{};
    for (uint32_t qpn = 0x11; qpn < 0x11 + 1024; qpn++) {
      const uint16_t port = qps_port_for_hash(qps_qp_hash(fam.words, fam.nwords, qpn), 32768, 28231);
      low_bits[port % 4]++;
      mul_shift[(static_cast<uint32_t>(port - 32768) * 4) / 28231]++;
    }
    for (size_t path = 0; path < 4; path++) {
      EXPECT_NEAR(low_bits[path], 256, 256 * 0.15) << fam.name << " port % 4 == " << path;
      EXPECT_NEAR(mul_shift[path], 256, 256 * 0.15) << fam.name << " quarter " << path << " of the range";
    }
  }
}

TEST(FlowHash, HashDependsOnQpAndAddressesOnly) {
  const __u32 a[2] = {1, 2}, b[2] = {1, 3};
  EXPECT_EQ(qps_qp_hash(a, 2, 7), qps_qp_hash(a, 2, 7));
  EXPECT_NE(qps_qp_hash(a, 2, 7), qps_qp_hash(a, 2, 8));
  EXPECT_NE(qps_qp_hash(a, 2, 7), qps_qp_hash(b, 2, 7));
  // Only the 24 QP bits count: the BTH field has no more.
  EXPECT_EQ(qps_qp_hash(a, 2, 0x01000007), qps_qp_hash(a, 2, 7));
}

}  // namespace
