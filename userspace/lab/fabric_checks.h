// The convergence checks of a test fabric, from FRR's JSON output and one ping.
#pragma once

#include <string>

namespace qpspread::lab {

class TestFabric;

struct FabricChecks {
  const TestFabric& fabric;
  // "" when converged, otherwise the first check that is not yet true, naming node and check.
  std::string pending() const;
};

}  // namespace qpspread::lab
