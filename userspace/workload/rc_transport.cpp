#include "userspace/workload/rc_transport.h"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "common/error.h"

namespace qpspread::workload {
namespace {

// Latency samples kept per QP between two take_latencies() calls: bounds memory on long runs.
constexpr size_t kMaxLatencySamples = 1 << 20;

void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

uint8_t send_opcode(uint32_t frame, uint32_t frames) {
  if (frames == 1) return static_cast<uint8_t>(RcOpcode::SendOnly);
  if (frame == 0) return static_cast<uint8_t>(RcOpcode::SendFirst);
  if (frame + 1 == frames) return static_cast<uint8_t>(RcOpcode::SendLast);
  return static_cast<uint8_t>(RcOpcode::SendMiddle);
}

}  // namespace

void Pacer::account(size_t frame_bytes, int64_t now_ns) {
  if (rate_ <= 0) return;
  // Preamble and start delimiter (8), FCS (4) and inter-frame gap (12) occupy the wire too.
  const double bits = static_cast<double>(frame_bytes + 24) * 8;
  // Up to 50 us of credit carries over an idle moment, enough for one sendmmsg batch but not
  // for a burst that would fill the device queue.
  next_ns_ = std::max(next_ns_, now_ns - 50'000) + static_cast<int64_t>(bits * 1e9 / rate_);
}

void RecentRate::sent(size_t frame_bytes, int64_t now_ns) {
  // sum_ counts the frames after the oldest kept: the bits that left between its time and now.
  if (count_ == kFrames) sum_ -= bytes_[(next_ + 1) % kFrames];
  if (count_ > 0) sum_ += frame_bytes;
  at_ns_[next_] = now_ns;
  bytes_[next_] = frame_bytes;
  next_ = (next_ + 1) % kFrames;
  count_ = std::min(count_ + 1, kFrames);
}

double RecentRate::bps(int64_t now_ns) const {
  if (count_ < kFrames) return 0;
  const int64_t oldest = at_ns_[next_];  // the slot written next holds the oldest frame
  const int64_t span = now_ns - oldest;
  if (span <= 0 || span >= 1'000'000'000) return 0;
  return static_cast<double>(sum_) * 8 * 1e9 / static_cast<double>(span);
}

RcQp::RcQp(const RcQpConfig& cfg)
    : cfg_(cfg),
      snd_una_(cfg.first_psn & kPsnMask),
      snd_nxt_(snd_una_),
      snd_end_(snd_una_),
      snd_max_(snd_una_),
      epsn_(snd_una_),
      dcqcn_(cfg.dcqcn),
      pace_(0) {
  if (cfg.mtu <= kTimestampLen || cfg.mtu > 9000)
    throw Error("QP MTU " + std::to_string(cfg.mtu) + " must hold the 8-byte timestamp and fit a "
                "jumbo frame (use 256..4096)");
  if (cfg.ack_every == 0 || cfg.window == 0 || cfg.window >= 0x400000)
    throw Error("QP ack interval and window must be positive and the window below 2^22 PSNs");
  data_per_frame_ = cfg.mtu - static_cast<uint32_t>(kTimestampLen);
}

void RcQp::post_send(std::vector<uint8_t> message) {
  OutMessage m;
  m.frames = std::max<uint32_t>(
      1, static_cast<uint32_t>((message.size() + data_per_frame_ - 1) / data_per_frame_));
  m.first_psn = snd_end_;
  m.data = std::move(message);
  snd_end_ = psn_add(snd_end_, m.frames);
  out_.push_back(std::move(m));
}

std::optional<std::vector<uint8_t>> RcQp::take_message() {
  if (received_.empty()) return std::nullopt;
  std::vector<uint8_t> m = std::move(received_.front());
  received_.pop_front();
  return m;
}

std::vector<int64_t> RcQp::take_latencies() {
  std::vector<int64_t> out;
  out.swap(latencies_);
  return out;
}

void RcQp::on_frame(const RoceView& f, int64_t now_ns) {
  if (!f.icrc_ok) {
    stats_.rx_bad_icrc++;  // a NIC drops these silently; the requester's timeout recovers
    return;
  }
  if (f.opcode == static_cast<uint8_t>(RcOpcode::Cnp)) {
    stats_.cnp_rx++;
    dcqcn_.on_cnp(now_ns, sending_.bps(now_ns));
    stats_.rate_cuts = dcqcn_.cuts();
  } else if (f.opcode == static_cast<uint8_t>(RcOpcode::Acknowledge)) {
    on_ack(f, now_ns);
  }
  else if (f.opcode <= static_cast<uint8_t>(RcOpcode::SendOnly)) {
    on_data(f, now_ns);
  }
}

void RcQp::on_data(const RoceView& f, int64_t now_ns) {
  if (cfg_.drop_every_data_rx && ++data_seen_ % cfg_.drop_every_data_rx == 0) {
    stats_.dropped_by_hook++;
    return;
  }
  // The notification point: a CE mark on any data frame of the QP asks for a CNP, one per interval.
  if (f.ecn == 3) {
    stats_.ecn_ce_rx++;
    if (!cnp_pending_ && (stats_.cnp_tx == 0 || now_ns - last_cnp_ns_ >= cfg_.cnp_interval_ns)) {
      cnp_pending_ = true;
      last_cnp_ns_ = now_ns;
    }
  }
  const int32_t d = psn_diff(f.psn, epsn_);
  if (d < 0) {
    // A duplicate: our ACK was lost or late. ACK again so the requester moves on.
    stats_.rx_duplicate++;
    if (!pending_ack_) queue_ack(kAethAckUnlimited, psn_add(epsn_, kPsnMask));
    return;
  }
  if (d > 0 || f.payload.size() < kTimestampLen) {
    stats_.rx_out_of_order++;
    if (!nak_sent_) {
      nak_sent_ = true;
      stats_.naks_tx++;
      queue_ack(kAethNakSeqError, epsn_);
    }
    return;
  }
  if (latencies_.size() < kMaxLatencySamples)
    latencies_.push_back(now_ns - static_cast<int64_t>(get64(f.payload.data())));
  const auto data = f.payload.subspan(kTimestampLen);
  const auto op = static_cast<RcOpcode>(f.opcode);
  if (op == RcOpcode::SendFirst || op == RcOpcode::SendOnly) assembling_.clear();
  assembling_.insert(assembling_.end(), data.begin(), data.end());
  if (op == RcOpcode::SendLast || op == RcOpcode::SendOnly) {
    received_.push_back(std::move(assembling_));
    assembling_.clear();
    msn_ = (msn_ + 1) & kPsnMask;
    stats_.rx_msgs++;
  }
  stats_.rx_frames++;
  stats_.rx_bytes += data.size();
  epsn_ = psn_add(epsn_, 1);
  nak_sent_ = false;
  if (f.ack_req) queue_ack(kAethAckUnlimited, f.psn);
}

void RcQp::queue_ack(uint8_t syndrome, uint32_t psn) { pending_ack_ = {syndrome, psn}; }

void RcQp::on_ack(const RoceView& f, int64_t now_ns) {
  if (cfg_.drop_every_ack_rx && ++acks_seen_ % cfg_.drop_every_ack_rx == 0) {
    stats_.dropped_by_hook++;
    return;
  }
  const auto aeth = parse_aeth(f.payload);
  if (!aeth) return;
  if (aeth->is_ack()) {
    acknowledge_through(f.psn, now_ns);
  } else if (aeth->is_nak_seq_error()) {
    // The NAK's PSN is the one the responder expects: all before it arrived.
    stats_.naks_rx++;
    acknowledge_through(psn_add(f.psn, kPsnMask), now_ns);
    if (psn_diff(snd_nxt_, f.psn) > 0 && psn_diff(f.psn, snd_una_) >= 0) go_back(f.psn);
  }
}

void RcQp::acknowledge_through(uint32_t psn, int64_t now_ns) {
  const uint32_t una = psn_add(psn, 1);
  // Stale (already covered) or impossible (beyond what was sent) acknowledgements change nothing.
  if (psn_diff(una, snd_una_) <= 0 || psn_diff(una, snd_max_) > 0) return;
  snd_una_ = una;
  last_progress_ns_ = now_ns;
  while (!out_.empty() &&
         psn_diff(snd_una_, psn_add(out_.front().first_psn, out_.front().frames)) >= 0) {
    out_.pop_front();
    if (cursor_msg_ > 0) cursor_msg_--;
  }
  if (psn_diff(snd_nxt_, snd_una_) < 0) go_back(snd_una_);
}

void RcQp::go_back(uint32_t psn) {
  snd_nxt_ = psn;
  cursor_msg_ = out_.size();
  cursor_frame_ = 0;
  for (size_t i = 0; i < out_.size(); i++) {
    const int32_t d = psn_diff(psn, out_[i].first_psn);
    if (d >= 0 && static_cast<uint32_t>(d) < out_[i].frames) {
      cursor_msg_ = i;
      cursor_frame_ = static_cast<uint32_t>(d);
      return;
    }
  }
}

void RcQp::check_timeout(int64_t now_ns) {
  if (snd_una_ == snd_nxt_ || now_ns - last_progress_ns_ < cfg_.ack_timeout_ns) return;
  stats_.timeouts++;
  last_progress_ns_ = now_ns;
  go_back(snd_una_);
}

void RcQp::write_frame(uint8_t opcode, uint32_t psn, bool ack_req, const uint8_t* payload,
                       size_t len, std::vector<uint8_t>& out, uint8_t ecn, bool becn, uint8_t dscp) const {
  RoceFrameSpec s;
  s.src_mac = cfg_.local_mac;
  s.dst_mac = cfg_.remote_mac;
  s.src_ip = cfg_.local_ip;
  s.dst_ip = cfg_.remote_ip;
  s.src_port = cfg_.sport;
  s.dest_qp = cfg_.remote_qpn;
  s.psn = psn;
  s.opcode = opcode;
  s.ack_req = ack_req;
  s.ecn = ecn;
  s.becn = becn;
  s.dscp = dscp;
  s.payload_len = len;
  s.payload_data = payload;
  build_rocev2_frame_into(s, out);
}

bool RcQp::next_ack(std::vector<uint8_t>& out) {
  if (!pending_ack_) return false;
  uint8_t aeth[kAethLen];
  put_aeth(aeth, Aeth{pending_ack_->first, msn_});
  if (pending_ack_->first == kAethAckUnlimited) stats_.acks_tx++;
  write_frame(static_cast<uint8_t>(RcOpcode::Acknowledge), pending_ack_->second, false, aeth,
              sizeof(aeth), out, cfg_.ecn);
  pending_ack_.reset();
  return true;
}

bool RcQp::next_cnp(std::vector<uint8_t>& out) {
  if (!cnp_pending_) return false;
  // As NICs send them: not ECN-capable (a CNP must not be marked and dropped itself), PSN 0, in
  // DSCP 48 (NVIDIA's default cnp_dscp), which fabrics queue with strict priority.
  const uint8_t reserved[kCnpPayloadLen] = {};
  write_frame(static_cast<uint8_t>(RcOpcode::Cnp), 0, false, reserved, sizeof(reserved), out, 0, true, kCnpDscp);
  cnp_pending_ = false;
  stats_.cnp_tx++;
  return true;
}

int64_t RcQp::pace_wait_ns(int64_t now_ns) const { return dcqcn_.on() ? pace_.wait_ns(now_ns) : 0; }

bool RcQp::next_data(int64_t now_ns, std::vector<uint8_t>& out) {
  if (cursor_msg_ >= out_.size()) return false;
  const uint32_t in_flight = static_cast<uint32_t>(psn_diff(snd_nxt_, snd_una_));
  if (in_flight >= cfg_.window) return false;
  if (dcqcn_.on()) {
    dcqcn_.advance(now_ns);
    pace_.set_rate(dcqcn_.rate_bps());
    if (!pace_.ready(now_ns)) return false;
  }
  const OutMessage& m = out_[cursor_msg_];
  const size_t offset = static_cast<size_t>(cursor_frame_) * data_per_frame_;
  const size_t len = std::min<size_t>(data_per_frame_, m.data.size() - offset);
  scratch_.resize(kTimestampLen + len);
  put64(scratch_.data(), static_cast<uint64_t>(now_ns));
  if (len) std::memcpy(scratch_.data() + kTimestampLen, m.data.data() + offset, len);
  const bool last = cursor_frame_ + 1 == m.frames;
  const uint32_t since_start = (snd_nxt_ - (cfg_.first_psn & kPsnMask)) & kPsnMask;
  // AckReq on a message's end, every ack_every frames, when the window fills (without an ACK
  // request in flight a full window would wait for the timeout), and when the last one went a
  // quarter of the ACK timeout ago: a QP slowed by DCQCN to a few frames per second would
  // otherwise time out between two of them and resend what was on its way.
  const bool ack_req = last || since_start % cfg_.ack_every == cfg_.ack_every - 1 ||
                       in_flight + 1 == cfg_.window || now_ns - last_ack_req_ns_ >= cfg_.ack_timeout_ns / 4;
  if (ack_req) last_ack_req_ns_ = now_ns;
  write_frame(send_opcode(cursor_frame_, m.frames), snd_nxt_, ack_req, scratch_.data(),
              scratch_.size(), out, cfg_.ecn);
  stats_.tx_frames++;
  if (dcqcn_.on()) {
    sending_.sent(out.size() + 24, now_ns);  // on the wire: with preamble, FCS and gap
    pace_.account(out.size(), now_ns);
    dcqcn_.on_sent(out.size(), now_ns);
    const double r = dcqcn_.rate_bps();
    stats_.rate_bps_min = stats_.tx_frames == 1 ? r : std::min(stats_.rate_bps_min, r);
    rate_sum_ += r;
    stats_.rate_bps_avg = rate_sum_ / static_cast<double>(stats_.tx_frames);
  }
  if (psn_diff(snd_nxt_, snd_max_) < 0) {
    stats_.retx_frames++;
  } else {
    snd_max_ = psn_add(snd_nxt_, 1);
    stats_.tx_bytes += len;
    if (last) stats_.tx_msgs++;
  }
  if (in_flight == 0) last_progress_ns_ = now_ns;  // the ACK timer starts with the first frame
  snd_nxt_ = psn_add(snd_nxt_, 1);
  if (last) {
    cursor_msg_++;
    cursor_frame_ = 0;
  } else {
    cursor_frame_++;
  }
  return true;
}

}  // namespace qpspread::workload
