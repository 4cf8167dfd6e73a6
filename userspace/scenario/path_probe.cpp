#include "userspace/scenario/path_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "common/unique_fd.h"
#include "loader/attach.h"
#include "qpspread/abi.h"
#include "userspace/workload/roce_frame.h"

namespace qpspread::scenario {
namespace {

// UDP header (checksum left 0 for IPv4: none; IPv6: the kernel fills it) / VXLAN / inner frame.
std::vector<uint8_t> probe_payload(uint16_t sport, uint16_t dport, uint32_t qpn) {
  workload::RoceFrameSpec spec;
  spec.src_mac = {0x02, 0, 0, 0, 0, 1};
  spec.dst_mac = {0x02, 0, 0, 0, 0, 2};
  spec.src_ip = 0xc0000201;  // 192.0.2.1 and .2 (TEST-NET-1): addresses of no host
  spec.dst_ip = 0xc0000202;
  spec.dest_qp = qpn;
  spec.payload_len = 0;
  const std::vector<uint8_t> inner = workload::build_rocev2_frame(spec);
  std::vector<uint8_t> out(16 + inner.size(), 0);
  const uint16_t len = htons(static_cast<uint16_t>(out.size()));
  const uint16_t sp = htons(sport), dp = htons(dport);
  std::memcpy(&out[0], &sp, 2);
  std::memcpy(&out[2], &dp, 2);
  std::memcpy(&out[4], &len, 2);
  out[8] = 0x08;  // VXLAN: I flag
  const uint32_t vni = htonl(QPS_PROBE_VNI << 8);
  std::memcpy(&out[12], &vni, 4);
  std::memcpy(&out[16], inner.data(), inner.size());
  return out;
}

}  // namespace

uint32_t probe_qpn(uint32_t tag, uint16_t port) { return (tag & 0xff) << 16 | port; }

void send_probes(const ProbeBatch& b) {
  sockaddr_storage local{}, remote{};
  socklen_t len = 0;
  int family = AF_INET;
  auto* l4 = reinterpret_cast<sockaddr_in*>(&local);
  auto* r4 = reinterpret_cast<sockaddr_in*>(&remote);
  auto* l6 = reinterpret_cast<sockaddr_in6*>(&local);
  auto* r6 = reinterpret_cast<sockaddr_in6*>(&remote);
  if (::inet_pton(AF_INET, b.local.c_str(), &l4->sin_addr) == 1 && ::inet_pton(AF_INET, b.remote.c_str(), &r4->sin_addr) == 1) {
    l4->sin_family = r4->sin_family = AF_INET;
    len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, b.local.c_str(), &l6->sin6_addr) == 1 &&
             ::inet_pton(AF_INET6, b.remote.c_str(), &r6->sin6_addr) == 1) {
    family = l6->sin6_family = r6->sin6_family = AF_INET6;
    len = sizeof(sockaddr_in6);
  } else {
    throw Error("probes: " + b.local + " and " + b.remote + " are not two addresses of one family");
  }
  UniqueFd fd(::socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd) throw Error(errno_text("probes: cannot open a raw socket", errno) + " (run as root)");
  if (family == AF_INET6) {
    int offset = 6;  // the UDP checksum: IPv6 requires one
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof(offset));
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), len) != 0)
    throw Error(errno_text("probes: cannot send from " + b.local, errno));
  for (uint16_t port : b.ports) {
    const std::vector<uint8_t> p = probe_payload(port, b.dstport, probe_qpn(b.tag, port));
    if (::sendto(fd.get(), p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&remote), len) < 0)
      throw Error(errno_text("probes: cannot send to " + b.remote, errno));
  }
}

std::map<uint16_t, std::string> read_probes(const Netns& router, const ProbeBatch& b, int wait_ms) {
  uint8_t remote[16] = {};
  uint8_t raw[16] = {};
  if (::inet_pton(AF_INET, b.remote.c_str(), raw) == 1) {
    remote[10] = remote[11] = 0xff;
    std::memcpy(remote + 12, raw, 4);
  } else {
    ::inet_pton(AF_INET6, b.remote.c_str(), remote);
  }
  std::map<uint16_t, std::string> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    const PathReport pr = path_report(router);
    for (uint16_t port : b.ports) {
      auto it = pr.qp_paths.find(qps_qp_key{QPS_PROBE_VNI, probe_qpn(b.tag, port)});
      if (it == pr.qp_paths.end() || it->second.sport != port || std::memcmp(it->second.remote, remote, 16) != 0) continue;
      auto name = pr.ifnames.find(it->second.ifindex);
      if (name != pr.ifnames.end()) out[port] = name->second;
    }
    if (out.size() == b.ports.size() || std::chrono::steady_clock::now() >= deadline) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace qpspread::scenario
