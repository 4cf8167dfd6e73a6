#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "common/error.h"

namespace qpspread {
namespace {

// /proc/PID/stat, or "" once the process is gone. Read with read(2): a process that ends between
// the open and the read makes the read fail with ESRCH, which std::ifstream turns into an
// exception ("basic_filebuf::underflow").
std::string proc_stat(pid_t pid) {
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// A child that ended stays a zombie until its parent reaps it: kill(pid, 0) still succeeds, so
// the state letter (field 3) tells whether it runs.
bool runs(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  const std::string stat = proc_stat(pid);
  if (stat.empty()) return false;
  const size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

}  // namespace

unsigned long long process_start_ticks(pid_t pid) {
  const std::string stat = proc_stat(pid);
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; i++)
    if (i == 22) return std::stoull(field);
  return 0;
}

pid_t wait_for_pidfile(const std::string& path, std::chrono::milliseconds timeout, pid_t alive_pid) {
  for (auto deadline = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < deadline;) {
    std::ifstream f(path);
    pid_t pid = 0;
    if (f >> pid && pid > 0) return pid;
    if (alive_pid > 0 && !runs(alive_pid)) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw Error("cannot find the qpspread binary (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

pid_t spawn_daemon(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid < 0) throw Error("cannot fork");
  if (pid == 0) {
    ::setsid();
    const int null = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

}  // namespace qpspread
