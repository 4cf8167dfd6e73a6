#include "userspace/workload/raw_socket.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "loader/error.h"

namespace qpspread::workload {
namespace {

UniqueFd packet_socket(const std::string& ifname, int& ifindex) {
  ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (!ifindex) throw Error("no interface " + ifname + " in this network namespace");
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  if (!fd) throw Error(errno_text("AF_PACKET socket for " + ifname, errno));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0)
    throw Error(errno_text("bind AF_PACKET socket to " + ifname, errno));
  return fd;
}

// Classic BPF: accept untagged IPv4, UDP, first fragment, destination port `port`.
void attach_udp_port_filter(int fd, uint16_t port, const std::string& ifname) {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),                 // ethertype
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, 8),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),                 // IP protocol
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 6),
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),                 // fragment offset
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),
      BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),                // X = IP header length
      BPF_STMT(BPF_LD | BPF_H | BPF_IND, 16),                 // UDP destination port
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0x40000),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0)
    throw Error(errno_text("socket filter on " + ifname, errno));
}

}  // namespace

RawSender::RawSender(const std::string& ifname) : ifname_(ifname), fd_(packet_socket(ifname, ifindex_)) {}

void RawSender::send(std::span<const uint8_t> frame) {
  for (;;) {
    const ssize_t n = ::send(fd_.get(), frame.data(), frame.size(), 0);
    if (n == static_cast<ssize_t>(frame.size())) return;
    if (n < 0 && errno == ENOBUFS) continue;  // the device queue is full for a moment
    throw Error(errno_text("send on " + ifname_, errno));
  }
}

FrameCapture::FrameCapture(const std::string& ifname, Direction dir, uint16_t udp_dport)
    : ifname_(ifname), dir_(dir) {
  int ifindex = 0;
  fd_ = packet_socket(ifname, ifindex);
  if (udp_dport) {
    attach_udp_port_filter(fd_.get(), udp_dport, ifname);
    // Frames queued between socket() and the filter are dropped so the filter holds for all.
    char sink[1];
    while (::recv(fd_.get(), sink, sizeof(sink), MSG_DONTWAIT) >= 0) {
    }
  }
  const int rcvbuf = 32 << 20;
  // SO_RCVBUFFORCE ignores rmem_max (we are root); fall back to what is allowed.
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
}

std::vector<std::vector<uint8_t>> FrameCapture::drain(std::chrono::milliseconds quiet,
                                                       std::chrono::milliseconds max_wait) {
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> buf(65536);
  pollfd p{fd_.get(), POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  while (std::chrono::steady_clock::now() < deadline && ::poll(&p, 1, static_cast<int>(quiet.count())) > 0) {
    sockaddr_ll from{};
    socklen_t len = sizeof(from);
    const ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throw Error(errno_text("capture on " + ifname_, errno));
    }
    const bool outgoing = from.sll_pkttype == PACKET_OUTGOING;
    if ((dir_ == Direction::Incoming && outgoing) || (dir_ == Direction::Outgoing && !outgoing)) continue;
    out.emplace_back(buf.begin(), buf.begin() + n);
  }
  return out;
}

}  // namespace qpspread::workload
