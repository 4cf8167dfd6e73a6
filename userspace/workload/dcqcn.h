// DCQCN's reaction point (Zhu et al., "Congestion Control for Large-Scale RDMA Deployments",
// SIGCOMM 2015), per QP, as RoCE NICs run it: a pure state machine over a rate, time given by the
// caller (RcQp paces its frames at rate_bps()).
//
//   on a CNP:       RT := RC;  RC := RC (1 - alpha/2);  alpha := (1 - g) alpha + g;
//                   the increase timer, the byte counter and both stage counts start over.
//   every K without a CNP:  alpha := (1 - g) alpha.
//   every T (timer) and every B bytes sent (byte counter), an increase:
//     fast recovery while both stage counts are below F:   RC := (RT + RC) / 2
//     additive once either reaches F:        RT += R_AI,   RC := (RT + RC) / 2
//     hyper once both exceed F:              RT += i R_HAI (i = the smaller count - F), RC := (RT + RC) / 2
//   RT and RC never exceed the line rate nor fall below min_rate; once RC is back at the line
//   rate the increases stop until the next CNP.
//
// A NIC also cuts at most once per rate-reduction period however many CNPs arrive in it (NVIDIA's
// rate_reduce_monitor_period): CNPs are sent per marked frame, up to one per CNP interval, and one
// congestion event reaches the sender as a burst of them a round trip later.
#pragma once

#include <cstdint>

namespace qpspread::workload {

struct DcqcnParams {
  double line_rate_bps = 0;  // where RC starts and what it recovers to; 0: DCQCN off
  // alpha's update: every K = 10 us, gain 1/64 (its time constant K/g 640 us), between the
  // paper's (K = 55 us, g = 1/256: 14 ms) and ConnectX NICs' (dce_tcp_rtt 1 us, dce_tcp_g 1019:
  // 0.2 ms). Over the lab's WAN (a round trip of ~50 us at 40 Gbit/s) the paper's keeps alpha near 1
  // for a whole run, so every cut halves a QP (71-76 % of the WAN's capacity used); ConnectX's
  // lets alpha fall to ~0.01 between two CNPs a CNP interval apart, cuts stop slowing the QPs and
  // the queue overflows (1.5-4.6 % resent in 4 of 6 runs); this one: 80-83 %, at most 0.2 %
  // resent (docs/workload.md has the runs).
  double g = 1.0 / 64;
  int64_t alpha_period_ns = 10'000;     // K
  int64_t increase_period_ns = 55'000;  // T
  int64_t reduce_period_ns = 4'000;     // at most one cut per period
  uint64_t byte_counter = 10'000'000;   // B
  int fast_recovery_stages = 5;         // F
  double rai_bps = 40e6, rhai_bps = 400e6;
  double min_rate_bps = 1e6;

  // The parameters above are the paper's (alpha's update apart) at a 40 Gbit/s line rate. A line rate R is
  // emulated as time running D = 40 Gbit/s / R times slower: the periods are multiplied by D and
  // the rate steps and the minimum divided by D, while counts of bytes (B) stay as they are. Then
  // DCQCN acts in frames and round trips as at 40 Gbit/s when the round trip is D times a data
  // center's: at 24 Mbit/s, D = 1667 and a 20 us round trip becomes 33 ms, the lab's WAN round
  // trip with its queue. The CNP interval (the responder's) is not scaled: RcQpConfig's default.
  static DcqcnParams scaled_to(double line_rate_bps);
};

class Dcqcn {
 public:
  explicit Dcqcn(const DcqcnParams& p);

  bool on() const { return p_.line_rate_bps > 0; }
  // `sending_bps`: what the QP has been sending lately (0: unknown). QPs that share the host's
  // line rate each send well below their own rate RC; a cut while RC is at the line rate (the first
  // CNP, or the first after a full recovery) starts from what the QP sends (RT and RC := min(RC,
  // sending)), or it would take several cuts before the QP slowed at all: NICs set a rate on the
  // first CNP for the same reason (NVIDIA's rate_to_set_on_first_cnp). Later cuts start from RC, as
  // DCQCN's: a QP that sends less for a moment (its application had nothing queued) is not cut for it.
  void on_cnp(int64_t now_ns, double sending_bps = 0);
  void on_sent(uint64_t bytes, int64_t now_ns);
  // Runs the alpha and increase timers up to now_ns.
  void advance(int64_t now_ns);

  double rate_bps() const { return rc_; }
  double target_bps() const { return rt_; }
  double alpha() const { return alpha_; }
  int timer_stage() const { return timer_stage_; }
  int byte_stage() const { return byte_stage_; }
  uint64_t cuts() const { return cuts_; }
  const DcqcnParams& params() const { return p_; }

 private:
  void increase();
  void clamp();

  DcqcnParams p_;
  double rc_, rt_, alpha_ = 1;
  bool armed_ = false;           // below the line rate: the increase timer and byte counter run
  bool alpha_running_ = false;   // the alpha timer runs from the first CNP on
  bool cnp_in_period_ = false;   // a CNP arrived in the current alpha period
  int64_t next_alpha_ns_ = 0, next_increase_ns_ = 0, last_cut_ns_ = 0;
  bool cut_before_ = false;
  uint64_t bytes_ = 0, cuts_ = 0;
  int timer_stage_ = 0, byte_stage_ = 0;
};

}  // namespace qpspread::workload
