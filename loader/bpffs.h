// bpffs: where qpspread pins its maps, one directory per network namespace.
#pragma once

#include <sys/types.h>

#include <string>

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

}  // namespace qpspread
