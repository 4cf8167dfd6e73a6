// A workload host named on the command line: NS:IP:MAC, NS:IP or NS; what is missing is read
// from the interface in that namespace (the lab runner's hosts are clab-<lab>-<node> with eth1).
#pragma once

#include <string>

#include "userspace/workload/rc_host.h"

namespace qpspread::lab {

// Throws qpspread::Error naming the host and what to check.
workload::HostAddr resolve_host(const std::string& spec, const std::string& ifname = "eth1");

}  // namespace qpspread::lab
