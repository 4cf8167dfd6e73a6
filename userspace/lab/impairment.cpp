#include "userspace/lab/impairment.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <span>
#include <utility>

#include "loader/error.h"

namespace qpspread::lab {
namespace {

struct Unit {
  const char* suffix;
  double scale;
};

// A non-negative decimal number followed by one of the units (the longest suffix that matches);
// returns false when the text is not of that form. A bare "0" needs no unit.
bool parse_scaled(const std::string& text, const Unit* units, size_t n_units, double* out) {
  if (text == "0") {
    *out = 0;
    return true;
  }
  double number = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, number, std::chars_format::fixed);
  if (ec != std::errc() || p == text.data() || !std::isfinite(number) || number < 0 || text[0] == '-') return false;
  const std::string suffix(p, end);
  for (size_t i = 0; i < n_units; i++) {
    if (suffix == units[i].suffix) {
      *out = number * units[i].scale;
      return std::isfinite(*out) && *out < 1.8e19;  // fits uint64_t
    }
  }
  return false;
}

// An empty value is 0, as containerlab takes it.
double parse_or_throw(const std::string& flag, const std::string& value, std::span<const Unit> units, double max,
                      const char* what) {
  double v = 0;
  if (!value.empty() && (!parse_scaled(value, units.data(), units.size(), &v) || v > max))
    throw Error(flag + ": '" + value + "' is not " + what);
  return v;
}

std::string trim_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// The largest unit that divides v exactly, so formatting and parsing round-trip.
std::string format_exact(uint64_t v, const std::array<std::pair<uint64_t, const char*>, 4>& units) {
  if (v == 0) return "0";
  for (const auto& [scale, suffix] : units)
    if (v % scale == 0) return std::to_string(v / scale) + suffix;
  return std::to_string(v) + units.back().second;
}

}  // namespace

uint64_t parse_duration_us(const std::string& flag, const std::string& value) {
  // Go's time.ParseDuration units (containerlab), down to what a relay can time.
  static const Unit kUnits[] = {{"s", 1e6}, {"ms", 1e3}, {"us", 1}, {"\u00b5s", 1}, {"ns", 1e-3}};
  return std::llround(parse_or_throw(flag, value, kUnits, 1.8e19, "a duration like 20ms, 1.5ms or 500us"));
}

uint64_t parse_rate_bps(const std::string& flag, const std::string& value) {
  // tc's bit units, decimal like tc. tc's "bps" means bytes per second, an easy slip for bits:
  // it is refused rather than guessed.
  static const Unit kUnits[] = {{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {"tbit", 1e12}};
  return std::llround(parse_or_throw(flag, value, kUnits, 1.8e19,
                                     "a rate like 1gbit, 100mbit or 500kbit (bits per second; 0 = unlimited)"));
}

double parse_loss_percent(const std::string& flag, const std::string& value) {
  static const Unit kUnits[] = {{"", 1}, {"%", 1}};
  return parse_or_throw(flag, value, kUnits, 100, "a loss in percent from 0 to 100, like 0.1");
}

std::string format_duration_us(uint64_t us) {
  return format_exact(us, {{{1000000, "s"}, {1000, "ms"}, {1, "us"}, {1, "us"}}});
}

std::string format_rate_bps(uint64_t bps) {
  return format_exact(bps, {{{1000000000, "gbit"}, {1000000, "mbit"}, {1000, "kbit"}, {1, "bit"}}});
}

std::string describe(const Impairment& imp) {
  if (imp.none()) return "none";
  std::string s;
  auto add = [&s](const std::string& part) { s += (s.empty() ? "" : " ") + part; };
  if (imp.delay_us) add("delay " + format_duration_us(imp.delay_us));
  if (imp.jitter_us) add("jitter " + format_duration_us(imp.jitter_us));
  if (imp.loss_percent > 0) add("loss " + trim_number(imp.loss_percent) + "%");
  if (imp.rate_bps) add("rate " + format_rate_bps(imp.rate_bps));
  return s;
}

Impairment parse_impairment(const std::string& delay, const std::string& jitter, const std::string& loss,
                            const std::string& rate) {
  Impairment imp;
  imp.delay_us = parse_duration_us("--delay", delay);
  imp.jitter_us = parse_duration_us("--jitter", jitter);
  imp.loss_percent = parse_loss_percent("--loss", loss);
  imp.rate_bps = parse_rate_bps("--rate", rate);
  return imp;
}

nlohmann::json to_json(const Impairment& imp) {
  return {{"delay", format_duration_us(imp.delay_us)}, {"jitter", format_duration_us(imp.jitter_us)},
          {"loss", imp.loss_percent}, {"rate", format_rate_bps(imp.rate_bps)}};
}

Impairment impairment_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("impairment: expected an object like {\"delay\": \"20ms\", \"loss\": 0.1}");
  auto text = [&j](const char* key) -> std::string {
    if (!j.contains(key) || j[key].is_null()) return "";
    if (j[key].is_string()) return j[key].get<std::string>();
    if (j[key].is_number() && j[key].get<double>() == 0) return "0";
    throw Error(std::string("\"") + key + "\": " + j[key].dump() + " is not a string like those of the --" + key + " flag");
  };
  for (const auto& [key, _] : j.items())
    if (key != "delay" && key != "jitter" && key != "loss" && key != "rate")
      throw Error("impairment: unknown key \"" + key + "\" (known: delay, jitter, loss, rate)");
  Impairment imp;
  imp.delay_us = parse_duration_us("\"delay\"", text("delay"));
  imp.jitter_us = parse_duration_us("\"jitter\"", text("jitter"));
  if (j.contains("loss") && j["loss"].is_number()) {
    imp.loss_percent = j["loss"].get<double>();
    if (!(imp.loss_percent >= 0 && imp.loss_percent <= 100))
      throw Error("\"loss\": " + j["loss"].dump() + " is not a loss in percent from 0 to 100");
  } else {
    imp.loss_percent = parse_loss_percent("\"loss\"", text("loss"));
  }
  imp.rate_bps = parse_rate_bps("\"rate\"", text("rate"));
  return imp;
}

}  // namespace qpspread::lab
