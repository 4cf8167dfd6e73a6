#include "userspace/cli/output.h"

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

void emit_text(const OutputOptions& out, const std::string& json_text,
               const std::function<void(const nlohmann::json&)>& plain) {
  if (out.json && !out.pretty) {
    std::cout << json_text << "\n";
    return;
  }
  emit(out, nlohmann::json::parse(json_text), plain);
}

void emit_error(const OutputOptions& out, const std::string& message) {
  if (out.json || out.pretty) {
    nlohmann::json j = {{"error", message}};
    std::cout << j.dump(out.pretty ? 2 : -1) << "\n";
  } else {
    std::cerr << "qpspread: " << message << "\n";
  }
}

}  // namespace qpspread::cli
