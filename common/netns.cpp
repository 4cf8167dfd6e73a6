#include "common/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <cerrno>
#include <algorithm>
#include <exception>
#include <filesystem>
#include <thread>

#include "common/error.h"

namespace qpspread {

Netns Netns::open(const std::string& name_or_path) {
  if (name_or_path.empty()) throw Error("empty network namespace name");
  const bool is_path = name_or_path.find('/') != std::string::npos;
  const std::string path = is_path ? name_or_path : netns_path(name_or_path);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT)
      throw Error("network namespace '" + name_or_path + "' not found (" + path +
                  "); list them with 'ip netns list', or pass /proc/PID/ns/net");
    throw Error(errno_text("cannot open network namespace " + path, err) +
                (err == EACCES ? " (run as root)" : ""));
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw Error(errno_text("stat " + path, errno));
  // A namespace file is on nsfs; anything else (a plain file, a stale name) is not a namespace.
  struct stat self{};
  if (::stat("/proc/self/ns/net", &self) == 0 && st.st_dev != self.st_dev)
    throw Error("'" + path + "' is not a network namespace (is it mounted? try 'ip netns list')");
  return Netns(name_or_path, path, std::move(fd), st.st_ino);
}

Netns Netns::current() {
  const std::string path = "/proc/thread-self/ns/net";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw Error(errno_text("cannot open " + path, errno));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw Error(errno_text("stat " + path, errno));
  return Netns("(current)", path, std::move(fd), st.st_ino);
}

void Netns::enter() const {
  if (::setns(fd_.get(), CLONE_NEWNET) != 0) {
    const int err = errno;
    throw Error(errno_text("cannot enter network namespace " + name_, err) + (err == EPERM ? " (run as root)" : ""));
  }
}

void Netns::run(const std::function<void()>& fn) const {
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      enter();
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) std::rethrow_exception(failure);
}

std::string netns_path(const std::string& name) { return "/run/netns/" + name; }

bool netns_exists(const std::string& name) {
  struct stat st{};
  return ::stat(netns_path(name).c_str(), &st) == 0;
}

std::vector<std::string> netns_names() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(netns_path(""), ec)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

std::string clab_netns_name(const std::string& lab, const std::string& node) {
  return "clab-" + lab + "-" + node;
}

}  // namespace qpspread
