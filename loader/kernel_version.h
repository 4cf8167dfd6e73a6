// The running kernel's version, and what qpspread warns about on known kernels.
#pragma once

#include <optional>
#include <string>

namespace qpspread {

struct KernelVersion {
  int major = 0, minor = 0, patch = 0;
  auto operator<=>(const KernelVersion&) const = default;
};

// "6.18.44-fc-v1045" -> 6.18.44; nullopt when the text does not start with MAJOR.MINOR.
std::optional<KernelVersion> parse_kernel_release(const std::string& release);
// uname -r of this machine.
std::optional<KernelVersion> running_kernel();

// Kernels 6.16 to 6.18.3 preferred, among the legs of a classic multipath route, the one whose
// source address matched: VXLAN from a loopback VTEP address then left by one next hop whatever
// the outer port (fixed by 6e17474aa9fe in 6.18.4; nexthop groups were not affected). The warning
// attach gives on such a kernel, or nullopt.
std::optional<std::string> multipath_source_warning(const KernelVersion& v);

}  // namespace qpspread
