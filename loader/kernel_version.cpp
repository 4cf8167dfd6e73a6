#include "loader/kernel_version.h"

#include <sys/utsname.h>

#include <cstdio>

namespace qpspread {

std::optional<KernelVersion> parse_kernel_release(const std::string& release) {
  KernelVersion v;
  int consumed = 0;
  if (std::sscanf(release.c_str(), "%d.%d%n", &v.major, &v.minor, &consumed) != 2) return std::nullopt;
  if (release[static_cast<size_t>(consumed)] == '.') std::sscanf(release.c_str() + consumed + 1, "%d", &v.patch);
  return v;
}

std::optional<KernelVersion> running_kernel() {
  utsname u{};
  if (::uname(&u) != 0) return std::nullopt;
  return parse_kernel_release(u.release);
}

std::optional<std::string> multipath_source_warning(const KernelVersion& v) {
  if (v < KernelVersion{6, 16, 0} || v >= KernelVersion{6, 18, 4}) return std::nullopt;
  return "Linux " + std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch) +
         " (6.16 to 6.18.3) sends VXLAN from a loopback VTEP address by one leg of a classic multipath route, "
         "whatever the outer port (fixed in 6.18.4 by 6e17474aa9fe): route the remote VTEPs by nexthop groups "
         "(nexthop objects) or run a newer kernel, or qpspread's spreading will not show";
}

}  // namespace qpspread
