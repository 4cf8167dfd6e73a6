#include "userspace/workload/rc_host.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <span>

#include "common/error.h"
#include "common/interrupt.h"

namespace qpspread::workload {
namespace {

constexpr size_t kTxBatch = 32;

// RoCEv2 frames reach the host's own stack too. With no socket on UDP 4791 the kernel would
// answer each with an ICMP port unreachable, noise on the fabric and in captures; a bound UDP
// socket that is never read silences that (its small buffer just overflows).
UniqueFd roce_port_guard() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  const int small = 4096;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kRoceV2Port);
  // Another process (or rank) of this namespace may hold it already; that serves as well.
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
  return fd;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint32_t first_qpn_for_seed(uint64_t seed, int n, int k) {
  const uint64_t used = uint64_t(n) * uint64_t(n) * uint64_t(k);
  // QPN 0xffffff is the multicast QPN: the last one used stays below it.
  if (n < 1 || k < 1 || kFirstQpn + used > 0xffffff)
    throw Error(std::to_string(n) + " hosts x " + std::to_string(k) + " QPs per peer do not fit 24-bit QP numbers");
  return kFirstQpn + static_cast<uint32_t>(splitmix64(seed) % (0xffffff - used - kFirstQpn + 1));
}

SplitMode parse_split_mode(const std::string& name) {
  if (name == "rr") return SplitMode::RoundRobin;
  if (name == "split") return SplitMode::Split;
  throw Error("unknown split mode '" + name + "' (use rr or split)");
}

int64_t cnp_interval_for(double line_rate_bps) {
  return line_rate_bps > 0 ? static_cast<int64_t>(50'000 * 40e9 / line_rate_bps) : 50'000;
}

CcMode parse_cc_mode(const std::string& name) {
  if (name == "dcqcn") return CcMode::Dcqcn;
  if (name == "none") return CcMode::None;
  throw Error("unknown congestion control '" + name + "' (use dcqcn or none)");
}

const char* cc_mode_name(CcMode m) { return m == CcMode::Dcqcn ? "dcqcn" : "none"; }

RcHost::RcHost(int rank, const std::vector<HostAddr>& hosts, const TransportOptions& opt)
    : rank_(rank),
      hosts_(hosts),
      opt_(opt),
      tx_(hosts.at(static_cast<size_t>(rank)).ifname),
      rx_(hosts.at(static_cast<size_t>(rank)).ifname, FrameCapture::Direction::Incoming,
          kRoceV2Port),
      port_guard_(roce_port_guard()),
      pacer_(opt.rate_bps),
      txbufs_(kTxBatch) {
  const int n = static_cast<int>(hosts.size());
  if (opt.qps < 1 || uint64_t{opt.first_qpn} + uint64_t(n) * uint64_t(n) * uint64_t(opt.qps) > 0xffffff)
    throw Error("--qps must be at least 1 and hosts x qps fit 24-bit QP numbers from QPN " +
                std::to_string(opt.first_qpn));
  const HostAddr& me = hosts[static_cast<size_t>(rank)];
  for (int peer = 0; peer < n; peer++) {
    for (int k = 0; k < opt.qps; k++) {
      if (peer == rank) {
        qps_.push_back(nullptr);
        continue;
      }
      const HostAddr& p = hosts[static_cast<size_t>(peer)];
      RcQpConfig c;
      c.local_qpn = qpn_base(rank, n, opt.qps, opt.first_qpn) + static_cast<uint32_t>(peer * opt.qps + k);
      c.remote_qpn = qpn_base(peer, n, opt.qps, opt.first_qpn) + static_cast<uint32_t>(rank * opt.qps + k);
      c.local_mac = me.mac;
      c.remote_mac = p.mac;
      c.local_ip = me.ip;
      c.remote_ip = p.ip;
      c.sport = inner_sport(opt.sport, c.local_qpn, c.remote_qpn);
      c.mtu = opt.mtu;
      c.ack_every = opt.ack_every;
      c.window = opt.window;
      c.ack_timeout_ns = opt.ack_timeout_ns;
      c.drop_every_data_rx = opt.drop_every_data_rx;
      c.cnp_interval_ns = opt.cnp_interval_ns ? opt.cnp_interval_ns : cnp_interval_for(opt.rate_bps);
      if (opt.cc == CcMode::Dcqcn) c.dcqcn = opt.dcqcn ? *opt.dcqcn : DcqcnParams::scaled_to(opt.rate_bps);
      qps_.push_back(std::make_unique<RcQp>(c));
    }
  }
  send_rr_.assign(static_cast<size_t>(n), 0);
  recv_rr_.assign(static_cast<size_t>(n), 0);
}

RcHost::~RcHost() = default;

void RcHost::send(int peer, std::vector<uint8_t> message) {
  const int k = opt_.qps;
  if (opt_.split == SplitMode::RoundRobin) {
    qp(peer, send_rr_[static_cast<size_t>(peer)]++ % k).post_send(std::move(message));
    return;
  }
  const size_t part = (message.size() + static_cast<size_t>(k) - 1) / static_cast<size_t>(k);
  for (int i = 0; i < k; i++) {
    const size_t from = std::min(message.size(), part * static_cast<size_t>(i));
    const size_t to = std::min(message.size(), from + part);
    qp(peer, i).post_send(std::vector<uint8_t>(message.begin() + static_cast<std::ptrdiff_t>(from),
                                               message.begin() + static_cast<std::ptrdiff_t>(to)));
  }
}

std::vector<uint8_t> RcHost::take_from(int peer, int index, int64_t deadline_ns) {
  for (;;) {
    if (auto m = qp(peer, index).take_message()) return std::move(*m);
    if (interrupted()) throw Error("interrupted");
    if (mono_ns() > deadline_ns)
      throw Error("rank " + std::to_string(rank_) + ": no message from rank " +
                  std::to_string(peer) + " (" + hosts_[static_cast<size_t>(peer)].netns +
                  ") before the deadline; are the hosts on one L2 segment and eth1 up?");
    progress(1'000'000);
  }
}

std::vector<uint8_t> RcHost::recv(int peer, int64_t deadline_ns) {
  if (opt_.split == SplitMode::RoundRobin)
    return take_from(peer, recv_rr_[static_cast<size_t>(peer)]++ % opt_.qps, deadline_ns);
  std::vector<uint8_t> out;
  for (int i = 0; i < opt_.qps; i++) {
    std::vector<uint8_t> part = take_from(peer, i, deadline_ns);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

RcHost::Backlog RcHost::send_backlog(int peer) const {
  Backlog b{SIZE_MAX, 0};
  for (int i = 0; i < opt_.qps; i++) {
    const size_t n = qps_[static_cast<size_t>(peer * opt_.qps + i)]->unsent_messages();
    b.least = std::min(b.least, n);
    b.most = std::max(b.most, n);
  }
  return b;
}

void RcHost::flush(int64_t deadline_ns) {
  auto idle = [&] {
    return std::all_of(qps_.begin(), qps_.end(), [](const auto& q) { return !q || q->send_idle(); });
  };
  while (!idle()) {
    if (interrupted()) throw Error("interrupted");
    if (mono_ns() > deadline_ns)
      throw Error("rank " + std::to_string(rank_) + ": sends not acknowledged before the deadline");
    progress(1'000'000);
  }
}

int64_t RcHost::fill_tx(int64_t now) {
  tx_count_ = 0;
  for (auto& q : qps_) {
    if (q && tx_count_ < kTxBatch && q->next_cnp(txbufs_[tx_count_])) tx_count_++;
    if (q && tx_count_ < kTxBatch && q->next_ack(txbufs_[tx_count_])) tx_count_++;
  }
  const TxTurns::Offered o = turns_.offer(qps_.size(), kTxBatch - tx_count_, [&] { return pacer_.ready(now); },
                                          [&](size_t i) {
                                            RcQp* q = qps_[i].get();
                                            if (!q || !q->next_data(now, txbufs_[tx_count_])) return false;
                                            pacer_.account(txbufs_[tx_count_++].size(), now);
                                            return true;
                                          });
  if (o.paced) return pacer_.wait_ns(now);
  if (tx_count_ == kTxBatch) return 0;
  // Nothing more now: wake when the first QP held back by its own DCQCN rate may go.
  int64_t wait = -1;
  for (auto& q : qps_)
    if (q && !q->send_idle())
      if (const int64_t w = q->pace_wait_ns(now); w > 0 && (wait < 0 || w < wait)) wait = w;
  return wait;
}

void RcHost::dispatch(std::span<const uint8_t> frame, int64_t now) {
  const auto v = parse_rocev2(frame);
  const uint32_t base = qpn_base(rank_, static_cast<int>(hosts_.size()), opt_.qps, opt_.first_qpn);
  if (!v || v->dst_ip != hosts_[static_cast<size_t>(rank_)].ip || v->dest_qp < base) return;
  const size_t idx = v->dest_qp - base;
  if (idx >= qps_.size() || !qps_[idx]) return;
  const int peer = static_cast<int>(idx) / opt_.qps;
  if (v->src_ip != hosts_[static_cast<size_t>(peer)].ip) return;  // not from that QP's peer
  const uint64_t before = qps_[idx]->stats().rx_frames;
  qps_[idx]->on_frame(*v, now);
  if (qps_[idx]->stats().rx_frames == before) return;
  const int64_t from = opt_.gap_from_ns ? opt_.gap_from_ns->load(std::memory_order_relaxed) : 0;
  if (from && last_rx_ns_ && now >= from) max_gap_ns_ = std::max(max_gap_ns_, now - last_rx_ns_);
  last_rx_ns_ = now;
}

void RcHost::progress(int64_t max_wait_ns) {
  int64_t now = mono_ns();
  const int64_t more_in = fill_tx(now);
  if (tx_count_) {
    std::span<const uint8_t> frames[kTxBatch];
    for (size_t i = 0; i < tx_count_; i++) frames[i] = txbufs_[i];
    tx_.send_batch({frames, tx_count_});
  }
  const int64_t wait = more_in < 0 ? max_wait_ns : std::min(more_in, max_wait_ns);
  const size_t got = rx_.receive(batch_, std::chrono::nanoseconds(wait));
  now = mono_ns();
  for (size_t i = 0; i < got; i++) dispatch(batch_[i], now);
  for (auto& q : qps_)
    if (q) q->check_timeout(now);
}

std::vector<RcHost::QpRef> RcHost::qps() const {
  std::vector<QpRef> out;
  for (size_t i = 0; i < qps_.size(); i++)
    if (qps_[i])
      out.push_back({static_cast<int>(i) / opt_.qps, static_cast<int>(i) % opt_.qps, qps_[i].get()});
  return out;
}

std::vector<int64_t> RcHost::take_latencies() {
  std::vector<int64_t> all;
  for (auto& q : qps_) {
    if (!q) continue;
    const std::vector<int64_t> l = q->take_latencies();
    all.insert(all.end(), l.begin(), l.end());
  }
  return all;
}

}  // namespace qpspread::workload
