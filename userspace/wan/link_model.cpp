#include "userspace/wan/link_model.h"

#include <algorithm>

namespace qpspread::wan {
namespace {

// The IP header's offset in the frame and its version (4, 6), or 0 when there is none.
size_t ip_header(const uint8_t* f, size_t len, int* version) {
  size_t off = 12;
  if (len < off + 2) return 0;
  uint16_t type = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  while ((type == 0x8100 || type == 0x88a8) && len >= off + 6) {
    off += 4;
    type = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  }
  off += 2;
  if (type == 0x0800 && len >= off + 20 && (f[off] >> 4) == 4) *version = 4;
  else if (type == 0x86dd && len >= off + 40 && (f[off] >> 4) == 6) *version = 6;
  else return 0;
  return off;
}

}  // namespace

FrameEcn frame_ecn(const uint8_t* f, size_t len) {
  int v = 0;
  const size_t ip = ip_header(f, len, &v);
  if (!ip) return FrameEcn::NotIp;
  const unsigned ecn = v == 4 ? f[ip + 1] & 3u : (f[ip + 1] >> 4) & 3u;  // IPv6: traffic class straddles bytes 0-1
  return ecn == 0 ? FrameEcn::NotEct : ecn == 3 ? FrameEcn::Ce : FrameEcn::Ect;
}

unsigned frame_dscp(const uint8_t* f, size_t len) {
  int v = 0;
  const size_t ip = ip_header(f, len, &v);
  if (!ip) return 0;
  return v == 4 ? f[ip + 1] >> 2 : ((f[ip] & 0x0fu) << 2) | (f[ip + 1] >> 6);
}

bool mark_ce(uint8_t* f, size_t len) {
  if (frame_ecn(f, len) != FrameEcn::Ect) return false;
  int v = 0;
  const size_t ip = ip_header(f, len, &v);
  if (v == 6) {
    f[ip + 1] |= 0x30;
    return true;
  }
  // RFC 1624: HC' = ~(~HC + ~m + m') over the 16-bit word that holds version/IHL and ToS.
  const uint16_t old_word = static_cast<uint16_t>(f[ip] << 8 | f[ip + 1]);
  f[ip + 1] |= 3;
  const uint16_t new_word = static_cast<uint16_t>(f[ip] << 8 | f[ip + 1]);
  uint32_t sum = static_cast<uint16_t>(~(f[ip + 10] << 8 | f[ip + 11]) & 0xffff);
  sum += static_cast<uint16_t>(~old_word & 0xffff);
  sum += new_word;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t csum = static_cast<uint16_t>(~sum & 0xffff);
  f[ip + 10] = static_cast<uint8_t>(csum >> 8);
  f[ip + 11] = static_cast<uint8_t>(csum & 0xff);
  return true;
}

uint64_t LinkModel::queued_bytes(int64_t now) const {
  if (!imp.rate_bps) return 0;
  const int64_t backlog_ns = std::max<int64_t>(0, link_free_ns_ - now);
  return static_cast<uint64_t>(static_cast<double>(backlog_ns) * static_cast<double>(imp.rate_bps) / 8e9);
}

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
      const auto ser = static_cast<int64_t>(static_cast<double>(len) * 8e9 / static_cast<double>(imp.rate_bps));
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
    link_free_ns_ = std::max(link_free_ns_, now) + static_cast<int64_t>(static_cast<double>(len) * 8e9 / static_cast<double>(imp.rate_bps));
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
