// `lab impair` for both runners. A lab up under qpspread (its state in /run/qpspread/lab/<lab>)
// goes through its WAN backend (wan_impair). A lab deployed by containerlab (namespaces
// clab-<lab>-<node>, nothing of qpspread's) gets `tc netem` on both ends of the link, the qdisc
// `containerlab tools netem set` makes; its topology's vars.impairment, which containerlab leaves
// as template data, is applied by `lab impair --from-file`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "userspace/lab/clab_file.h"
#include "userspace/wan/impairment.h"

namespace qpspread::lab {

// The tc commands that set `imp` on link `l` of `t` (t.name is the lab's name): one per end, on
// its egress, so that each direction is impaired once, as the runner's netem backend does.
std::vector<std::vector<std::string>> clab_netem_commands(const ClabTopology& t, const ClabLink& l,
                                                          const wan::Impairment& imp);

// One WAN link (vars.name or NODE:IF). Under qpspread: the state's topology, as wan_impair. On a
// containerlab lab: `topology` read under the name `lab`, a flag not given taking the file's
// vars.impairment (qpspread keeps nothing of such a lab). {"link", "backend", "impairment", "time",
// "runner", and on containerlab "commands"}. Throws Error naming the lab and what to check when
// neither runner has it, or this kernel has no sch_netem; nothing is changed then.
nlohmann::json lab_impair(const std::string& lab, const std::filesystem::path& topology, const std::string& link,
                          const wan::ImpairmentChange& change);
// Every WAN link of `topology` set to its vars.impairment. Everything is checked before the first
// link changes. {"lab", "runner", "links": [as lab_impair]}.
nlohmann::json lab_impair_from_file(const std::string& lab, const std::filesystem::path& topology);

}  // namespace qpspread::lab
