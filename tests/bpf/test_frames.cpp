#include "tests/bpf/test_frames.h"

#include <algorithm>
#include <cstring>

#include "qpspread/flow_hash.h"

namespace qpspread::test {
namespace {

void put16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}

void append(std::vector<uint8_t>& f, const uint8_t* p, size_t n) { f.insert(f.end(), p, p + n); }

uint16_t get16(const std::vector<uint8_t>& f, size_t at) { return static_cast<uint16_t>(f[at] << 8 | f[at + 1]); }

// The Internet checksum's running sum (RFC 1071), 16-bit big-endian words, an odd byte padded.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += static_cast<uint32_t>(p[n - 1] << 8);
  return sum;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// The pseudo-header sum (RFC 768 / RFC 8200 section 8.1) plus the UDP datagram at udp_at.
uint32_t udp_sum(const std::vector<uint8_t>& f, bool ipv6, size_t ip_at, size_t udp_at) {
  const size_t udp_len = get16(f, udp_at + 4);
  uint32_t pseudo = ipv6 ? sum16(&f[ip_at + 8], 32) : sum16(&f[ip_at + 12], 8);
  pseudo += 17 + static_cast<uint32_t>(udp_len);
  return sum16(&f[udp_at], udp_len, pseudo);
}

// IPv4 header checksum, and the UDP checksum when the whole datagram the UDP length declares is
// in the frame (with the pseudo-header of RFC 768 / RFC 8200 section 8.1).
void set_checksums(std::vector<uint8_t>& f, const FrameDesc& d, size_t ip_at, size_t ip_hlen, size_t udp_at) {
  if (!d.ipv6) {
    put16(f, ip_at + 10, 0);
    put16(f, ip_at + 10, fold(sum16(&f[ip_at], ip_hlen)));
  }
  const size_t udp_len = get16(f, udp_at + 4);
  if (d.l4_proto != 17 || udp_len < 8 || udp_at + udp_len > f.size()) return;
  put16(f, udp_at + 6, 0);
  const uint16_t c = fold(udp_sum(f, d.ipv6, ip_at, udp_at));
  put16(f, udp_at + 6, c ? c : 0xffff);  // 0 would mean "no checksum"
}

std::vector<uint8_t> cut(std::vector<uint8_t> f, const FrameDesc& d) {
  if (d.cut_at) f.resize(*d.cut_at);
  return f;
}

}  // namespace

std::vector<uint8_t> make_frame(const FrameDesc& d) {
  std::vector<uint8_t> f = {0x02, 0, 0, 0, 2, 1, 0x02, 0, 0, 0, 1, 1};
  for (uint16_t tpid : d.vlan_tpids) {
    f.resize(f.size() + 4);
    put16(f, f.size() - 4, tpid);
    put16(f, f.size() - 2, 100);  // VLAN ID 100
  }
  const uint16_t ethertype = d.ipv6 ? 0x86dd : d.ethertype;
  f.resize(f.size() + 2);
  put16(f, f.size() - 2, ethertype);
  if (ethertype != 0x0800 && ethertype != 0x86dd) {  // ARP and friends: just some bytes
    f.resize(f.size() + 46, 0xab);
    return cut(f, d);
  }

  const size_t bth_have = d.bth_bytes.value_or(12);
  const size_t bth_claim = d.claimed_bth.value_or(12);
  const size_t ext = d.ipv6_ext ? 8 : 0;
  const size_t after_bth = d.claimed_bth ? 0 : d.payload;
  const size_t l4_claim = ext + 8 + (d.claimed_by != FrameDesc::Claim::udp ? bth_claim : 12) + after_bth;
  const size_t udp_claim = 8 + (d.claimed_by != FrameDesc::Claim::ip ? bth_claim : 12) + after_bth;
  const size_t ip_at = f.size();
  if (d.ipv6) {
    uint8_t h[40] = {0x60};
    h[4] = static_cast<uint8_t>(l4_claim >> 8);
    h[5] = static_cast<uint8_t>(l4_claim);
    h[6] = d.ipv6_ext ? *d.ipv6_ext : d.l4_proto;
    h[7] = 64;
    std::memcpy(h + 8, kSrc6, 16);
    std::memcpy(h + 24, kDst6, 16);
    append(f, h, sizeof(h));
    if (d.ipv6_ext) {
      uint8_t e[8] = {d.l4_proto, 0};  // next header, length 0 (8 bytes)
      append(f, e, sizeof(e));
    }
  } else {
    const size_t ihl_words = 5 + static_cast<size_t>(d.ipv4_option_words);
    std::vector<uint8_t> h(ihl_words * 4, 0);
    h[0] = static_cast<uint8_t>(0x40 | d.ihl.value_or(static_cast<uint8_t>(ihl_words)));
    const size_t tot = d.ipv4_tot_len.value_or(static_cast<uint16_t>(h.size() + l4_claim));
    h[2] = static_cast<uint8_t>(tot >> 8);
    h[3] = static_cast<uint8_t>(tot);
    h[6] = static_cast<uint8_t>(d.frag_off >> 8);
    h[7] = static_cast<uint8_t>(d.frag_off);
    h[8] = 64;
    h[9] = d.l4_proto;
    std::memcpy(&h[12], kSrc4, 4);
    std::memcpy(&h[16], kDst4, 4);
    for (size_t i = 20; i < h.size(); i++) h[i] = 1;  // NOP options
    append(f, h.data(), h.size());
  }
  const size_t ip_hlen = f.size() - ip_at;
  const size_t udp_at = f.size();
  f.resize(f.size() + 8);
  put16(f, udp_at, d.sport);
  put16(f, udp_at + 2, d.dport);
  put16(f, udp_at + 4, static_cast<uint16_t>(udp_claim));
  uint8_t bth[12] = {d.opcode, 0, 0xff, 0xff, 0, static_cast<uint8_t>(d.qpn >> 16),
                     static_cast<uint8_t>(d.qpn >> 8), static_cast<uint8_t>(d.qpn), 0,
                     static_cast<uint8_t>(d.psn >> 16), static_cast<uint8_t>(d.psn >> 8), static_cast<uint8_t>(d.psn)};
  append(f, bth, std::min<size_t>(bth_have, 12));
  if (d.claimed_bth) {
    f.resize(std::max<size_t>(f.size() + 8, 64), 0);  // Ethernet padding after the short datagram
  } else if (!d.bth_bytes) {  // a frame cut inside the BTH ends there
    for (size_t i = 0; i < d.payload; i++) f.push_back(static_cast<uint8_t>(i * 7));
  }
  set_checksums(f, d, ip_at, ip_hlen, udp_at);
  return cut(f, d);
}

std::array<uint8_t, 16> outer_dst(bool ipv6) {
  if (ipv6) return {0xfd, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12};
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 12};
}

std::vector<uint8_t> wrap_vxlan(const std::vector<uint8_t>& inner, const OuterDesc& o) {
  std::vector<uint8_t> f = {0x02, 0, 0, 0, 0xaa, 1, 0x02, 0, 0, 0, 0xaa, 2};
  if (o.vlan) {
    f.resize(f.size() + 4);
    put16(f, f.size() - 4, 0x8100);
    put16(f, f.size() - 2, 10);
  }
  f.resize(f.size() + 2);
  put16(f, f.size() - 2, o.ipv6 ? 0x86dd : 0x0800);
  const size_t udp_len = 8 + 8 + inner.size();
  const std::array<uint8_t, 16> dst = outer_dst(o.ipv6);
  if (o.ipv6) {
    uint8_t h[40] = {0x60};
    h[1] = static_cast<uint8_t>((o.ecn & 3) << 4);  // traffic class: its low 2 bits in byte 1's high nibble
    h[4] = static_cast<uint8_t>(udp_len >> 8);
    h[5] = static_cast<uint8_t>(udp_len);
    h[6] = o.proto;
    h[7] = 64;
    h[8] = 0xfd;
    h[9] = 0xaa;
    h[23] = 0x11;
    std::memcpy(h + 24, dst.data(), 16);
    append(f, h, sizeof(h));
  } else {
    uint8_t h[20] = {0x45};
    h[1] = o.ecn & 3;
    h[2] = static_cast<uint8_t>((20 + udp_len) >> 8);
    h[3] = static_cast<uint8_t>(20 + udp_len);
    h[8] = 64;
    h[9] = o.proto;
    const uint8_t src[4] = {10, 0, 0, 11};
    std::memcpy(h + 12, src, 4);
    std::memcpy(h + 16, dst.data() + 12, 4);
    append(f, h, sizeof(h));
  }
  const size_t udp_at = f.size();
  f.resize(f.size() + 16);
  put16(f, udp_at, o.sport);
  put16(f, udp_at + 2, o.dport);
  put16(f, udp_at + 4, static_cast<uint16_t>(udp_len));
  f[udp_at + 8] = o.group_policy_id ? 0x88 : 0x08;  // VXLAN flags: VNI valid (and GBP)
  put16(f, udp_at + 10, o.group_policy_id);
  f[udp_at + 12] = static_cast<uint8_t>(o.vni >> 16);
  f[udp_at + 13] = static_cast<uint8_t>(o.vni >> 8);
  f[udp_at + 14] = static_cast<uint8_t>(o.vni);
  f.insert(f.end(), inner.begin(), inner.end());
  const size_t ip_at = udp_at - (o.ipv6 ? 40 : 20);
  if (!o.ipv6) put16(f, ip_at + 10, fold(sum16(&f[ip_at], 20)));
  if (o.udp_csum) {
    const uint16_t c = fold(udp_sum(f, o.ipv6, ip_at, udp_at));
    put16(f, udp_at + 6, c ? c : 0xffff);
  }
  return f;
}

size_t outer_udp_offset(const OuterDesc& o) { return 14 + (o.vlan ? 4 : 0) + (o.ipv6 ? 40 : 20); }

std::optional<bool> outer_udp_csum_ok(const std::vector<uint8_t>& f, const OuterDesc& o) {
  const size_t udp_at = outer_udp_offset(o);
  if (get16(f, udp_at + 6) == 0) return std::nullopt;
  uint32_t sum = udp_sum(f, o.ipv6, udp_at - (o.ipv6 ? 40 : 20), udp_at);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

uint16_t qp_hash_port(const FrameDesc& d, uint16_t port_min, uint16_t port_count) {
  __u32 words[8];
  if (d.ipv6) {
    std::memcpy(words, kSrc6, 16);
    std::memcpy(words + 4, kDst6, 16);
  } else {
    std::memcpy(words, kSrc4, 4);
    std::memcpy(words + 1, kDst4, 4);
  }
  return qps_port_for_hash(qps_qp_hash(words, d.ipv6 ? 8 : 2, d.qpn), port_min, port_count);
}

}  // namespace qpspread::test
