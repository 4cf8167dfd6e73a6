#include "tests/support/wan_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/clock.h"
#include "common/command.h"
#include "common/error.h"
#include "common/netns.h"
#include "common/unique_fd.h"

namespace qpspread::wan {
namespace {

constexpr const char* kIpA = "10.77.0.1";
constexpr const char* kIpB = "10.77.0.2";
constexpr const char* kMacA = "02:77:00:00:00:01";
constexpr const char* kMacB = "02:77:00:00:00:02";
// Each probe or blast takes fresh ports, so frames of an earlier one still on the way (a blast can
// leave a long tail in the relay's queue) never count as its own.
std::pair<uint16_t, uint16_t> next_ports() {
  static std::atomic<uint16_t> n{0};
  const auto base = static_cast<uint16_t>(20000 + 2 * (n++ % 10000));
  return {base, static_cast<uint16_t>(base + 1)};
}

sockaddr_in inet(const char* ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &sa.sin_addr);
  return sa;
}

// A UDP socket in namespace `ns`, bound to ip:port and connected to the peer; receives time out
// after 20 ms so loops can watch their deadline.
UniqueFd udp_socket(const std::string& ns, const char* ip, uint16_t port, const char* peer, uint16_t peer_port) {
  UniqueFd fd;
  Netns::open(ns).run([&] {
    fd.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) throw Error(errno_text("udp socket in " + ns, errno));
    const int buf = 32 << 20;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
    const timeval tv{0, 20000};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in self = inet(ip, port), other = inet(peer, peer_port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&self), sizeof self) != 0)
      throw Error(errno_text(std::string("bind ") + ip + " in " + ns, errno));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&other), sizeof other) != 0)
      throw Error(errno_text(std::string("connect to ") + peer + " in " + ns, errno));
  });
  return fd;
}

struct Probe {
  uint32_t seq;
  uint32_t pad;
  int64_t sent_ns;
};

// Receives until `want` datagrams came or `wait_ns` passed since the sender finished.
template <typename OnDatagram>
void receive_until(int fd, int want, const std::atomic<int64_t>& sender_done, int64_t wait_ns, OnDatagram on) {
  std::vector<uint8_t> buf(65536);
  for (int got = 0; got < want;) {
    const int64_t done = sender_done.load();
    if (done && mono_ns() > done + wait_ns) break;
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) continue;  // timeout: check the deadline
    got++;
    on(buf.data(), static_cast<size_t>(n), mono_ns());
  }
}

}  // namespace

void wire_wan_link(const WanLinkNamespaces& ns) {
  // `name` first: iproute2 reads a bare `a` as the `address` keyword (KERNEL-NOTES.md).
  struct Side {
    const std::string& node;
    const char *wire_if, *ip, *mac, *peer_ip, *peer_mac;
  };
  for (const Side& s : {Side{ns.node_a, "a", kIpA, kMacA, kIpB, kMacB}, Side{ns.node_b, "b", kIpB, kMacB, kIpA, kMacA}}) {
    run_checked({"ip", "-n", ns.wire, "link", "add", "name", s.wire_if, "type", "veth", "peer", "name", "wan0", "netns", s.node});
    run_checked({"ip", "-n", s.node, "link", "set", "wan0", "address", s.mac});
    run_checked({"ip", "-n", s.node, "addr", "add", std::string(s.ip) + "/24", "dev", "wan0"});
    run_checked({"ip", "-n", s.node, "neigh", "replace", s.peer_ip, "lladdr", s.peer_mac, "dev", "wan0", "nud", "permanent"});
    run_checked({"ip", "-n", s.node, "link", "set", "wan0", "up"});
    run_checked({"ip", "-n", ns.wire, "link", "set", "dev", s.wire_if, "up"});
  }
}

ProbeResult udp_probe(const WanLinkNamespaces& ns, const ProbeSpec& spec) {
  const auto [port_a, port_b] = next_ports();
  UniqueFd b = udp_socket(ns.node_b, kIpB, port_b, kIpA, port_a);
  UniqueFd a = udp_socket(ns.node_a, kIpA, port_a, kIpB, port_b);
  ProbeResult r;
  std::atomic<int64_t> sender_done{0};
  const int64_t wait_ns = std::chrono::nanoseconds(spec.wait).count();
  std::thread at_b([&] {
    int64_t last_seq = -1;
    receive_until(b.get(), spec.count, sender_done, wait_ns, [&](uint8_t* data, size_t len, int64_t t) {
      Probe p;
      std::memcpy(&p, data, sizeof p);
      r.one_way_ms.push_back(static_cast<double>(t - p.sent_ns) / 1e6);
      if (static_cast<int64_t>(p.seq) <= last_seq) r.in_order = false;
      last_seq = p.seq;
      if (spec.echo) (void)::send(b.get(), data, len, 0);
    });
  });
  std::thread at_a([&] {
    if (!spec.echo) return;
    receive_until(a.get(), spec.count, sender_done, wait_ns * 2, [&](uint8_t* data, size_t, int64_t t) {
      Probe p;
      std::memcpy(&p, data, sizeof p);
      r.rtt_ms.push_back(static_cast<double>(t - p.sent_ns) / 1e6);
    });
  });
  std::vector<uint8_t> payload(std::max(spec.payload, sizeof(Probe)), 0);
  const int64_t t0 = mono_ns();
  for (int i = 0; i < spec.count; i++) {
    sleep_until_mono_ns(t0 + i * std::chrono::nanoseconds(spec.interval).count());
    const Probe p{static_cast<uint32_t>(i), 0, mono_ns()};
    std::memcpy(payload.data(), &p, sizeof p);
    if (::send(a.get(), payload.data(), payload.size(), 0) == static_cast<ssize_t>(payload.size())) r.sent++;
  }
  sender_done = mono_ns();
  at_b.join();
  at_a.join();
  return r;
}

BlastResult udp_blast(const WanLinkNamespaces& ns, size_t frame_bytes, uint64_t offered_bps,
                      std::chrono::milliseconds duration, int tos) {
  if (frame_bytes < kUdpFrameOverhead + sizeof(uint32_t)) throw Error("udp_blast: frame_bytes below 46");
  const auto [port_a, port_b] = next_ports();
  UniqueFd b = udp_socket(ns.node_b, kIpB, port_b, kIpA, port_a);
  UniqueFd a = udp_socket(ns.node_a, kIpA, port_a, kIpB, port_b);
  if (tos && ::setsockopt(a.get(), IPPROTO_IP, IP_TOS, &tos, sizeof tos) != 0) throw Error(errno_text("IP_TOS", errno));
  BlastResult r;
  std::atomic<int64_t> sender_done{0};
  int64_t first = 0, last = 0;
  std::thread at_b([&] {
    receive_until(b.get(), INT32_MAX, sender_done, 500000000, [&](uint8_t*, size_t, int64_t t) {
      if (!r.received++) first = t;
      last = t;
    });
  });
  constexpr unsigned kBurst = 8;
  std::vector<uint8_t> payload(frame_bytes - kUdpFrameOverhead, 0x5a);
  mmsghdr msgs[kBurst];
  iovec iov{payload.data(), payload.size()};
  for (auto& m : msgs) m = {{nullptr, 0, &iov, 1, nullptr, 0, 0}, 0};
  const double frame_ns = offered_bps ? static_cast<double>(frame_bytes) * 8e9 / static_cast<double>(offered_bps) : 0;
  const int64_t t0 = mono_ns(), end = t0 + std::chrono::nanoseconds(duration).count();
  while (mono_ns() < end) {
    if (offered_bps) sleep_until_mono_ns(t0 + static_cast<int64_t>(static_cast<double>(r.sent) * frame_ns));
    const int n = ::sendmmsg(a.get(), msgs, kBurst, 0);
    if (n > 0) r.sent += static_cast<uint64_t>(n);
  }
  sender_done = mono_ns();
  at_b.join();
  r.seconds = static_cast<double>(last - first) / 1e9;
  if (r.received > 1 && r.seconds > 0) {
    r.received_fps = static_cast<double>(r.received - 1) / r.seconds;
    r.received_bps = r.received_fps * static_cast<double>(frame_bytes) * 8;
  }
  return r;
}

}  // namespace qpspread::wan
