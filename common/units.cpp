#include "common/units.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <span>
#include <utility>

#include "common/error.h"

namespace qpspread {
namespace {

struct Unit {
  const char* suffix;
  double scale;
};

// A non-negative decimal number followed by one of the units (the longest suffix that matches);
// returns false when the text is not of that form. A bare "0" needs no unit.
bool parse_scaled(const std::string& text, std::span<const Unit> units, double* out) {
  if (text == "0") {
    *out = 0;
    return true;
  }
  double number = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, number, std::chars_format::fixed);
  if (ec != std::errc() || p == text.data() || !std::isfinite(number) || number < 0 || text[0] == '-') return false;
  const std::string suffix(p, end);
  for (const Unit& u : units) {
    if (suffix == u.suffix) {
      *out = number * u.scale;
      return std::isfinite(*out) && *out < 1.8e19;  // fits uint64_t
    }
  }
  return false;
}

// An empty value is 0, as containerlab takes it.
double parse_or_throw(const std::string& flag, const std::string& value, std::span<const Unit> units, double max,
                      const char* what) {
  double v = 0;
  if (!value.empty() && (!parse_scaled(value, units, &v) || v > max))
    throw Error(flag + ": '" + value + "' is not " + what);
  return v;
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

uint64_t parse_size_bytes(const std::string& flag, const std::string& value) {
  static const Unit kUnits[] = {{"", 1}, {"b", 1}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}};
  const double v = parse_or_throw(flag, value, kUnits, 1.8e19, "a size in bytes like 4096, 64kb or 1mb");
  if (v != std::floor(v)) throw Error(flag + ": '" + value + "' is not a whole number of bytes");
  return static_cast<uint64_t>(v);
}

uint32_t parse_qpn(const std::string& flag, const std::string& value) {
  const bool hex = value.starts_with("0x") || value.starts_with("0X");
  const std::string digits = hex ? value.substr(2) : value;
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, hex ? 16 : 10);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || v > 0xffffff)
    throw Error(flag + ": '" + value + "' is not a QP number like 0x37e9a4 or 3664292 (24 bits)");
  return v;
}

std::string format_size_bytes(uint64_t bytes) {
  return format_exact(bytes, {{{1000000000, "gb"}, {1000000, "mb"}, {1000, "kb"}, {1, "b"}}});
}

std::string format_duration_us(uint64_t us) {
  return format_exact(us, {{{1000000, "s"}, {1000, "ms"}, {1, "us"}, {1, "us"}}});
}

std::string format_rate_bps(uint64_t bps) {
  return format_exact(bps, {{{1000000000, "gbit"}, {1000000, "mbit"}, {1000, "kbit"}, {1, "bit"}}});
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

namespace {

// `v` in the largest of `units` (each `step` times the one before) that keeps it at 1 or more.
std::string scaled(double v, double step, std::initializer_list<const char*> units, const char* suffix) {
  auto u = units.begin();
  while (v >= step && u + 1 != units.end()) {
    v /= step;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == units.begin() ? "%.0f %s%s" : "%.1f %s%s", v, *u, suffix);
  return buf;
}

}  // namespace

std::string human_bytes(uint64_t bytes) {
  return scaled(static_cast<double>(bytes), 1024, {"B", "KiB", "MiB", "GiB", "TiB"}, "");
}

std::string human_rate(double per_second, const char* unit) {
  return scaled(per_second, 1000, {"", "k", "M", "G", "T"}, unit);
}

}  // namespace qpspread
