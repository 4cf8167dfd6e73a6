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

struct Impairment {
  uint64_t delay_us = 0;
  uint64_t jitter_us = 0;   // uniform in [delay - jitter, delay + jitter], never below 0
  double loss_percent = 0;  // independent per frame, 0..100
  uint64_t rate_bps = 0;    // 0: unlimited

  bool none() const { return delay_us == 0 && jitter_us == 0 && loss_percent == 0 && rate_bps == 0; }
  bool operator==(const Impairment&) const = default;
};

// "delay 20ms jitter 1ms loss 0.1% rate 1gbit" (only what is set; "none" when nothing is).
std::string describe(const Impairment& imp);

// From the four flag values (empty = 0); throws qpspread::Error as the parsers do.
Impairment parse_impairment(const std::string& delay, const std::string& jitter, const std::string& loss,
                            const std::string& rate);

// Some of the four values (`lab impair --rate 20mbit`): what is not set keeps its value.
struct ImpairmentChange {
  std::optional<uint64_t> delay_us, jitter_us;
  std::optional<double> loss_percent;
  std::optional<uint64_t> rate_bps;

  Impairment applied_to(Impairment imp) const;
};

// From the values given (nullopt: not given, "" or "0": none); throws qpspread::Error naming the
// key as `prefix` + key ("--rate" for flags, "vars.impairment.rate" for a topology file), the
// value and the syntax, before anything is changed.
ImpairmentChange parse_impairment_change(const std::optional<std::string>& delay,
                                         const std::optional<std::string>& jitter,
                                         const std::optional<std::string>& loss, const std::optional<std::string>& rate,
                                         const std::string& prefix = "--");

// {"delay": "20ms", "jitter": "1ms", "loss": 0.1, "rate": "1gbit"}; from_json also takes loss as a
// string and any key missing as 0. Throws qpspread::Error naming the key.
nlohmann::json to_json(const Impairment& imp);
Impairment impairment_from_json(const nlohmann::json& j);

}  // namespace qpspread::wan
