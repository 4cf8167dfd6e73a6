// The one builder of `tc netem` commands, used by the runner's netem backend (lab_wan.cpp) and on a
// lab deployed by containerlab (clab_impair.cpp), so both set a link's impairment alike.
#pragma once

#include <string>
#include <vector>

#include "userspace/wan/impairment.h"

namespace qpspread::lab {

// What follows `tc qdisc replace dev IF root`: handle 1: netem limit 10000 delay D [J] loss L% rate R.
// Every value is written, also when 0, so that a replace sets the whole impairment: the kernel
// keeps a netem qdisc's old rate when a change carries none.
std::vector<std::string> netem_qdisc_args(const wan::Impairment& imp);
// tc -n NETNS qdisc replace dev IFNAME root <netem_qdisc_args>: the egress of that one end.
std::vector<std::string> netem_command(const std::string& netns, const std::string& ifname, const wan::Impairment& imp);

}  // namespace qpspread::lab
