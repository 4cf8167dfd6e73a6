#include "userspace/cli/output.h"

#include <cstdio>
#include <initializer_list>
#include <iostream>

namespace qpspread::cli {

void emit(const OutputOptions& out, const nlohmann::json& result,
          const std::function<void(const nlohmann::json&)>& plain) {
  if (out.json || out.pretty) {
    std::cout << result.dump(out.pretty ? 2 : -1) << "\n";
    return;
  }
  plain(result);
}

void emit_error(const OutputOptions& out, const std::string& message) {
  if (out.json || out.pretty) {
    nlohmann::json j = {{"error", message}};
    std::cout << j.dump(out.pretty ? 2 : -1) << "\n";
  } else {
    std::cerr << "qpspread: " << message << "\n";
  }
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

}  // namespace qpspread::cli
