#include "userspace/wan/wan_relay.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/unique_fd.h"
#include "userspace/wan/link_model.h"

namespace qpspread::wan {
namespace {

constexpr int kBatch = 64;
// Frames go through with the virtio_net_hdr the kernel puts before them (PACKET_VNET_HDR): a frame
// from a veth whose peer offloads the checksum (all of them, by default) carries a checksum the
// stack has not filled in yet, and a TSO peer hands over GSO super-frames of up to 64 KiB. The
// header passes both on to the egress veth unchanged (partial checksum, GSO type and size), as a
// virtual switch would; read without it, such frames arrive with bad UDP/TCP checksums.
//
// <linux/virtio_net.h> does not compile as C++ (a member named `class`): its header struct, whose
// layout is fixed by the virtio spec, is spelled out here.
struct virtio_net_hdr {
  uint8_t flags;  // VIRTIO_NET_HDR_F_NEEDS_CSUM: checksum at csum_start + csum_offset not filled in
  uint8_t gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;  // little endian (x86, arm64: native)
};
static_assert(sizeof(virtio_net_hdr) == 10);
constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr size_t kVnetHdr = sizeof(virtio_net_hdr);
constexpr size_t kFrameMax = 65536 + 64;
constexpr size_t kSlot = kVnetHdr + kFrameMax + 4;  // + room to re-insert a VLAN tag
constexpr int kSocketBuffer = 16 << 20;
constexpr int kStopCheckMs = 100;

int ifindex_of(const std::string& ifname) {
  const unsigned idx = ::if_nametoindex(ifname.c_str());
  if (idx == 0)
    throw Error("wan-relay: no interface '" + ifname + "' in this namespace; did the runner create the wire veths?");
  return static_cast<int>(idx);
}

void set_opt(int fd, int level, int name, int value, const std::string& what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) throw Error(errno_text("wan-relay: " + what, errno));
}

UniqueFd packet_socket(const std::string& ifname, bool receive) {
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!fd) throw Error(errno_text("wan-relay: AF_PACKET socket for " + ifname + " (needs CAP_NET_RAW)", errno));
  set_opt(fd.get(), SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR on " + ifname);
  if (receive) {
    // Without this the socket would also read what the other direction sends out of this interface.
    set_opt(fd.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING on " + ifname);
    // The kernel takes a VLAN tag out of the frame into metadata; auxdata gives it back to re-insert.
    set_opt(fd.get(), SOL_PACKET, PACKET_AUXDATA, 1, "PACKET_AUXDATA on " + ifname);
    set_opt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, kSocketBuffer, "receive buffer on " + ifname);
  } else {
    set_opt(fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, kSocketBuffer, "send buffer on " + ifname);
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  // Protocol 0 on the sending socket: the kernel queues nothing received on it.
  sll.sll_protocol = receive ? htons(ETH_P_ALL) : 0;
  sll.sll_ifindex = ifindex_of(ifname);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
    throw Error(errno_text("wan-relay: bind to " + ifname, errno));
  return fd;
}

// The 802.1Q tag the kernel moved into metadata, back into the frame after the virtio_net_hdr at
// `slot`; returns the new length of header and frame.
size_t restore_vlan(uint8_t* slot, size_t len, const msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
    if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
    tpacket_auxdata aux;
    std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
    if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || len < kVnetHdr + 12) return len;
    virtio_net_hdr vh;
    std::memcpy(&vh, slot, sizeof vh);
    if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) vh.csum_start = static_cast<uint16_t>(vh.csum_start + 4);
    std::memcpy(slot, &vh, sizeof vh);
    uint8_t* frame = slot + kVnetHdr;
    len -= kVnetHdr;
    const uint16_t tpid = htons((aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : ETH_P_8021Q);
    const uint16_t tci = htons(aux.tp_vlan_tci);
    std::memmove(frame + 16, frame + 12, len - 12);
    std::memcpy(frame + 12, &tpid, 2);
    std::memcpy(frame + 14, &tci, 2);
    return kVnetHdr + len + 4;
  }
  return len;
}

struct Frame {
  int64_t due_ns;
  std::vector<uint8_t> data;
};

}  // namespace

struct WanRelay::Direction {
  std::string from, to;
  UniqueFd rx, tx;
  size_t max_in_flight = 0;

  mutable std::mutex mu;  // guards everything below but the counters
  std::condition_variable nonempty;
  std::deque<Frame> queue;
  std::unique_ptr<LinkModel> model;

  std::atomic<uint64_t> received{0}, forwarded{0}, forwarded_bytes{0}, dropped_loss{0}, dropped_queue{0},
      dropped_error{0}, marked_ce{0};

  // Decides the fate of one frame that arrived at `now` (marking it CE if so drawn): its departure
  // time, or -1 if dropped.
  int64_t schedule(uint8_t* frame, size_t len, int64_t now) {
    if (queue.size() >= max_in_flight) {
      dropped_queue.fetch_add(1, std::memory_order_relaxed);
      return -1;
    }
    FrameTos tos(frame, len);
    const bool ect = model->imp.ecn.on() && tos.ecn() == FrameEcn::Ect;
    const LinkModel::Verdict v = model->admit(len, now, ect, tos.dscp() >= kPriorityDscp);
    if (v.fate == LinkModel::Fate::Lost) {
      dropped_loss.fetch_add(1, std::memory_order_relaxed);
      return -1;
    }
    if (v.fate == LinkModel::Fate::QueueFull) {
      dropped_queue.fetch_add(1, std::memory_order_relaxed);
      return -1;
    }
    if (v.mark_ce && tos.mark_ce()) marked_ce.fetch_add(1, std::memory_order_relaxed);
    return v.due_ns;
  }

  void receive_loop(const std::atomic<bool>& stop);
  void send_loop(const std::atomic<bool>& stop);
  void send_batch(std::vector<Frame>& batch);
};

void WanRelay::Direction::receive_loop(const std::atomic<bool>& stop) {
  std::vector<uint8_t> bufs(kBatch * kSlot);
  std::vector<char> ctrl(kBatch * CMSG_SPACE(sizeof(tpacket_auxdata)));
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_ll addrs[kBatch];
  while (!stop.load(std::memory_order_relaxed)) {
    pollfd p{rx.get(), POLLIN, 0};
    const int pr = ::poll(&p, 1, kStopCheckMs);
    if (pr < 0 && errno != EINTR) throw Error(errno_text("wan-relay: poll on " + from, errno));
    if (pr <= 0) continue;
    for (int i = 0; i < kBatch; i++) {
      iov[i] = {bufs.data() + i * kSlot, kSlot - 4};
      msgs[i].msg_hdr = {&addrs[i], sizeof addrs[i], &iov[i], 1, ctrl.data() + i * CMSG_SPACE(sizeof(tpacket_auxdata)),
                         CMSG_SPACE(sizeof(tpacket_auxdata)), 0};
      msgs[i].msg_len = 0;
    }
    const int n = ::recvmmsg(rx.get(), msgs, kBatch, MSG_DONTWAIT | MSG_TRUNC, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throw Error(errno_text("wan-relay: recvmmsg on " + from, errno));
    }
    const int64_t now = mono_ns();
    std::lock_guard lock(mu);
    bool new_head = false;  // the sender sleeps until the head's time: a new head wakes it
    for (int i = 0; i < n; i++) {
      if (addrs[i].sll_pkttype == PACKET_OUTGOING) continue;  // older kernels ignore IGNORE_OUTGOING
      received.fetch_add(1, std::memory_order_relaxed);
      if (msgs[i].msg_len > kSlot - 4 || msgs[i].msg_len < kVnetHdr || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
        dropped_error.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      uint8_t* slot = bufs.data() + i * kSlot;
      const size_t len = restore_vlan(slot, msgs[i].msg_len, msgs[i].msg_hdr);
      const int64_t due = schedule(slot + kVnetHdr, len - kVnetHdr, now);
      if (due < 0) continue;
      // In departure order: a priority frame may go ahead of normal ones already queued.
      auto at = queue.end();
      while (at != queue.begin() && std::prev(at)->due_ns > due) --at;
      new_head = new_head || at == queue.begin();
      queue.insert(at, {due, std::vector<uint8_t>(slot, slot + len)});
    }
    if (new_head) nonempty.notify_one();
  }
}

void WanRelay::Direction::send_loop(const std::atomic<bool>& stop) {
  // The default 50 us timer slack would add up to 50 us to every departure.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::vector<Frame> batch;
  batch.reserve(kBatch);
  while (!stop.load(std::memory_order_relaxed)) {
    {
      std::unique_lock lock(mu);
      if (!nonempty.wait_for(lock, std::chrono::milliseconds(kStopCheckMs), [this] { return !queue.empty(); })) continue;
      // Until the head is due, or a new head (a priority frame) wakes this thread earlier.
      const int64_t due = queue.front().due_ns;
      if (due > mono_ns()) {
        nonempty.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
        continue;
      }
      const int64_t now = mono_ns();
      while (!queue.empty() && batch.size() < kBatch && queue.front().due_ns <= now) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    send_batch(batch);
  }
}

void WanRelay::Direction::send_batch(std::vector<Frame>& batch) {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  for (size_t i = 0; i < batch.size(); i++) {
    iov[i] = {batch[i].data.data(), batch[i].data.size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  size_t done = 0;
  int retries = 0;
  while (done < batch.size()) {
    const int n = ::sendmmsg(tx.get(), msgs + done, static_cast<unsigned>(batch.size() - done), 0);
    if (n > 0) {
      for (size_t i = done; i < done + static_cast<size_t>(n); i++) forwarded_bytes.fetch_add(batch[i].data.size() - kVnetHdr, std::memory_order_relaxed);
      forwarded.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      done += static_cast<size_t>(n);
      continue;
    }
    // A full socket buffer drains within microseconds on veth; anything else loses the frame.
    if ((errno == ENOBUFS || errno == EAGAIN || errno == EINTR) && ++retries < 1000) {
      sleep_until_mono_ns(mono_ns() + 20000);
      continue;
    }
    dropped_error.fetch_add(1, std::memory_order_relaxed);
    done++;
  }
  batch.clear();
}

const char* direction_name(WanDirection d) { return d == WanDirection::AtoB ? "a_to_b" : "b_to_a"; }

WanRelay::WanRelay(const WanRelayOptions& opts) {
  std::random_device rd;
  for (int i = 0; i < 2; i++) {
    auto d = std::make_unique<Direction>();
    d->from = i == 0 ? opts.a : opts.b;
    d->to = i == 0 ? opts.b : opts.a;
    d->rx = packet_socket(d->from, true);
    d->tx = packet_socket(d->to, false);
    d->max_in_flight = opts.max_frames_in_flight;
    d->model = std::make_unique<LinkModel>(opts.queue_limit_bytes,
                                           opts.seed ? opts.seed + static_cast<uint64_t>(i) : (static_cast<uint64_t>(rd()) << 32 | rd()));
    d->model->imp = i == 0 ? opts.a_to_b : opts.b_to_a;
    dirs_[i] = std::move(d);
  }
  realtime_priority_ = opts.realtime_priority;
}

WanRelay::WanRelay(const std::string& a, const std::string& b, const Impairment& both)
    : WanRelay(WanRelayOptions{a, b, both, both}) {}

WanRelay::~WanRelay() = default;

void WanRelay::run(const std::atomic<bool>& stop) {
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mu;
  // One failing thread stops the others, and run() rethrows its error.
  std::atomic<bool> halt{false};
  auto guarded = [&](auto fn) {
    return std::thread([&, fn] {
      try {
        fn();
      } catch (...) {
        std::lock_guard lock(error_mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    });
  };
  std::thread watcher([&] {
    while (!stop.load() && !failed.load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    halt = true;
  });
  std::vector<std::thread> threads;
  for (auto& d : dirs_) {
    threads.push_back(guarded([&d, &halt] { d->receive_loop(halt); }));
    threads.push_back(guarded([&d, &halt] { d->send_loop(halt); }));
  }
  if (realtime_priority_ > 0) {
    const sched_param sp{realtime_priority_};
    for (auto& t : threads) (void)::pthread_setschedparam(t.native_handle(), SCHED_FIFO, &sp);
  }
  for (auto& t : threads) t.join();
  watcher.join();
  for (auto& d : dirs_) {
    std::lock_guard lock(d->mu);
    d->queue.clear();
  }
  if (error) std::rethrow_exception(error);
}

void WanRelay::set_impairment(WanDirection d, const Impairment& imp) {
  Direction& dir = *dirs_[static_cast<int>(d)];
  std::lock_guard lock(dir.mu);
  dir.model->imp = imp;
}

void WanRelay::set_impairment(const Impairment& both) {
  set_impairment(WanDirection::AtoB, both);
  set_impairment(WanDirection::BtoA, both);
}

Impairment WanRelay::impairment(WanDirection d) const {
  const Direction& dir = *dirs_[static_cast<int>(d)];
  std::lock_guard lock(dir.mu);
  return dir.model->imp;
}

WanCounters WanRelay::counters(WanDirection d) const {
  const Direction& dir = *dirs_[static_cast<int>(d)];
  return {dir.received.load(), dir.forwarded.load(), dir.forwarded_bytes.load(),
          dir.dropped_loss.load(), dir.dropped_queue.load(), dir.dropped_error.load(), dir.marked_ce.load()};
}

}  // namespace qpspread::wan
