// bpffs: where qpspread pins its maps, one directory per network namespace.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>

#include "common/unique_fd.h"

namespace qpspread {

inline constexpr const char* kBpffsRoot = "/sys/fs/bpf";
inline constexpr const char* kPinRoot = "/sys/fs/bpf/qpspread";

// Mounts bpffs at /sys/fs/bpf when it is not mounted (it is not at boot on Debian).
void ensure_bpffs();
// /sys/fs/bpf/qpspread/<netns inode>: ifindexes are per namespace, so pins are keyed by it.
std::string pin_dir_for(ino_t netns_inode);
// Creates the directory (and the parents qpspread owns) with mode 0700: counters and modes are
// not for other users to read or change.
void make_pin_dir(const std::string& dir);
bool path_exists(const std::string& path);

// Held by the commands that change pins and hooks (attach, detach, mode, port assignment), so that
// two of them (a user's attach while the agent re-attaches) run in turn, not interleaved: an
// exclusive flock(2) on /sys/fs/bpf/qpspread, as libxdp locks its bpffs directory. One lock for
// every namespace (the pin directories come and go; the root stays). Released when destroyed, or
// when the process ends however it ends.
class PinLock {
 public:
  // Mounts bpffs and creates the root if needed; waits up to `wait` for the holder, then throws
  // naming it.
  static PinLock acquire(std::chrono::milliseconds wait = std::chrono::seconds(30));

 private:
  explicit PinLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace qpspread
