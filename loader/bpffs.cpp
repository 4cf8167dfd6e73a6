#include "loader/bpffs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <linux/magic.h>

#include "common/error.h"

namespace qpspread {

bool path_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

void ensure_bpffs() {
  struct statfs fs{};
  if (::statfs(kBpffsRoot, &fs) == 0 && fs.f_type == BPF_FS_MAGIC) return;
  if (::mount("bpf", kBpffsRoot, "bpf", 0, "mode=0700") != 0) {
    const int err = errno;
    throw Error(errno_text(std::string("bpffs is not mounted at ") + kBpffsRoot +
                               " and mounting it failed",
                           err) +
                "; mount it with 'mount -t bpf bpf /sys/fs/bpf'" +
                (err == EPERM ? " as root" : ""));
  }
}

std::string pin_dir_for(ino_t netns_inode) {
  return std::string(kPinRoot) + "/" + std::to_string(netns_inode);
}

static void make_dir_0700(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw Error(errno_text("cannot create pin directory " + dir, errno) +
                (errno == EACCES || errno == EPERM ? " (run as root)" : ""));
  ::chmod(dir.c_str(), 0700);
}

void make_pin_dir(const std::string& dir) {
  make_dir_0700(kPinRoot);
  make_dir_0700(dir);
}

namespace {

// Who holds the flock on `fd`'s file, from /proc/locks: "PID (comm)", or "" when it cannot be told.
std::string lock_holder(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return "";
  char id[64];
  std::snprintf(id, sizeof(id), "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long>(st.st_ino));
  std::ifstream locks("/proc/locks");
  for (std::string line; std::getline(locks, line);) {
    std::istringstream in(line);
    std::string num, kind, advisory, access, pid, where;
    in >> num >> kind;
    if (kind == "->") continue;  // a waiter
    in >> advisory >> access >> pid >> where;
    if (kind != "FLOCK" || where != id) continue;
    std::ifstream comm_file("/proc/" + pid + "/comm");
    std::string comm;
    std::getline(comm_file, comm);
    return comm.empty() ? "process " + pid : "process " + pid + " (" + comm + ")";
  }
  return "";
}

}  // namespace

PinLock PinLock::acquire(std::chrono::milliseconds wait) {
  ensure_bpffs();
  make_dir_0700(kPinRoot);
  UniqueFd fd(::open(kPinRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    throw Error(errno_text(std::string("cannot open ") + kPinRoot + " to lock it", err) +
                (err == EACCES || err == EPERM ? " (run as root)" : ""));
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) throw Error(errno_text(std::string("cannot lock ") + kPinRoot, errno));
    if (std::chrono::steady_clock::now() >= deadline) {
      const std::string holder = lock_holder(fd.get());
      throw Error(std::string("waited ") +
                  (wait.count() % 1000 ? std::to_string(wait.count()) + " ms" : std::to_string(wait.count() / 1000) + " s") +
                  " for the lock on " + kPinRoot + " (held while qpspread attaches, detaches, changes a mode or assigns ports)" +
                  (holder.empty() ? "" : ", held by " + holder) + "; try again when that has ended");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return PinLock(std::move(fd));
}
}  // namespace qpspread
