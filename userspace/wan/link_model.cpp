#include "userspace/wan/link_model.h"

#include <algorithm>

#include "qpspread/csum.h"

namespace qpspread::wan {

FrameTos::FrameTos(uint8_t* f, size_t len) {
  size_t off = 12;
  if (len < off + 2) return;
  uint16_t type = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  while ((type == 0x8100 || type == 0x88a8) && len >= off + 6) {
    off += 4;
    type = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  }
  off += 2;
  if (type == 0x0800 && len >= off + 20 && (f[off] >> 4) == 4) version_ = 4;
  else if (type == 0x86dd && len >= off + 40 && (f[off] >> 4) == 6) version_ = 6;
  else return;
  ip_ = f + off;
}

FrameEcn FrameTos::ecn() const {
  if (!ip_) return FrameEcn::NotIp;
  // IPv6: the traffic class straddles bytes 0-1, its ECN bits are byte 1's 0x30.
  const unsigned ecn = version_ == 4 ? ip_[1] & 3u : (ip_[1] >> 4) & 3u;
  return ecn == 0 ? FrameEcn::NotEct : ecn == 3 ? FrameEcn::Ce : FrameEcn::Ect;
}

unsigned FrameTos::dscp() const {
  if (!ip_) return 0;
  return version_ == 4 ? ip_[1] >> 2u : ((ip_[0] & 0x0fu) << 2) | (ip_[1] >> 6u);
}

bool FrameTos::mark_ce() {
  if (ecn() != FrameEcn::Ect) return false;
  if (version_ == 6) {
    ip_[1] |= 0x30;
    return true;
  }
  // The checksum covers the 16-bit word of version/IHL and ToS: updated for that word alone.
  const uint16_t old_word = static_cast<uint16_t>(ip_[0] << 8 | ip_[1]);
  ip_[1] |= 3;
  const uint16_t new_word = static_cast<uint16_t>(ip_[0] << 8 | ip_[1]);
  const uint16_t csum = qps_csum_replace16(static_cast<uint16_t>(ip_[10] << 8 | ip_[11]), old_word, new_word);
  ip_[10] = static_cast<uint8_t>(csum >> 8);
  ip_[11] = static_cast<uint8_t>(csum & 0xff);
  return true;
}

uint64_t LinkModel::queued_bytes(int64_t now) const {
  if (!imp.rate_bps) return 0;
  const int64_t backlog_ns = std::max<int64_t>(0, link_free_ns_ - now);
  return static_cast<uint64_t>(static_cast<double>(backlog_ns) * static_cast<double>(imp.rate_bps) / 8e9);
}

namespace {

// How long `len` bytes take on a link of `rate_bps`.
int64_t serialization_ns(size_t len, uint64_t rate_bps) {
  return static_cast<int64_t>(static_cast<double>(len) * 8e9 / static_cast<double>(rate_bps));
}

}  // namespace

LinkModel::Verdict LinkModel::admit(size_t len, int64_t now, bool ect, bool priority) {
  Verdict v;
  if (imp.loss_percent > 0 && std::uniform_real_distribution<double>(0, 100)(rng_) < imp.loss_percent) {
    v.fate = Fate::Lost;
    return v;
  }
  if (priority) {
    // Serialized as soon as the link finishes the frame on it, ahead of the normal queue, which
    // its time on the link then delays. Network control is a trickle: no limit of its own.
    int64_t sent = now;
    if (imp.rate_bps) {
      const int64_t ser = serialization_ns(len, imp.rate_bps);
      prio_free_ns_ = std::max(prio_free_ns_, now) + ser;
      sent = prio_free_ns_;
      link_free_ns_ = std::max(link_free_ns_, now) + ser;
    }
    prio_last_departure_ns_ = std::max(prio_last_departure_ns_, sent + static_cast<int64_t>(imp.delay_us) * 1000);
    v.due_ns = prio_last_departure_ns_;
    return v;
  }
  int64_t sent = now;  // when the last bit has left the sending router
  if (imp.rate_bps) {
    const uint64_t limit = queue_limit_ ? queue_limit_ : std::max<uint64_t>(64 << 10, imp.rate_bps / 8 / 20);
    const uint64_t queued = queued_bytes(now);
    if (queued + len > limit) {
      v.fate = Fate::QueueFull;
      return v;
    }
    if (ect && imp.ecn.on()) {
      const double p = imp.ecn.probability(queued);
      v.mark_ce = p >= 1 || (p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p);
    }
    link_free_ns_ = std::max(link_free_ns_, now) + serialization_ns(len, imp.rate_bps);
    sent = link_free_ns_;
  }
  int64_t delay_us = static_cast<int64_t>(imp.delay_us);
  if (imp.jitter_us) {
    const auto j = static_cast<int64_t>(imp.jitter_us);
    delay_us = std::max<int64_t>(0, std::uniform_int_distribution<int64_t>(delay_us - j, delay_us + j)(rng_));
  }
  last_departure_ns_ = std::max(last_departure_ns_, sent + delay_us * 1000);
  v.due_ns = last_departure_ns_;
  return v;
}

}  // namespace qpspread::wan
