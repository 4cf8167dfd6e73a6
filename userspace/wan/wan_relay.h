// The WAN link emulator for kernels without sch_netem: a relay between two interfaces of a small
// "wire" namespace that stands between two border routers,
//
//   node A IF <-veth-> a [wire netns: WanRelay] b <-veth-> IF node B
//
// forwarding every frame from a to b and from b to a over AF_PACKET sockets, applying per direction
// a one-way delay with uniform jitter, independent loss and a rate limit (serialization at the
// given speed behind a byte-bounded queue, tail drop, ECN marking; link_model.h decides each frame).
//
// Unlike netem, frames of one direction never overtake one another: a frame that draws a shorter
// delay than the one before it leaves right after it (netem with jitter reorders unless a rate or
// a tfifo-bypassing setup is used, and RoCE takes any reordering as loss). So with jitter the
// delays are uniform in [delay - jitter, delay + jitter] as drawn, and slightly skewed upwards as
// delivered when frames are closer together than the jitter.
//
// Threads: per direction one receiver (poll + recvmmsg; it stamps, drops and schedules each frame)
// and one sender that waits (a condition variable on CLOCK_MONOTONIC) until the head frame is due
// and sends what is due with sendmmsg. The queue is kept in departure order; departures of one
// queue only grow, so only a frame of the strict-priority queue (network control, CNPs:
// link_model.h) can become a new head, and it wakes the sender.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "userspace/wan/impairment.h"

namespace qpspread::wan {

enum class WanDirection { AtoB = 0, BtoA = 1 };
const char* direction_name(WanDirection d);  // "a_to_b", "b_to_a"

struct WanCounters {
  uint64_t received = 0;         // frames read from the ingress interface
  uint64_t forwarded = 0;        // frames sent out of the other interface
  uint64_t forwarded_bytes = 0;  // their bytes (Ethernet header on, no FCS)
  uint64_t dropped_loss = 0;     // by the configured loss
  uint64_t dropped_queue = 0;    // tail drop: the rate queue or the in-flight bound is full
  uint64_t dropped_error = 0;    // over 64 KiB (cannot happen on veth) or a send error
  uint64_t marked_ce = 0;        // ECN-capable frames marked CE by the queue (Impairment::ecn)
};

struct WanRelayOptions {
  std::string a, b;  // interface names in the calling thread's namespace
  Impairment a_to_b, b_to_a;
  // Bytes waiting for the rate limiter before tail drop; 0: 50 ms at the rate, at least 64 KiB.
  uint64_t queue_limit_bytes = 0;
  size_t max_frames_in_flight = 1 << 18;  // bounds memory on a long, fast, unlimited-rate link
  uint64_t seed = 0;                      // of the loss and jitter draws; 0: random
  // SCHED_FIFO priority of the relay's threads (0: normal scheduling). On a small, busy machine a
  // normal thread may wait milliseconds for a core, and every such wait lands on the delay; netem
  // runs in softirq context and does not wait. Not granted (no CAP_SYS_NICE): normal scheduling.
  int realtime_priority = 0;
};

class WanRelay {
 public:
  // Opens the sockets on both interfaces in the calling thread's network namespace (call it inside
  // Netns::run; the sockets stay there). Throws qpspread::Error naming the interface.
  explicit WanRelay(const WanRelayOptions& opts);
  WanRelay(const std::string& a, const std::string& b, const Impairment& both);
  ~WanRelay();
  WanRelay(const WanRelay&) = delete;
  WanRelay& operator=(const WanRelay&) = delete;

  // Forwards until `stop` becomes true (seen within 100 ms); frames still delayed then are dropped.
  // May be called from any thread and namespace; throws qpspread::Error if a socket fails.
  void run(const std::atomic<bool>& stop);

  // Thread safe, effective for the next frame received. Frames already scheduled keep their
  // departure time, and later ones still leave after them.
  void set_impairment(WanDirection d, const Impairment& imp);
  void set_impairment(const Impairment& both);
  Impairment impairment(WanDirection d) const;
  WanCounters counters(WanDirection d) const;

  struct Direction;  // one direction's sockets, queue and counters (wan_relay.cpp)

 private:
  std::unique_ptr<Direction> dirs_[2];
  int realtime_priority_ = 0;
};

}  // namespace qpspread::wan
