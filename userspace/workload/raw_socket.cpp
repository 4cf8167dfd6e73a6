#include "userspace/workload/raw_socket.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "common/error.h"

namespace qpspread::workload {
namespace {

// Protocol 0 at socket() time: the socket receives nothing until bind() names a protocol, so
// options and filters can be set first and no frame of another interface is queued meanwhile.
UniqueFd packet_socket(const std::string& ifname) {
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!fd)
    throw Error(errno_text("AF_PACKET socket for " + ifname, errno) +
                (errno == EPERM ? " (needs CAP_NET_RAW: run as root)" : ""));
  return fd;
}

void bind_to(int fd, const std::string& ifname, uint16_t protocol) {
  const unsigned ifindex = if_nametoindex(ifname.c_str());
  if (!ifindex)
    throw Error("no interface '" + ifname + "' in this network namespace (create the socket "
                "inside Netns::run of the namespace that holds it)");
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(protocol);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0)
    throw Error(errno_text("bind AF_PACKET socket to " + ifname, errno));
}

// Classic BPF: keep frames of the wanted direction and, when port != 0, untagged IPv4 UDP first
// fragments to that destination port. Kernel-side so unwanted frames cost no buffer space.
std::vector<sock_filter> capture_filter(FrameCapture::Direction dir, uint16_t port) {
  std::vector<sock_filter> prog;
  if (dir != FrameCapture::Direction::Both) {
    const bool in = dir == FrameCapture::Direction::Incoming;
    // SKF_AD_OFF is negative: the ancillary load reads skb->pkt_type, not packet bytes.
    const auto pkttype = static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PKTTYPE);
    const uint8_t to_reject = 0, past_reject = 1;
    prog.push_back(sock_filter{BPF_LD | BPF_B | BPF_ABS, 0, 0, pkttype});
    // Incoming: an outgoing frame takes the reject below. Outgoing: any other frame does.
    prog.push_back(sock_filter{BPF_JMP | BPF_JEQ | BPF_K, in ? to_reject : past_reject,
                               in ? past_reject : to_reject, PACKET_OUTGOING});
    prog.push_back(sock_filter{BPF_RET | BPF_K, 0, 0, 0});
  }
  if (!port) {
    prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0x40000));  // accept, up to 256 KiB
    return prog;
  }
  // Jump offsets count forward to the last two instructions: accept, then reject.
  const sock_filter udp[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),  // ethertype
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 8),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),  // IP protocol
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),  // fragment offset
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),
      BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),  // X = IP header length
      BPF_STMT(BPF_LD | BPF_H | BPF_IND, 16),   // UDP destination port
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0x40000),  // accept, up to 256 KiB
      BPF_STMT(BPF_RET | BPF_K, 0),        // reject
  };
  for (const sock_filter& ins : udp) prog.push_back(ins);
  return prog;
}

void attach_filter(int fd, std::vector<sock_filter> prog, const std::string& ifname) {
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) != 0)
    throw Error(errno_text("socket filter for capture on " + ifname, errno));
}

}  // namespace

RawSender::RawSender(const std::string& ifname) : ifname_(ifname), fd_(packet_socket(ifname)) {
  // Protocol 0: bound for sending only. The kernel takes skb->protocol from the frame's own
  // ethertype (packet_parse_headers), so programs on the device see a normal IPv4 frame.
  bind_to(fd_.get(), ifname, 0);
}

void RawSender::send(std::span<const uint8_t> frame) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    const ssize_t n = ::send(fd_.get(), frame.data(), frame.size(), 0);
    if (n == static_cast<ssize_t>(frame.size())) return;
    if (n >= 0) throw Error("short send on " + ifname_ + ": " + std::to_string(n) + " of " +
                            std::to_string(frame.size()) + " bytes");
    wait_for_room(errno, frame.size(), deadline);
  }
}

void RawSender::wait_for_room(int err, size_t bytes, std::chrono::steady_clock::time_point deadline) {
  if (err == EINTR) return;
  // A full device queue or socket send buffer clears as the queue drains: wait a little.
  if ((err == ENOBUFS || err == EAGAIN) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_.get(), POLLOUT, 0};
    ::poll(&p, 1, 1);
    return;
  }
  throw Error(errno_text("send of a " + std::to_string(bytes) + "-byte frame on " + ifname_, err));
}

void RawSender::send_batch(std::span<const std::span<const uint8_t>> frames) {
  constexpr size_t kMax = 64;
  iovec iov[kMax];
  mmsghdr msgs[kMax];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  size_t done = 0;
  while (done < frames.size()) {
    const size_t n = std::min(kMax, frames.size() - done);
    for (size_t i = 0; i < n; i++) {
      iov[i] = {const_cast<uint8_t*>(frames[done + i].data()), frames[done + i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(fd_.get(), msgs, static_cast<unsigned>(n), 0);
    if (sent > 0) {
      done += static_cast<size_t>(sent);
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      continue;
    }
    wait_for_room(sent < 0 ? errno : EAGAIN, frames[done].size(), deadline);
  }
}

FrameCapture::FrameCapture(const std::string& ifname, Direction dir, uint16_t udp_dport)
    : ifname_(ifname), dir_(dir), fd_(packet_socket(ifname)) {
  const int rcvbuf = 32 << 20;
  // SO_RCVBUFFORCE ignores net.core.rmem_max (needs CAP_NET_ADMIN); else take what is allowed.
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (dir == Direction::Incoming) {
    // Saves the kernel a clone per sent frame; the filter below decides anyway if unsupported.
    const int one = 1;
    ::setsockopt(fd_.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
  }
  attach_filter(fd_.get(), capture_filter(dir, udp_dport), ifname);
  bind_to(fd_.get(), ifname, ETH_P_ALL);  // capture starts here, already filtered
}

std::vector<std::vector<uint8_t>> FrameCapture::drain(std::chrono::milliseconds quiet,
                                                       std::chrono::milliseconds max_wait) {
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> buf(0x40000);  // the filter's snap length
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(quiet.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw Error(errno_text("poll capture on " + ifname_, errno));
    if (ready == 0) break;  // quiet for long enough: the burst is over
    sockaddr_ll from{};
    socklen_t len = sizeof(from);
    const ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throw Error(errno_text("capture on " + ifname_, errno));
    }
    // The socket filter already chose the direction; checked again so a kernel that ignored
    // part of it cannot hand over frames of the other direction.
    const bool outgoing = from.sll_pkttype == PACKET_OUTGOING;
    if ((dir_ == Direction::Incoming && outgoing) || (dir_ == Direction::Outgoing && !outgoing))
      continue;
    out.emplace_back(buf.begin(), buf.begin() + n);
  }
  return out;
}

size_t FrameCapture::receive(FrameBatch& b, std::chrono::nanoseconds timeout) {
  b.count_ = 0;
  const size_t n = b.capacity();
  std::vector<iovec> iov(n);
  std::vector<mmsghdr> msgs(n);
  std::vector<sockaddr_ll> from(n);
  for (size_t i = 0; i < n; i++) {
    iov[i] = {&b.storage_[i * b.snap_], b.snap_};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
  }
  int got = ::recvmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
  if (got < 0 && errno == EAGAIN && timeout.count() > 0) {
    pollfd p{fd_.get(), POLLIN, 0};
    const timespec ts{static_cast<time_t>(timeout.count() / 1'000'000'000),
                      static_cast<long>(timeout.count() % 1'000'000'000)};
    if (::ppoll(&p, 1, &ts, nullptr) > 0)
      got = ::recvmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
  }
  if (got < 0) {
    if (errno == EAGAIN || errno == EINTR) return 0;
    throw Error(errno_text("receive on " + ifname_, errno));
  }
  for (size_t i = 0; i < static_cast<size_t>(got); i++) {
    // Checked again as in drain(): the direction filter is the kernel's, kept as a safeguard.
    const bool outgoing = from[i].sll_pkttype == PACKET_OUTGOING;
    if ((dir_ == Direction::Incoming && outgoing) || (dir_ == Direction::Outgoing && !outgoing))
      continue;
    b.lens_[b.count_] = std::min<size_t>(msgs[i].msg_len, b.snap_);
    if (b.count_ != i)
      std::copy_n(&b.storage_[i * b.snap_], b.lens_[b.count_], &b.storage_[b.count_ * b.snap_]);
    b.count_++;
  }
  return b.count_;
}

}  // namespace qpspread::workload
