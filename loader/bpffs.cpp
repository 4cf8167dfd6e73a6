#include "loader/bpffs.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>

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

}  // namespace qpspread
