// What one direction of an emulated WAN link does to each frame, apart from sockets and threads
// (wan_relay.cpp runs it): independent loss, the rate limit's byte queue with tail drop and ECN
// marking (Impairment::ecn), one-way delay with jitter, and departures that never overtake one
// another. Time is given by the caller, so the model is tested without a clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>

#include "userspace/wan/impairment.h"

namespace qpspread::wan {

enum class FrameEcn { NotIp, NotEct, Ect, Ce };

// The DSCP and ECN fields of a frame's IPv4 or IPv6 header (behind Ethernet, and 802.1Q tags if
// any), the header found once per frame.
class FrameTos {
 public:
  FrameTos(uint8_t* frame, size_t len);
  FrameEcn ecn() const;
  unsigned dscp() const;  // 0 when not IP
  // Sets CE in an ECN-capable frame (the IPv4 header checksum updated, RFC 1624: qpspread/csum.h);
  // false and nothing changed when the frame is not ECN-capable or already CE.
  bool mark_ce();

 private:
  uint8_t* ip_ = nullptr;  // the IP header; null when none
  int version_ = 0;
};

// Frames of DSCP 48 and up (CS6, CS7: network control, where RoCE fabrics also put CNPs, NVIDIA's
// default CNP DSCP being 48, and FRR its BFD) go through a strict-priority queue, as on switches:
// they wait for no frame of the normal queue.
inline constexpr unsigned kPriorityDscp = 48;

class LinkModel {
 public:
  // queue_limit_bytes: bytes waiting for the rate limiter before tail drop; 0: 50 ms at the rate,
  // at least 64 KiB.
  LinkModel(uint64_t queue_limit_bytes, uint64_t seed) : queue_limit_(queue_limit_bytes), rng_(seed) {}

  enum class Fate { Scheduled, Lost, QueueFull };
  struct Verdict {
    Fate fate = Fate::Scheduled;
    int64_t due_ns = 0;    // when it leaves the far end (Scheduled)
    bool mark_ce = false;  // ECN-capable and the marking drew it
  };
  // A frame of `len` bytes arriving at now_ns; `ect`: it is ECN-capable; `priority`: it goes
  // through the strict-priority queue (never marked, never behind the normal queue; it leaves
  // in order with the other priority frames, and may overtake normal ones).
  Verdict admit(size_t len, int64_t now_ns, bool ect, bool priority = false);
  // Bytes accepted and not yet serialized by the rate limiter at now_ns (0 without a rate).
  uint64_t queued_bytes(int64_t now_ns) const;

  Impairment imp;

 private:
  uint64_t queue_limit_;
  std::mt19937_64 rng_;
  int64_t link_free_ns_ = 0;       // when the rate limiter has serialized everything accepted
  int64_t last_departure_ns_ = 0;  // departures only grow: no frame overtakes another of its queue
  int64_t prio_free_ns_ = 0, prio_last_departure_ns_ = 0;
};

}  // namespace qpspread::wan
