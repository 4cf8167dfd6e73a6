// ECN across a VXLAN tunnel configured as the generated labs configure theirs (`tos inherit`):
// the encapsulation copies the inner ECN field into the outer header, so a WAN queue can mark
// RoCE frames; the decapsulation copies an outer CE into an ECN-capable inner header (RFC 6040),
// keeps ECT as it is, and drops a Not-ECT inner packet whose outer header says CE. Two namespaces,
// one veth underlay, a VXLAN device each; the CE is put on the outer header by a crafted VXLAN
// datagram (IP_TOS 3) and read on the inner one with IP_RECVTOS.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/netns.h"
#include "common/unique_fd.h"
#include "tests/support/test_util.h"

namespace qpspread::test {
namespace {

constexpr uint16_t kInnerPort = 5001;

UniqueFd udp_in(const std::string& ns, const char* ip, uint16_t port, int tos = 0) {
  UniqueFd fd;
  Netns::open(ns).run([&] {
    fd.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) throw Error(errno_text("socket", errno));
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_IP, IP_RECVTOS, &one, sizeof one);
    if (tos) ::setsockopt(fd.get(), IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    const timeval tv{0, 300000};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = inet_addr(ip);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) throw Error(errno_text("bind", errno));
  });
  return fd;
}

void send_to(int fd, const char* ip, uint16_t port, const std::vector<uint8_t>& data) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = inet_addr(ip);
  ASSERT_EQ(::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa),
            static_cast<ssize_t>(data.size()));
}

// The ToS byte of the next datagram on fd, nullopt when none comes within 300 ms.
std::optional<int> received_tos(int fd) {
  uint8_t buf[2048];
  char ctrl[64];
  iovec iov{buf, sizeof buf};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl;
  m.msg_controllen = sizeof ctrl;
  if (::recvmsg(fd, &m, 0) < 0) return std::nullopt;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) return *CMSG_DATA(c);
  return -1;
}

std::array<uint8_t, 6> mac_of(const ScopedNetns& ns, const std::string& dev) {
  const auto j = nlohmann::json::parse(ns.ip({"-j", "link", "show", "dev", dev}));
  std::array<uint8_t, 6> mac{};
  unsigned b[6];
  std::sscanf(j[0]["address"].get<std::string>().c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]);
  for (int i = 0; i < 6; i++) mac[static_cast<size_t>(i)] = static_cast<uint8_t>(b[i]);
  return mac;
}

class VxlanEcn : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces)";
    a_ = std::make_unique<ScopedNetns>("qps-ecn-a");
    b_ = std::make_unique<ScopedNetns>("qps-ecn-b");
    a_->ip({"link", "add", "u0", "type", "veth", "peer", "name", "u1", "netns", b_->name()});
    for (const auto& [ns, dev, under, over, remote] :
         {std::tuple{a_.get(), "u0", "10.98.0.1", "192.168.98.1", "10.98.0.2"},
          std::tuple{b_.get(), "u1", "10.98.0.2", "192.168.98.2", "10.98.0.1"}}) {
      ns->ip({"addr", "add", std::string(under) + "/24", "dev", dev});
      ns->ip({"link", "set", dev, "up"});
      // As the lab's leaves create theirs (userspace/labgen/clab_writer.cpp), with a static remote.
      ns->ip({"link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789", "local", under, "remote", remote,
              "nolearning", "tos", "inherit"});
      ns->ip({"addr", "add", std::string(over) + "/24", "dev", "vx0"});
      ns->ip({"link", "set", "vx0", "up"});
    }
    a_->ip({"neigh", "add", "192.168.98.2", "lladdr", nlohmann::json::parse(b_->ip({"-j", "link", "show", "dev", "vx0"}))[0]["address"], "dev", "vx0"});
  }

  // A VXLAN datagram from A's underlay to B's VTEP with the outer ToS `outer_tos`, carrying an
  // inner IPv4/UDP packet to B's overlay address with the inner ToS `inner_tos`.
  void send_crafted(int outer_tos, uint8_t inner_tos) {
    const UniqueFd fd = udp_in(a_->name(), "10.98.0.1", 0, outer_tos);
    std::vector<uint8_t> p = {0x08, 0, 0, 0, 0, 0, 42, 0};  // VXLAN: I flag, VNI 42
    const auto dst = mac_of(*b_, "vx0"), src = mac_of(*a_, "vx0");
    p.insert(p.end(), dst.begin(), dst.end());
    p.insert(p.end(), src.begin(), src.end());
    p.insert(p.end(), {0x08, 0x00});
    std::vector<uint8_t> ip = {0x45, inner_tos, 0, 20 + 8 + 4, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 168, 98, 1, 192, 168, 98, 2};
    uint32_t sum = 0;
    for (size_t i = 0; i < ip.size(); i += 2) sum += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = static_cast<uint8_t>(~sum >> 8);
    ip[11] = static_cast<uint8_t>(~sum);
    p.insert(p.end(), ip.begin(), ip.end());
    p.insert(p.end(), {0x15, 0xb3, kInnerPort >> 8, kInnerPort & 0xff, 0, 12, 0, 0, 'e', 'c', 'n', '!'});
    send_to(fd.get(), "10.98.0.2", 4789, p);
  }

  std::unique_ptr<ScopedNetns> a_, b_;
};

TEST_F(VxlanEcn, DecapsulationCopiesCeIntoAnEcnCapableInnerHeader) {
  const UniqueFd rx = udp_in(b_->name(), "192.168.98.2", kInnerPort);
  send_crafted(0x03, 0x02);  // outer CE, inner ECT(0)
  EXPECT_EQ(received_tos(rx.get()), 0x03) << "RFC 6040: CE copied inward";
  send_crafted(0x02, 0x02);  // outer ECT(0), inner ECT(0)
  EXPECT_EQ(received_tos(rx.get()), 0x02) << "nothing marked: unchanged";
  send_crafted(0x03, 0xb8 | 0x02);  // DSCP kept, CE copied
  EXPECT_EQ(received_tos(rx.get()), 0xbb);
  send_crafted(0x03, 0x00);  // outer CE, inner Not-ECT: dropped (the inner end could not see it)
  EXPECT_EQ(received_tos(rx.get()), std::nullopt);
}

// The outer header of a frame A's VXLAN device sends carries its inner ECN (tos inherit); read
// from the underlay on B.
TEST_F(VxlanEcn, EncapsulationCarriesTheInnerEcnOut) {
  UniqueFd cap;
  Netns::open(b_->name()).run([&] {
    cap.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP)));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_IP);
    sll.sll_ifindex = static_cast<int>(::if_nametoindex("u1"));
    ::bind(cap.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll);
    const timeval tv{0, 300000};
    ::setsockopt(cap.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  });
  const UniqueFd tx = udp_in(a_->name(), "192.168.98.1", 5002, 0x02);  // sends ECT(0)
  send_to(tx.get(), "192.168.98.2", kInnerPort, {'h', 'i'});
  std::optional<int> outer_ecn;
  uint8_t f[2048];
  for (int i = 0; i < 20 && !outer_ecn; i++) {
    const ssize_t n = ::recv(cap.get(), f, sizeof f, 0);
    if (n < 0) break;
    // outer Ethernet 14, IPv4 20, UDP 8 (to 4789), VXLAN 8, inner Ethernet 14, inner IPv4
    if (n < 14 + 20 + 8 + 8 + 14 + 20 || f[14 + 9] != 17 || (f[14 + 20 + 2] << 8 | f[14 + 20 + 3]) != 4789) continue;
    const uint8_t* inner = f + 14 + 20 + 8 + 8 + 14;
    if (inner[9] == 17 && inner[19] == 2) outer_ecn = f[14 + 1] & 3;  // to 192.168.98.2, UDP
  }
  ASSERT_TRUE(outer_ecn) << "no VXLAN frame of the datagram seen on B's underlay";
  EXPECT_EQ(*outer_ecn, 0x02) << "tos inherit: ECT(0) outside as inside";
}

}  // namespace
}  // namespace qpspread::test
