#include "common/yaml_field.h"

#include <charconv>

#include "common/error.h"

namespace qpspread::yaml {

Where::Where(const std::filesystem::path& file, const YAML::Node& n, std::string key)
    : text_(file.filename().string() + ":" + std::to_string(n.Mark().line + 1) + ": " + key), key_(std::move(key)) {}

void Where::fail(const std::string& problem) const { throw Error(text_ + ": " + problem); }

YAML::Node load(const std::string& text, const std::filesystem::path& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(file.filename().string() + ":" + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
  }
}

std::string scalar(const Where& w, const YAML::Node& n) {
  if (!n.IsScalar()) w.fail("expected a single value");
  return n.Scalar();
}

int64_t integer(const Where& w, const YAML::Node& n, int64_t lo, int64_t hi) {
  const std::string s = scalar(w, n);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi)
    w.fail("'" + s + "' is not an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  return v;
}

uint64_t unsigned_c(const Where& w, const YAML::Node& n, uint64_t lo, uint64_t hi) {
  const std::string s = scalar(w, n);
  const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  const char* first = s.data() + (hex ? 2 : 0);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(first, s.data() + s.size(), v, hex ? 16 : 10);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi)
    w.fail("'" + s + "' is not a number from " + std::to_string(lo) + " to " + std::to_string(hi) +
           " (decimal, or hexadecimal like 0x5150)");
  return v;
}

std::string one_of(const Where& w, const YAML::Node& n, std::initializer_list<const char*> allowed) {
  const std::string s = scalar(w, n);
  std::string list;
  for (const char* a : allowed) {
    if (s == a) return s;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  w.fail("'" + s + "' is not one of " + list);
}

bool boolean(const Where& w, const YAML::Node& n) {
  const std::string s = scalar(w, n);
  if (s == "true") return true;
  if (s == "false") return false;
  w.fail("'" + s + "' is not true or false");
}

}  // namespace qpspread::yaml
