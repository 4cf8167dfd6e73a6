#include "userspace/workload/roce_frame.h"

#include <cstring>

namespace qpspread::workload {
namespace {

constexpr size_t kEth = 14, kIp = 20, kUdp = 8, kBth = 12, kIcrc = 4;
constexpr uint16_t kRoceV2Port = 4791;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put24(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 16);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get24(const uint8_t* p) { return static_cast<uint32_t>(p[0] << 16 | p[1] << 8 | p[2]); }
uint32_t get32(const uint8_t* p) { return static_cast<uint32_t>(get16(p)) << 16 | get16(p + 2); }

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += get16(p + i);
  if (n & 1) acc += static_cast<uint32_t>(p[n - 1]) << 8;
  return acc;
}
uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int b = 0; b < 8; b++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return crc;
}

// Offset of the IPv4 header after Ethernet and an optional 802.1Q tag, or 0.
size_t ipv4_offset(std::span<const uint8_t> f) {
  if (f.size() < kEth) return 0;
  size_t off = 12;
  uint16_t type = get16(&f[off]);
  if (type == 0x8100) {
    if (f.size() < kEth + 4) return 0;
    off += 4;
    type = get16(&f[off]);
  }
  return type == 0x0800 ? off + 2 : 0;
}

}  // namespace

uint32_t rocev2_icrc(std::span<const uint8_t> l3) {
  std::vector<uint8_t> masked(l3.begin(), l3.end());
  const size_t ihl = (masked[0] & 0x0f) * 4u;
  masked[1] = 0xff;                     // TOS
  masked[8] = 0xff;                     // TTL
  masked[10] = masked[11] = 0xff;       // header checksum
  masked[ihl + 6] = masked[ihl + 7] = 0xff;  // UDP checksum
  masked[ihl + kUdp + 4] = 0xff;        // BTH resv8a
  const uint8_t lrh[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  uint32_t crc = crc32_update(0xffffffffu, lrh, sizeof(lrh));
  crc = crc32_update(crc, masked.data(), masked.size());
  return ~crc;
}

std::vector<uint8_t> build_rocev2_frame(const RoceFrameSpec& s) {
  const size_t udp_len = kUdp + kBth + s.payload_len + kIcrc;
  std::vector<uint8_t> f(kEth + kIp + udp_len, 0);
  std::memcpy(&f[0], s.dst_mac.data(), 6);
  std::memcpy(&f[6], s.src_mac.data(), 6);
  put16(&f[12], 0x0800);
  uint8_t* ip = &f[kEth];
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(kIp + udp_len));
  put16(ip + 6, 0x4000);  // DF, as RoCEv2 NICs send
  ip[8] = 64;
  ip[9] = 17;
  put32(ip + 12, s.src_ip);
  put32(ip + 16, s.dst_ip);
  put16(ip + 10, fold(sum16(ip, kIp, 0)));
  uint8_t* udp = ip + kIp;
  put16(udp, s.src_port);
  put16(udp + 2, kRoceV2Port);
  put16(udp + 4, static_cast<uint16_t>(udp_len));
  uint8_t* bth = udp + kUdp;
  bth[0] = s.opcode;
  put16(bth + 2, 0xffff);  // default P_Key
  put24(bth + 5, s.dest_qp & 0xffffff);
  bth[8] = s.ack_req ? 0x80 : 0;
  put24(bth + 9, s.psn & 0xffffff);
  uint8_t* payload = bth + kBth;
  for (size_t i = 0; i < s.payload_len; i++)
    payload[i] = static_cast<uint8_t>(i ^ s.dest_qp ^ (s.psn << 3));
  const uint32_t icrc = rocev2_icrc({ip, kIp + kUdp + kBth + s.payload_len});
  // The ICRC goes on the wire least significant byte first, like the Ethernet FCS.
  for (int i = 0; i < 4; i++) payload[s.payload_len + i] = static_cast<uint8_t>(icrc >> (8 * i));
  // UDP checksum over the pseudo-header and the whole datagram.
  uint32_t acc = sum16(ip + 12, 8, 0) + 17 + static_cast<uint32_t>(udp_len);
  uint16_t csum = fold(sum16(udp, udp_len, acc));
  put16(udp + 6, csum ? csum : 0xffff);
  return f;
}

std::optional<std::pair<uint32_t, uint32_t>> parse_rocev2_qp_psn(std::span<const uint8_t> f) {
  const size_t ipo = ipv4_offset(f);
  if (!ipo || f.size() < ipo + kIp || f[ipo + 9] != 17) return std::nullopt;
  const size_t udpo = ipo + (f[ipo] & 0x0f) * 4u;
  if (f.size() < udpo + kUdp + kBth || get16(&f[udpo + 2]) != kRoceV2Port) return std::nullopt;
  const uint8_t* bth = &f[udpo + kUdp];
  return std::make_pair(get24(bth + 5), get24(bth + 9));
}

std::optional<ParsedVxlanRoce> parse_vxlan_frame(std::span<const uint8_t> f, uint16_t vxlan_port) {
  const size_t ipo = ipv4_offset(f);
  if (!ipo || f.size() < ipo + kIp || f[ipo + 9] != 17) return std::nullopt;
  const size_t udpo = ipo + (f[ipo] & 0x0f) * 4u;
  if (f.size() < udpo + kUdp + 8 || get16(&f[udpo + 2]) != vxlan_port) return std::nullopt;
  ParsedVxlanRoce p;
  p.outer_src = get32(&f[ipo + 12]);
  p.outer_dst = get32(&f[ipo + 16]);
  p.outer_sport = get16(&f[udpo]);
  p.outer_dport = get16(&f[udpo + 2]);
  p.vni = get24(&f[udpo + kUdp + 4]);
  p.inner_frame.assign(f.begin() + static_cast<std::ptrdiff_t>(udpo + kUdp + 8), f.end());
  if (auto qp = parse_rocev2_qp_psn(p.inner_frame)) {
    p.inner_is_roce = true;
    p.dest_qp = qp->first;
    p.psn = qp->second;
  }
  return p;
}

}  // namespace qpspread::workload
