#include "tests/support/test_util.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "common/command.h"

namespace qpspread::test {
namespace {

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

CommandResult run(const std::vector<std::string>& argv) {
  CommandOutput r = run_command(argv);
  return {r.exit_code, r.out, r.err};
}

std::string run_ok(const std::vector<std::string>& argv) {
  CommandResult r = run(argv);
  if (r.exit_code != 0) ADD_FAILURE() << joined(argv) << " exited " << r.exit_code << ": " << r.err;
  return r.out;
}

ScopedNetns::ScopedNetns(const std::string& prefix, bool exact_name) {
  static std::atomic<int> counter{0};
  name_ = exact_name ? prefix : prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  CommandResult r = run({"ip", "netns", "add", name_});
  if (r.exit_code != 0) throw std::runtime_error("ip netns add " + name_ + ": " + r.err);
  run({"ip", "-n", name_, "link", "set", "lo", "up"});
}

ScopedNetns::~ScopedNetns() { run({"ip", "netns", "del", name_}); }

std::string ScopedNetns::ip(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"ip", "-n", name_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_ok(argv);
}

bool is_root() { return ::geteuid() == 0; }

}  // namespace qpspread::test
