#include "tests/support/test_util.h"

#include <bpf/bpf.h>
#include <net/if.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <stdexcept>

#include "common/command.h"
#include "common/unique_fd.h"
#include "loader/tc_hook.h"

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

UniqueFd load_foreign(bpf_prog_type type, int ret, const char* name) {
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = ret},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  return UniqueFd(bpf_prog_load(type, name, "GPL", insns, 2, nullptr));
}

std::string tc_hook_listing(const std::string& netns, const std::string& dev, const std::string& dir) {
  std::string out = run({"tc", "-n", netns, "filter", "show", "dev", dev, dir}).out;
  Netns::open(netns).run([&] {
    const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    if (!ifindex) return;
    for (const TcxProgram& p : tcx_programs(ifindex, dir == "egress" ? TcDir::egress : TcDir::ingress))
      out += "tcx " + p.name + (p.link_owned ? " (link)" : "") + "\n";
  });
  return out;
}

size_t programs_named(const std::string& listing, const std::string& name) {
  // A clsact filter's line names its program twice (NAME:[ID] ... name NAME), a tcx line once.
  std::istringstream in(listing);
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    n += line.find(" " + name) != std::string::npos;
  return n;
}

}  // namespace qpspread::test
