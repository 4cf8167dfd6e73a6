#include "userspace/cli/output.h"

#include <cstdio>
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

std::string human_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

}  // namespace qpspread::cli
