#include "tests/common/test_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace qpspread::test {
namespace {

std::string drain(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

CommandResult run(const std::vector<std::string>& argv) {
  // stdout and stderr go to temporary files: no pipe can fill up and block the child.
  char out_path[] = "/tmp/qpspread-test-outXXXXXX";
  char err_path[] = "/tmp/qpspread-test-errXXXXXX";
  int out_fd = ::mkstemp(out_path), err_fd = ::mkstemp(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  CommandResult res;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::lseek(out_fd, 0, SEEK_SET);
  ::lseek(err_fd, 0, SEEK_SET);
  res.out = drain(out_fd);
  res.err = drain(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  return res;
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
