// The convergence checks of a test fabric, from FRR's JSON output and one ping.
#pragma once

#include <string>
#include <vector>

namespace qpspread::lab {

class TestFabric;

struct FabricChecks {
  const TestFabric& fabric;
  // "" when converged, otherwise the first check that is not yet true, naming node and check.
  std::string pending() const;
};

// The devices of the kernel's next hops for `prefix` (e.g. "10.0.0.12/32") in netns `ns`, one per
// path: read from the route's multipath list, or from its nexthop group when the kernel reports
// only the group id (net.ipv4.nexthop_compat_mode=0). Empty when there is no such route.
std::vector<std::string> kernel_nexthop_devs(const std::string& ns, const std::string& prefix);

}  // namespace qpspread::lab
