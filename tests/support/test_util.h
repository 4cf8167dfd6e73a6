// Helpers for tests that cross processes and namespaces: run a command, own a namespace.
#pragma once

#include <string>
#include <vector>

#include <linux/bpf.h>

#include "common/netns.h"
#include "common/unique_fd.h"

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

// Someone else's BPF program, named `name`: returns `ret` (XDP_PASS, TC_ACT_OK, TC_ACT_UNSPEC).
UniqueFd load_foreign(bpf_prog_type type, int ret, const char* name = "foreign");

// What sits on a device's tc hook (dir "egress" or "ingress") in the namespace: the clsact filters
// as `tc filter show` prints them, then a line "tcx NAME" per program of its tcx chain ("tcx NAME
// (link)" for one a bpf_link holds), in the
// order they run. "" when nothing does.
std::string tc_hook_listing(const std::string& netns, const std::string& dev, const std::string& dir);
// How many programs named `name` (15 characters at most, as the kernel keeps them) a listing holds.
size_t programs_named(const std::string& listing, const std::string& name);

}  // namespace qpspread::test
