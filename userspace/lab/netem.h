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

// What impairs one end's egress: without ECN marking the one root netem above (containerlab's
// layout); with it, netem cannot mark, so a RED qdisc with `ecn` goes at the root (handle 3:) and
// the netem under it (parent 3:1, handle 4:), RED's thresholds raised by netem's delay line (rate x
// delay: RED counts its child's backlog, and netem's includes the frames being delayed). RED then
// marks ECN-capable frames by its average queue and drops the others early with the same
// probability, where qpspread's relay marks by the instantaneous queue and only tail-drops. The
// handles differ from the plain layout's 1: so that a replace switches between the two.
std::vector<std::vector<std::string>> qdisc_commands(const std::string& netns, const std::string& ifname,
                                                     const wan::Impairment& imp);

}  // namespace qpspread::lab
