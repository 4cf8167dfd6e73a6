// The impairment of one direction of a WAN link, in the terms of `containerlab tools netem set`
// (and `tc netem`): one-way delay, jitter, loss and rate. Values are parsed and printed the way
// those tools write them (20ms, 1.5ms, 500us; 0.1 percent; 1gbit, 100mbit, 500kbit) so that a lab
// file and the runner's control file read alike whether tc netem or the wan-relay applies them.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "common/units.h"

namespace qpspread::wan {

// ECN marking of the queue behind the rate limit, as RoCE fabrics configure WRED with ECN on their
// switches (DCQCN's Kmin, Kmax, Pmax): an ECN-capable frame that finds q bytes queued ahead of it is
// marked CE with probability 0 below kmin, pmax (q - kmin) / (kmax - kmin) from kmin to kmax, and 1
// above kmax. Frames that are not ECN-capable are never marked; the queue drops them when full, as
// it drops every frame without ECN. Without a rate limit nothing queues and nothing is marked.
struct EcnMarking {
  uint64_t kmin_bytes = 0, kmax_bytes = 0;  // kmax 0: off
  double pmax_percent = 0;                  // (0, 100]

  bool on() const { return kmax_bytes > 0; }
  double probability(uint64_t queued_bytes) const;
  bool operator==(const EcnMarking&) const = default;
};

// "KMIN,KMAX,PMAX" (sizes like 20kb, a percent like 10 or 10%), kmin < kmax, pmax in (0, 100]; ""
// or "0": off. Throws qpspread::Error naming the flag, the value and the syntax.
EcnMarking parse_ecn(const std::string& flag, const std::string& value);
// "20kb,100kb,10%"; "0" when off (parse_ecn reads both back).
std::string format_ecn(const EcnMarking& ecn);

struct Impairment {
  uint64_t delay_us = 0;
  uint64_t jitter_us = 0;   // uniform in [delay - jitter, delay + jitter], never below 0
  double loss_percent = 0;  // independent per frame, 0..100
  uint64_t rate_bps = 0;    // 0: unlimited
  EcnMarking ecn;           // of the rate limit's queue

  bool none() const { return delay_us == 0 && jitter_us == 0 && loss_percent == 0 && rate_bps == 0 && !ecn.on(); }
  bool operator==(const Impairment&) const = default;
};

// "delay 20ms jitter 1ms loss 0.1% rate 1gbit" (only what is set; "none" when nothing is).
std::string describe(const Impairment& imp);

// From the flag values (empty = 0, off); throws qpspread::Error as the parsers do.
Impairment parse_impairment(const std::string& delay, const std::string& jitter, const std::string& loss,
                            const std::string& rate, const std::string& ecn = "");

// Some of the four values (`lab impair --rate 20mbit`): what is not set keeps its value.
struct ImpairmentChange {
  std::optional<uint64_t> delay_us, jitter_us;
  std::optional<double> loss_percent;
  std::optional<uint64_t> rate_bps;
  std::optional<EcnMarking> ecn;

  // Every value of `imp`: applied, the result is `imp`.
  static ImpairmentChange all_of(const Impairment& imp);
  Impairment applied_to(Impairment imp) const;
};

// From the values given (nullopt: not given, "" or "0": none); throws qpspread::Error naming the
// key as `prefix` + key ("--rate" for flags, "vars.impairment.rate" for a topology file), the
// value and the syntax, before anything is changed.
ImpairmentChange parse_impairment_change(const std::optional<std::string>& delay,
                                         const std::optional<std::string>& jitter,
                                         const std::optional<std::string>& loss, const std::optional<std::string>& rate,
                                         const std::optional<std::string>& ecn, const std::string& prefix);

// {"delay": "20ms", "jitter": "1ms", "loss": 0.1, "rate": "1gbit"}; from_json also takes loss as a
// string and any key missing as 0. Throws qpspread::Error naming the key.
nlohmann::json to_json(const Impairment& imp);
Impairment impairment_from_json(const nlohmann::json& j);

}  // namespace qpspread::wan
