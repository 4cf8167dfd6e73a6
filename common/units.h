// Rates, durations and loss in netem's syntax (`tc netem`, `containerlab tools netem set`): the one
// parser of each, used by every command and file that takes one (workload --rate, demo, lab
// impair, topology vars, the relay). Values are typed here, where they enter.
#pragma once

#include <cstdint>
#include <string>

namespace qpspread {

// Each throws qpspread::Error naming the flag and the accepted syntax:
// "--delay: '20xs' is not a duration like 20ms, 1.5ms or 500us". An empty value means 0 (no
// delay, no loss, unlimited rate), as with containerlab.
uint64_t parse_duration_us(const std::string& flag, const std::string& value);  // s, ms, us, ns; "0"
uint64_t parse_rate_bps(const std::string& flag, const std::string& value);     // bit..tbit (SI); "0"
double parse_loss_percent(const std::string& flag, const std::string& value);   // 0..100, '%' optional
// Bytes: a whole number, bare or with b, kb, mb, gb (1000-based); "" is 0.
uint64_t parse_size_bytes(const std::string& flag, const std::string& value);
// A 24-bit RoCE queue pair number, 0x37e9a4 or decimal.
uint32_t parse_qpn(const std::string& flag, const std::string& value);
// The shortest exact spelling of a size: 64kb, 1500b (parse_size_bytes reads it back).
std::string format_size_bytes(uint64_t bytes);

// The shortest exact netem-style spelling: 20ms, 1500us, 1gbit, 0.
std::string format_duration_us(uint64_t us);
std::string format_rate_bps(uint64_t bps);
// "%.6g": 0.1, 12.5.
std::string format_number(double v);

// For people, not for parsing back: human_bytes(1536) is "1.5 KiB"; a rate with SI prefixes, as
// link speeds are given: human_rate(1.2e9, "bit/s") is "1.2 Gbit/s".
std::string human_bytes(uint64_t bytes);
std::string human_rate(double per_second, const char* unit);

}  // namespace qpspread
