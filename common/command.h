// Running a program (no shell) and reading what it printed: for iproute2, sysctl and vtysh.
#pragma once

#include <string>
#include <vector>

namespace qpspread {

struct CommandOutput {
  int exit_code = -1;
  std::string out, err;
};

CommandOutput run_command(const std::vector<std::string>& argv);
// Throws qpspread::Error with the command and its stderr when it exits non-zero.
std::string run_checked(const std::vector<std::string>& argv);

}  // namespace qpspread
