// An RC-like queue pair over raw RoCEv2 frames: what an RDMA NIC's reliable-connection transport
// does, in userspace, so that a fabric sees RC traffic (data, ACKs, NAKs, retransmissions)
// without RDMA hardware.
//
// Messages travel as SEND operations (SEND FIRST/MIDDLE/LAST, or SEND ONLY for one frame). SEND
// rather than RDMA WRITE: the responder needs no remote address or rkey to be exchanged first,
// and FIRST..LAST delimit a message as a collective's chunk needs; on the wire both look alike
// to a fabric (same BTH, same sizes but WRITE FIRST's 16-byte RETH).
//
// Every data frame's payload starts with an 8-byte send timestamp (CLOCK_MONOTONIC ns, big
// endian), followed by up to mtu-8 bytes of the message: all network namespaces share that
// clock, so the responder measures one-way latency. A frame sent again carries a new timestamp.
//
// Reliability is go-back-N as in IB RC: the requester numbers frames with 24-bit PSNs, asks for
// an ACK (AckReq) on the last frame of every message and every ack_every frames; the responder
// accepts only the expected PSN, ACKs cumulatively (opcode 0x11, AETH syndrome ACK), answers a
// PSN gap with one NAK "PSN sequence error" carrying the expected PSN, and ACKs duplicates
// again. On that NAK, or when no ACK has advanced for ack_timeout, the requester resends from
// the first unacknowledged PSN.
//
// Congestion, as RoCE NICs handle it: data and ACK frames leave ECN-capable (ECT(0)); a data frame
// that arrives marked CE makes the responder send a CNP (opcode 0x81, BECN, 16 reserved bytes) to
// the requester's QP, at most one per cnp_interval; the requester's DCQCN reaction point
// (dcqcn.h) cuts and recovers the QP's rate, and its frames are paced at that rate (RcHost paces
// the host as a whole at the line rate on top).
//
// RcQp is a pure state machine (frames in, frames out, time given by the caller) so the
// protocol is tested without sockets; RcHost (rc_host.h) runs QPs over AF_PACKET.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "userspace/workload/dcqcn.h"
#include "userspace/workload/rc_wire.h"
#include "userspace/workload/roce_frame.h"

namespace qpspread::workload {

inline constexpr size_t kTimestampLen = 8;

struct RcQpConfig {
  uint32_t local_qpn = 0, remote_qpn = 0;
  std::array<uint8_t, 6> local_mac{}, remote_mac{};
  uint32_t local_ip = 0, remote_ip = 0;  // host order
  uint16_t sport = 49152;                // inner UDP source port of every frame of this QP
  uint32_t mtu = 1024;                   // payload bytes per frame, timestamp included
  uint32_t ack_every = 16;               // AckReq at least every this many frames
  uint32_t window = 256;                 // frames in flight (sent, not acknowledged) at most
  int64_t ack_timeout_ns = 20'000'000;
  uint32_t first_psn = 0;  // of both directions: the peer's QP uses the same value
  uint8_t ecn = 2;                     // of data and ACK frames: ECT(0), as NICs send; 0: Not-ECT
  int64_t cnp_interval_ns = 50'000;    // at most one CNP per this interval (DCQCN's N)
  DcqcnParams dcqcn;                   // line_rate_bps 0: no congestion control
  // Test hooks for go-back-N: drop every k-th data frame or ACK/NAK that arrives (0 = none),
  // as a lossy path would (the kernel here has no netem).
  uint32_t drop_every_data_rx = 0;
  uint32_t drop_every_ack_rx = 0;
};

struct RcQpStats {
  uint64_t tx_msgs = 0, tx_bytes = 0;     // messages and message bytes handed to the wire
  uint64_t tx_frames = 0, retx_frames = 0;  // data frames: all, and those sent again
  uint64_t timeouts = 0, naks_rx = 0, naks_tx = 0, acks_tx = 0;
  uint64_t rx_msgs = 0, rx_bytes = 0, rx_frames = 0;  // accepted in order
  uint64_t rx_duplicate = 0, rx_out_of_order = 0, rx_bad_icrc = 0, dropped_by_hook = 0;
  uint64_t ecn_ce_rx = 0;  // data frames that arrived marked CE
  uint64_t cnp_tx = 0, cnp_rx = 0;
  uint64_t rate_cuts = 0;  // DCQCN rate reductions
  // The DCQCN rate at each data frame sent: its minimum and mean (0 without DCQCN or frames).
  double rate_bps_min = 0, rate_bps_avg = 0;
};

// Paces frames to a bit rate (bits on the wire: frame + preamble, FCS and gap) so the sender,
// not the device queue, sets the pace. rate 0 = unpaced.
class Pacer {
 public:
  explicit Pacer(double bits_per_s) : rate_(bits_per_s) {}
  void set_rate(double bits_per_s) { rate_ = bits_per_s; }
  bool ready(int64_t now_ns) const { return rate_ <= 0 || now_ns >= next_ns_; }
  // ns until ready (0 when ready now).
  int64_t wait_ns(int64_t now_ns) const { return ready(now_ns) ? 0 : next_ns_ - now_ns; }
  void account(size_t frame_bytes, int64_t now_ns);

 private:
  double rate_;
  int64_t next_ns_ = 0;
};

// Turns of n senders sharing one pace: one frame per turn, the turn passing on after every sender
// tried, sent or not, and kept from one call to the next. The host's pace lets about one frame out
// per call, so a round that started at the same sender on every call would give that sender the
// whole line rate and the others what it leaves.
class TxTurns {
 public:
  struct Offered {
    size_t sent = 0;
    bool paced = false;  // stopped because the pace was spent
  };
  // From where the last call stopped: while `max` frames have not gone and ready() (the pace
  // allows a frame), try_send(i) sends sender i's next frame or returns false (none ready, or the
  // sender is absent); ends once every sender passed in a row.
  template <class Ready, class TrySend>
  Offered offer(size_t n, size_t max, Ready ready, TrySend try_send) {
    Offered o;
    for (size_t idle = 0; idle < n && o.sent < max;) {
      if (!ready()) {
        o.paced = true;
        break;
      }
      const bool sent = try_send(next_);
      o.sent += sent;
      idle = sent ? 0 : idle + 1;
      next_ = (next_ + 1) % n;
    }
    return o;
  }

 private:
  size_t next_ = 0;
};

// What a sender put on the wire over its last kFrames frames (bits over the time since the
// oldest of them), as a NIC's rate measurement sees it; 0 (unknown) until kFrames frames have
// gone, or when the oldest left a second or more ago (an idle sender).
class RecentRate {
 public:
  static constexpr size_t kFrames = 16;
  void sent(size_t frame_bytes, int64_t now_ns);
  double bps(int64_t now_ns) const;

 private:
  int64_t at_ns_[kFrames] = {};
  uint64_t bytes_[kFrames] = {};
  uint64_t sum_ = 0;  // bytes of the frames after the oldest
  size_t next_ = 0, count_ = 0;
};

class RcQp {
 public:
  explicit RcQp(const RcQpConfig& cfg);

  // Queues a message for sending (any size, 0 included).
  void post_send(std::vector<uint8_t> message);
  // The next complete message received, in order.
  std::optional<std::vector<uint8_t>> take_message();
  // Nothing queued and everything sent has been acknowledged.
  bool send_idle() const { return out_.empty(); }
  // Messages posted and not yet sent to their last frame.
  size_t unsent_messages() const { return out_.size() - cursor_msg_; }

  // A frame whose destination QP is this QP's local QPN (the caller demultiplexes).
  void on_frame(const RoceView& frame, int64_t now_ns);
  // Resends from the first unacknowledged PSN when no ACK has advanced for ack_timeout.
  void check_timeout(int64_t now_ns);
  // Writes the pending ACK/NAK into `out`; false when there is none.
  bool next_ack(std::vector<uint8_t>& out);
  // Writes the pending CNP into `out`; false when there is none.
  bool next_cnp(std::vector<uint8_t>& out);
  // Writes the next data frame into `out`; false when nothing may be sent (none queued, the
  // window is full, or the QP's DCQCN rate says wait).
  bool next_data(int64_t now_ns, std::vector<uint8_t>& out);
  // ns until the QP's own rate lets its next data frame go (0: now, or no rate of its own).
  int64_t pace_wait_ns(int64_t now_ns) const;
  const Dcqcn& dcqcn() const { return dcqcn_; }

  const RcQpConfig& config() const { return cfg_; }
  const RcQpStats& stats() const { return stats_; }
  // One-way latencies (ns) of the data frames accepted since the last call.
  std::vector<int64_t> take_latencies();

 private:
  struct OutMessage {
    std::vector<uint8_t> data;
    uint32_t first_psn = 0, frames = 0;
  };
  void on_data(const RoceView& f, int64_t now_ns);
  void on_ack(const RoceView& f, int64_t now_ns);
  void acknowledge_through(uint32_t psn, int64_t now_ns);
  void go_back(uint32_t psn);
  void queue_ack(uint8_t syndrome, uint32_t psn);
  void write_frame(uint8_t opcode, uint32_t psn, bool ack_req, const uint8_t* payload,
                   size_t len, std::vector<uint8_t>& out, uint8_t ecn, bool becn = false, uint8_t dscp = 0) const;

  RcQpConfig cfg_;
  RcQpStats stats_;
  uint32_t data_per_frame_;
  // Requester: messages from the oldest unacknowledged one on; PSNs [snd_una_, snd_nxt_) are
  // in flight, snd_end_ follows the last posted frame, snd_max_ the highest ever sent.
  std::deque<OutMessage> out_;
  uint32_t snd_una_, snd_nxt_, snd_end_, snd_max_;
  size_t cursor_msg_ = 0;  // out_ index and frame index of snd_nxt_
  uint32_t cursor_frame_ = 0;
  int64_t last_progress_ns_ = 0;
  uint64_t acks_seen_ = 0;
  // Responder.
  uint32_t epsn_;
  uint32_t msn_ = 0;
  bool nak_sent_ = false;  // one NAK per sequence error, as the spec asks
  bool in_message_ = false;
  std::vector<uint8_t> assembling_;
  std::deque<std::vector<uint8_t>> received_;
  std::optional<std::pair<uint8_t, uint32_t>> pending_ack_;  // syndrome, PSN
  uint64_t data_seen_ = 0;
  std::vector<int64_t> latencies_;
  std::vector<uint8_t> scratch_;
  // Congestion: the notification point (responder) and the reaction point (requester).
  bool cnp_pending_ = false;
  int64_t last_cnp_ns_ = 0;
  Dcqcn dcqcn_;
  Pacer pace_;
  double rate_sum_ = 0;
  RecentRate sending_;
  int64_t last_ack_req_ns_ = 0;
};


}  // namespace qpspread::workload
