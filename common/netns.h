// Network namespaces: a handle that names one, and a way to run code inside it.
//
// Code runs in the namespace on a dedicated thread that called setns(CLONE_NEWNET): the calling
// thread's namespace never changes, and unlike `ip netns exec` the mount namespace (and so bpffs
// under /sys/fs/bpf) stays the caller's.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace qpspread {

class Netns {
 public:
  // NAME (looked up as /run/netns/NAME, where `ip netns add` and containerlab link them) or a path
  // such as /proc/PID/ns/net. Throws Error naming the namespace and what to check.
  static Netns open(const std::string& name_or_path);
  // The namespace of the calling thread.
  static Netns current();

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  ino_t inode() const { return inode_; }
  int fd() const { return fd_.get(); }

  // Moves the calling thread into this namespace (setns): for a thread that stays there (a rank
  // of the workload, a relay) or a forked child about to exec. Throws Error.
  void enter() const;
  // Runs fn on a thread inside this namespace and waits; exceptions propagate to the caller.
  void run(const std::function<void()>& fn) const;

 private:
  Netns(std::string name, std::string path, UniqueFd fd, ino_t inode)
      : name_(std::move(name)), path_(std::move(path)), fd_(std::move(fd)), inode_(inode) {}
  std::string name_;
  std::string path_;
  UniqueFd fd_;
  ino_t inode_ = 0;
};

// Where `ip netns add` (and containerlab) link a named namespace: /run/netns/NAME.
std::string netns_path(const std::string& name);
// True when /run/netns/NAME exists.
bool netns_exists(const std::string& name);
// The names linked under /run/netns, sorted.
std::vector<std::string> netns_names();

// The containerlab name of a node's namespace: clab-<lab>-<node>.
std::string clab_netns_name(const std::string& lab, const std::string& node);

}  // namespace qpspread
