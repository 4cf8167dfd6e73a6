// How a command's result reaches the user: a plain table, or JSON (-j, -p pretty) that a script
// can always parse, errors included ({"error": "..."}), as bpftool does.
#pragma once

#include <nlohmann/json.hpp>

#include "common/units.h"

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
// The same for a result already written as compact JSON text (a large one: printed as it is with
// -j, parsed only for -p or for `plain`).
void emit_text(const OutputOptions& out, const std::string& json_text,
               const std::function<void(const nlohmann::json&)>& plain);
void emit_error(const OutputOptions& out, const std::string& message);

}  // namespace qpspread::cli
