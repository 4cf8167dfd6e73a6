// One host's end of an RC workload: queue pairs to every peer over one AF_PACKET interface,
// with message send/receive on top, paced and batched (sendmmsg/recvmmsg).
//
// QPNs are derived, not exchanged: on host i the k-th QP to peer j is qpn_base(i) + j*K + k, so
// its remote QPN is qpn_base(j) + i*K + k, all hosts counting from one first QPN. Everything runs
// on the calling thread: recv() and flush() drive progress() (transmit, receive, timers) until
// their condition holds.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "userspace/workload/raw_socket.h"
#include "userspace/workload/rc_transport.h"

namespace qpspread::workload {

struct HostAddr {
  std::string netns;  // /run/netns name (or a path Netns::open takes)
  std::string ifname = "eth1";
  uint32_t ip = 0;  // host order
  // Destination MAC for frames to this host: peers share one L2 segment (a bridge, or an EVPN
  // L2VNI that stretches it), so it is the host's own interface MAC.
  std::array<uint8_t, 6> mac{};
};

// How a message to a peer uses the K QPs: rr sends each whole message on the next QP in turn;
// split cuts every message into K parts, one per QP, as NCCL does with its channels.
enum class SplitMode { RoundRobin, Split };
SplitMode parse_split_mode(const std::string& name);  // rr|split; throws qpspread::Error

// Congestion control of the QPs: DCQCN as RoCE NICs run it (rc_transport.h), or none (open loop at
// the host's rate, go-back-N only).
enum class CcMode { Dcqcn, None };
CcMode parse_cc_mode(const std::string& name);  // dcqcn|none; throws qpspread::Error
const char* cc_mode_name(CcMode m);

struct TransportOptions {
  int qps = 1;  // per peer
  SplitMode split = SplitMode::RoundRobin;
  SportModel sport = SportModel::Qpn;
  double rate_bps = 0;  // per host, all its QPs together (the NIC's line rate); 0 = unpaced
  // DCQCN per QP, from the line rate rate_bps (DcqcnParams::scaled_to) unless dcqcn is given; with
  // rate_bps 0 there is no line rate to recover to and DCQCN is off.
  CcMode cc = CcMode::Dcqcn;
  std::optional<DcqcnParams> dcqcn;
  // At most one CNP per QP per this interval; 0: DCQCN's N, 50 us at 40 Gbit/s, scaled to rate_bps
  // as DcqcnParams::scaled_to scales its periods (cnp_interval_for).
  int64_t cnp_interval_ns = 0;
  uint32_t mtu = 1024;
  uint32_t ack_every = 16;
  uint32_t window = 256;
  int64_t ack_timeout_ns = 20'000'000;
  uint32_t drop_every_data_rx = 0;  // test hook, see RcQpConfig
  uint32_t first_qpn = 0x100;        // host 0's first QPN; first_qpn_for_seed moves it per run
  // Delivery gaps count from this mono_ns() time on (0: not yet); see RcHost::max_rx_gap_ns.
  const std::atomic<int64_t>* gap_from_ns = nullptr;
};

// The responder's CNP interval for a NIC of this line rate: 50 us x 40 Gbit/s / rate (50 us when
// there is no rate). Unscaled, every marked frame of a QP at tens of Mbit/s would send a CNP, and a
// round trip of CNPs would cut its rate to the floor (measured: docs/workload.md).
int64_t cnp_interval_for(double line_rate_bps);

inline constexpr uint32_t kFirstQpn = 0x100;

// The first QPN of host `rank` among n hosts with k QPs per peer. Every host has its own range, as
// HCAs allocate QPNs each for itself: a QPN then names one QP in the VNI (qpspread keys its
// per-QP state by VNI and QPN).
inline uint32_t qpn_base(int rank, int n, int k, uint32_t first = kFirstQpn) {
  return first + static_cast<uint32_t>(rank * n * k);
}

// A first QPN drawn from `seed` (splitmix64) in [kFirstQpn, 2^24 - 1 - n*n*k], so that every QPN of n
// hosts with k QPs per peer fits 24 bits. HCAs hand out QPNs that a study cannot choose; the hash
// of a QPN picks its path, so repeats with different seeds sample different QPN sets and paths.
uint32_t first_qpn_for_seed(uint64_t seed, int n, int k);

class RcHost {
 public:
  // Opens the sockets on hosts[rank].ifname in the calling thread's network namespace. Throws
  // qpspread::Error (bad options, missing interface).
  RcHost(int rank, const std::vector<HostAddr>& hosts, const TransportOptions& opt);
  ~RcHost();
  RcHost(const RcHost&) = delete;
  RcHost& operator=(const RcHost&) = delete;

  int rank() const { return rank_; }
  void send(int peer, std::vector<uint8_t> message);
  // The next message from `peer`; throws qpspread::Error once mono_ns() passes the deadline.
  std::vector<uint8_t> recv(int peer, int64_t deadline_ns);
  // Messages to `peer` posted and not yet sent to their last frame, on its least and its most
  // backlogged QP: a sender that keeps the least at 1 or more never leaves a QP idle.
  struct Backlog {
    size_t least = 0, most = 0;
  };
  Backlog send_backlog(int peer) const;
  // Until everything sent has been acknowledged; throws at the deadline.
  void flush(int64_t deadline_ns);
  // One round: send what pacing and windows allow, receive (waiting up to max_wait_ns when
  // there is nothing to send), run the ACK timers.
  void progress(int64_t max_wait_ns);

  struct QpRef {
    int peer, index;
    const RcQp* qp;
  };
  std::vector<QpRef> qps() const;
  std::vector<int64_t> take_latencies();
  // The longest time between two in-order data frames (any QP) whose later one arrived after
  // opt.gap_from_ns was set; 0 when none did.
  int64_t max_rx_gap_ns() const { return max_gap_ns_; }

 private:
  RcQp& qp(int peer, int index) { return *qps_[static_cast<size_t>(peer * opt_.qps + index)]; }
  // Fills txbufs_ with ACKs and paced data frames; returns the time to wait before more data
  // may go (0: more is ready now, -1: nothing to send).
  int64_t fill_tx(int64_t now);
  void dispatch(std::span<const uint8_t> frame, int64_t now);
  std::vector<uint8_t> take_from(int peer, int index, int64_t deadline_ns);

  int rank_;
  std::vector<HostAddr> hosts_;
  TransportOptions opt_;
  RawSender tx_;
  FrameCapture rx_;
  UniqueFd port_guard_;
  Pacer pacer_;
  FrameBatch batch_;
  std::vector<std::unique_ptr<RcQp>> qps_;  // peer * K + index; null for peer == rank
  std::vector<int> send_rr_, recv_rr_;
  std::vector<std::vector<uint8_t>> txbufs_;
  size_t tx_count_ = 0;
  TxTurns turns_;
  int64_t last_rx_ns_ = 0, max_gap_ns_ = 0;
};

}  // namespace qpspread::workload
