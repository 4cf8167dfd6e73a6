#include "userspace/workload/roce_frame.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/error.h"

namespace qpspread::workload {
namespace {

constexpr size_t kEth = 14, kIp = 20, kUdp = 8, kVxlan = 8;
constexpr uint16_t kEthIpv4 = 0x0800, kEthVlan = 0x8100;
constexpr uint8_t kIpProtoUdp = 17;

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

// One's-complement sum of big-endian 16-bit words (RFC 1071), folded and complemented by fold().
uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += get16(p + i);
  if (n & 1) acc += static_cast<uint32_t>(p[n - 1]) << 8;
  return acc;
}
uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

// Table-driven CRC32 (IEEE 802.3, reflected, one byte per step): a transport rebuilds every frame
// it sends or retransmits, so the CRC runs at line rate (the bitwise loop managed ~250 000 frames
// per second per core, below the workload generator's goal).
struct Crc32Table {
  uint32_t t[256];
  constexpr Crc32Table() : t{} {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int b = 0; b < 8; b++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
      t[i] = c;
    }
  }
};
constexpr Crc32Table kCrcTable;

uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) crc = kCrcTable.t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

// Offset of the IPv4 header after Ethernet and an optional 802.1Q tag, or 0 when there is none.
size_t ipv4_offset(std::span<const uint8_t> f) {
  if (f.size() < kEth) return 0;
  size_t off = 12;
  uint16_t type = get16(&f[off]);
  if (type == kEthVlan) {
    if (f.size() < kEth + 4) return 0;
    off += 4;
    type = get16(&f[off]);
  }
  return type == kEthIpv4 ? off + 2 : 0;
}

// Offset of the UDP header of an unfragmented IPv4/UDP frame whose destination port is `dport`
// and whose UDP header plus `need` more bytes are present, or 0.
size_t udp_offset(std::span<const uint8_t> f, uint16_t dport, size_t need) {
  const size_t ipo = ipv4_offset(f);
  if (!ipo || f.size() < ipo + kIp) return 0;
  const uint8_t* ip = &f[ipo];
  const size_t ihl = (ip[0] & 0x0f) * 4u;
  // Only a first fragment without "more fragments" holds the whole datagram: parsing later
  // fragments would read payload bytes as headers.
  if ((ip[0] >> 4) != 4 || ihl < kIp || ip[9] != kIpProtoUdp || (get16(ip + 6) & 0x3fff) != 0)
    return 0;
  const size_t udpo = ipo + ihl;
  if (f.size() < udpo + kUdp + need || get16(&f[udpo + 2]) != dport) return 0;
  return udpo;
}

void fill_payload(uint8_t* p, const RoceFrameSpec& s) {
  if (s.payload_data) {
    std::memcpy(p, s.payload_data, s.payload_len);
    return;
  }
  const uint32_t qp = s.dest_qp & 0xffffff, psn = s.psn & 0xffffff;
  uint8_t head[8];
  put32(head, qp);
  put32(head + 4, psn);
  for (size_t i = 0; i < s.payload_len; i++)
    p[i] = i < sizeof(head) ? head[i] : static_cast<uint8_t>(i + qp * 7 + psn * 13);
}

void write_ipv4_udp(uint8_t* ip, const RoceFrameSpec& s, size_t udp_len) {
  ip[0] = 0x45;
  ip[1] = static_cast<uint8_t>((s.dscp & 0x3f) << 2 | (s.ecn & 3));
  put16(ip + 2, static_cast<uint16_t>(kIp + udp_len));
  put16(ip + 6, 0x4000);  // DF, as RoCEv2 NICs send: RDMA never relies on fragmentation
  ip[8] = 64;
  ip[9] = kIpProtoUdp;
  put32(ip + 12, s.src_ip);
  put32(ip + 16, s.dst_ip);
  put16(ip + 10, fold(sum16(ip, kIp, 0)));
  uint8_t* udp = ip + kIp;
  put16(udp, s.src_port);
  put16(udp + 2, kRoceV2Port);
  put16(udp + 4, static_cast<uint16_t>(udp_len));
}

}  // namespace

uint32_t rocev2_icrc(std::span<const uint8_t> l3) {
  if (l3.size() < kIp || l3.size() < (l3[0] & 0x0fu) * 4u + kUdp + kBthLen || (l3[0] & 0x0f) < 5)
    throw Error("RoCEv2 ICRC: " + std::to_string(l3.size()) +
                " bytes cannot hold IPv4, UDP and a BTH");
  const size_t ihl = (l3[0] & 0x0f) * 4u;
  // Fields routers may change on the way are masked so the ICRC survives forwarding: IPv4 TOS
  // (DSCP/ECN), TTL and header checksum, the UDP checksum, BTH FECN/BECN/resv6. The headers are
  // masked in a small copy; the payload, most of the bytes, is read in place.
  uint8_t head[60 + kUdp + kBthLen];
  const size_t head_len = ihl + kUdp + kBthLen;
  std::memcpy(head, l3.data(), head_len);
  head[1] = 0xff;
  head[8] = 0xff;
  head[10] = head[11] = 0xff;
  head[ihl + 6] = head[ihl + 7] = 0xff;
  head[ihl + kUdp + 4] = 0xff;
  const uint8_t lrh[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  uint32_t crc = crc32_update(0xffffffffu, lrh, sizeof(lrh));
  crc = crc32_update(crc, head, head_len);
  crc = crc32_update(crc, l3.data() + head_len, l3.size() - head_len);
  return ~crc;
}

std::vector<uint8_t> build_rocev2_frame(const RoceFrameSpec& s) {
  std::vector<uint8_t> f;
  build_rocev2_frame_into(s, f);
  return f;
}

void build_rocev2_frame_into(const RoceFrameSpec& s, std::vector<uint8_t>& f) {
  const size_t pad = (4 - s.payload_len % 4) % 4;
  const size_t udp_len = kUdp + kBthLen + s.payload_len + pad + kIcrcLen;
  if (s.payload_len > 65535 || kIp + udp_len > 65535)
    throw Error("RoCEv2 payload of " + std::to_string(s.payload_len) +
                " bytes does not fit in one IPv4 packet");
  f.assign(kEth + kIp + udp_len, 0);
  std::memcpy(&f[0], s.dst_mac.data(), 6);
  std::memcpy(&f[6], s.src_mac.data(), 6);
  put16(&f[12], kEthIpv4);
  uint8_t* ip = &f[kEth];
  write_ipv4_udp(ip, s, udp_len);
  uint8_t* udp = ip + kIp;
  uint8_t* bth = udp + kUdp;
  bth[0] = s.opcode;
  bth[1] = static_cast<uint8_t>(pad << 4);  // SE=0, MigReq=0, PadCnt, TVer=0
  put16(bth + 2, 0xffff);                   // default P_Key
  bth[4] = s.becn ? 0x40 : 0;               // FECN 0x80, BECN 0x40, resv6
  put24(bth + 5, s.dest_qp & 0xffffff);
  bth[8] = s.ack_req ? 0x80 : 0;
  put24(bth + 9, s.psn & 0xffffff);
  uint8_t* payload = bth + kBthLen;
  fill_payload(payload, s);
  const size_t icrc_at = s.payload_len + pad;
  const uint32_t icrc = rocev2_icrc({ip, kIp + kUdp + kBthLen + icrc_at});
  // Least significant byte first, like the Ethernet FCS (and rxe on x86, and ConnectX NICs).
  for (int i = 0; i < 4; i++) payload[icrc_at + i] = static_cast<uint8_t>(icrc >> (8 * i));
  // The UDP checksum covers the ICRC, so it is computed last.
  const uint32_t pseudo = sum16(ip + 12, 8, 0) + kIpProtoUdp + static_cast<uint32_t>(udp_len);
  const uint16_t csum = fold(sum16(udp, udp_len, pseudo));
  put16(udp + 6, csum ? csum : 0xffff);  // 0 would mean "no checksum" (RFC 768)
}

std::optional<std::pair<uint32_t, uint32_t>> parse_rocev2_qp_psn(std::span<const uint8_t> f) {
  const size_t udpo = udp_offset(f, kRoceV2Port, kBthLen);
  if (!udpo) return std::nullopt;
  const uint8_t* bth = &f[udpo + kUdp];
  return std::make_pair(get24(bth + 5), get24(bth + 9));
}

std::optional<RoceView> parse_rocev2(std::span<const uint8_t> f) {
  const size_t udpo = udp_offset(f, kRoceV2Port, kBthLen + kIcrcLen);
  if (!udpo) return std::nullopt;
  const size_t ipo = ipv4_offset(f);
  // The UDP length, not the frame's, ends the packet: short frames carry Ethernet padding.
  const size_t udp_len = get16(&f[udpo + 4]);
  if (udp_len < kUdp + kBthLen + kIcrcLen || udpo + udp_len > f.size()) return std::nullopt;
  const uint8_t* bth = &f[udpo + kUdp];
  const size_t pad = (bth[1] >> 4) & 3;
  const size_t body = udp_len - kUdp - kBthLen - kIcrcLen;
  if (pad > body) return std::nullopt;
  RoceView v;
  v.src_ip = get32(&f[ipo + 12]);
  v.dst_ip = get32(&f[ipo + 16]);
  v.src_port = get16(&f[udpo]);
  v.opcode = bth[0];
  v.ack_req = (bth[8] & 0x80) != 0;
  v.ecn = f[ipo + 1] & 3;
  v.becn = (bth[4] & 0x40) != 0;
  v.dest_qp = get24(bth + 5);
  v.psn = get24(bth + 9);
  v.payload = f.subspan(udpo + kUdp + kBthLen, body - pad);
  const size_t icrc_at = udpo + udp_len - kIcrcLen;
  uint32_t wire = 0;
  for (int i = 0; i < 4; i++) wire |= static_cast<uint32_t>(f[icrc_at + i]) << (8 * i);
  v.icrc_ok = wire == rocev2_icrc(f.subspan(ipo, icrc_at - ipo));
  return v;
}

std::optional<ParsedVxlanRoce> parse_vxlan_frame(std::span<const uint8_t> f, uint16_t vxlan_port) {
  const size_t udpo = udp_offset(f, vxlan_port, kVxlan);
  // RFC 7348: the I flag says the VNI is valid; without it this is not VXLAN as Linux sends it.
  if (!udpo || !(f[udpo + kUdp] & 0x08)) return std::nullopt;
  const size_t ipo = ipv4_offset(f);
  ParsedVxlanRoce p;
  p.outer_src = get32(&f[ipo + 12]);
  p.outer_dst = get32(&f[ipo + 16]);
  p.outer_sport = get16(&f[udpo]);
  p.outer_dport = get16(&f[udpo + 2]);
  p.vni = get24(&f[udpo + kUdp + 4]);
  // Stop at the IPv4 total length: short frames carry Ethernet padding that is not inner data.
  const size_t ip_end = std::min(f.size(), ipo + get16(&f[ipo + 2]));
  const size_t inner_at = udpo + kUdp + kVxlan;
  if (ip_end > inner_at)
    p.inner_frame.assign(f.begin() + static_cast<std::ptrdiff_t>(inner_at),
                         f.begin() + static_cast<std::ptrdiff_t>(ip_end));
  if (auto qp = parse_rocev2_qp_psn(p.inner_frame)) {
    p.inner_is_roce = true;
    p.dest_qp = qp->first;
    p.psn = qp->second;
  }
  return p;
}

}  // namespace qpspread::workload
