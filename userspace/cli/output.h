// How a command's result reaches the user: a plain table, or JSON (-j, -p pretty) that a script
// can always parse, errors included ({"error": "..."}), as bpftool does.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace qpspread::cli {

struct OutputOptions {
  bool json = false;
  bool pretty = false;
};

// Prints `result` as JSON, or calls `plain` to print it for people.
void emit(const OutputOptions& out, const nlohmann::json& result,
          const std::function<void(const nlohmann::json&)>& plain);
void emit_error(const OutputOptions& out, const std::string& message);

std::string human_bytes(uint64_t bytes);
// A rate with SI prefixes, as link speeds are given: human_rate(1.2e9, "bit/s") is "1.2 Gbit/s".
std::string human_rate(double per_second, const char* unit);

}  // namespace qpspread::cli
