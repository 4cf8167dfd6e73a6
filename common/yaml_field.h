// Reading a YAML file a user wrote (experiment specs, the agent's config): every error names the
// file, the line and the key, and what the value should have been ("agent.yml:12: vnis.100.mode:
// 'fast' is not one of off, qp-hash, balance"). One place for these rules, so every file qpspread
// reads answers bad input alike.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>

namespace qpspread::yaml {

// Where a value sits: "spec.yml:12: fixed.qps", the prefix of every error about it.
class Where {
 public:
  Where(const std::filesystem::path& file, const YAML::Node& n, std::string key);
  [[noreturn]] void fail(const std::string& problem) const;
  const std::string& text() const { return text_; }
  const std::string& key() const { return key_; }

 private:
  std::string text_, key_;
};

// The document, or an Error "file:LINE: not YAML: ...".
YAML::Node load(const std::string& text, const std::filesystem::path& file);

std::string scalar(const Where& w, const YAML::Node& n);
int64_t integer(const Where& w, const YAML::Node& n, int64_t lo, int64_t hi);
// An integer as C writes it: decimal, or 0x-prefixed hexadecimal (marks, masks).
uint64_t unsigned_c(const Where& w, const YAML::Node& n, uint64_t lo, uint64_t hi);
std::string one_of(const Where& w, const YAML::Node& n, std::initializer_list<const char*> allowed);
bool boolean(const Where& w, const YAML::Node& n);

}  // namespace qpspread::yaml
