// demo: placeholder registration; the fabric demo is wired in once the test fabric lands.
#include "userspace/cli/commands.h"

namespace qpspread::cli {
void register_demo_command(CLI::App& /*app*/, Context& /*ctx*/) {}
}  // namespace qpspread::cli
