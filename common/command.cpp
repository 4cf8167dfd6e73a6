#include "common/command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.h"

namespace qpspread {
namespace {

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ::lseek(fd, 0, SEEK_SET);
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

int temp_fd() {
  char path[] = "/tmp/qpspread-cmdXXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) throw Error(errno_text("mkstemp", errno));
  ::unlink(path);
  return fd;
}

}  // namespace

CommandOutput run_command(const std::vector<std::string>& argv) {
  // Output goes to unlinked temporary files: a chatty child can never block on a full pipe.
  const int out_fd = temp_fd(), err_fd = temp_fd();
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(errno_text("fork", errno));
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  CommandOutput res;
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  res.out = read_all(out_fd);
  res.err = read_all(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  return res;
}

std::string run_checked(const std::vector<std::string>& argv) {
  CommandOutput r = run_command(argv);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw Error("'" + cmd + "' failed (exit " + std::to_string(r.exit_code) + "): " + r.err);
  }
  return r.out;
}

}  // namespace qpspread
