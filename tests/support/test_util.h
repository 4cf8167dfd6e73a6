// Helpers for tests that cross processes and namespaces: run a command, own a namespace.
#pragma once

#include <string>
#include <vector>

#include "common/netns.h"

namespace qpspread::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv (no shell), captures stdout and stderr.
CommandResult run(const std::vector<std::string>& argv);
// Runs argv and fails the current test (ADD_FAILURE) when it exits non-zero.
std::string run_ok(const std::vector<std::string>& argv);

// A uniquely named network namespace, removed on destruction whatever happened in the test.
class ScopedNetns {
 public:
  // prefix-PID-N, or exactly `name` when exact_name (containerlab-style names).
  explicit ScopedNetns(const std::string& prefix, bool exact_name = false);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;
  const std::string& name() const { return name_; }
  // `ip -n NAME args...`
  std::string ip(const std::vector<std::string>& args) const;

 private:
  std::string name_;
};

bool is_root();

}  // namespace qpspread::test
