// The Docker-less containerlab runner: the same topology file, nodes as network namespaces named
// as containerlab names them (clab-<lab>-<node>), links as veth pairs named as in the file, FRR
// daemons per router started from the file's frr.conf, sysctls and exec commands applied. WAN
// links with `vars.impairment` pass through a relay namespace whose impairments can change at run
// time (lab_wan.h). Everything made is recorded first (lab_state.h) and undone by down().
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "userspace/lab/clab_file.h"

namespace qpspread::lab {

using Progress = std::function<void(const std::string&)>;

struct UpOptions {
  int timeout_s = 60;  // for not_converged() to come back empty 3 times
  Progress progress;
  // Once converged, start `qpspread agent --lab` with its endpoint here ("": no agent); lab down
  // stops it.
  std::string agent_listen;
};

// {"lab", "converged": bool, "seconds", "not_converged": ["dc1-leaf1: BGP peer eth2 is Active", ...],
// "agent": {"pid", "listen", "log"} when one was started}.
// A lab already up (or left by a crashed up) is taken down first. Throws qpspread::Error when a
// step fails; what was made stays recorded for down().
nlohmann::json lab_up(const ClabTopology& topo, const UpOptions& opts);

// {"lab", "was_up", "processes_ended", "namespaces_removed"}; safe to repeat.
nlohmann::json lab_down(const std::string& lab, const Progress& progress = {});
// The topology of a lab that is up, under the lab's name; throws qpspread::Error (saying to run
// `qpspread lab up`) when it is not.
ClabTopology lab_topology(const std::string& lab);

// Nodes, BGP sessions, BFD peers, VNIs and remote VTEPs (from FRR's JSON), WAN links with their
// impairments and backend, and the recorded events.
nlohmann::json lab_status(const std::string& lab);

// Runs argv in the node's namespace with this process's stdin/stdout/stderr; returns its exit
// status (128 + signal when killed).
int lab_exec(const std::string& lab, const std::string& node, const std::vector<std::string>& argv);

// Failure injection, each with a timestamp in the result and the lab's events: a WAN link is cut
// behind its ends (the relay drops everything, so the routers see no carrier change and only BFD
// can tell); a fabric link's two ends go down. A node stop ends its FRR daemons and takes its
// interfaces down; start brings both back.
nlohmann::json lab_link(const std::string& lab, const std::string& link, bool up);
nlohmann::json lab_node(const std::string& lab, const std::string& node, bool start);

// FRR's view of one router: `<topo.vtysh(node)> -c "<command> json"`; null when it does not answer.
nlohmann::json frr_show(const ClabTopology& topo, const std::string& node, const std::string& command);

// What still keeps the lab from being converged, one line each ("dc1-leaf1: BFD peer eth1/... is
// down"); empty when it is. Every router answers, every BGP session is Established, every BFD
// peer is up, every VTEP lists every other VTEP of its VNIs, and each VTEP's kernel route to a
// remote VTEP has as many next hops as FRR installed. lab_up waits for 3 empty results 1 s apart.
std::vector<std::string> not_converged(const ClabTopology& topo);
// Checks until not_converged() has come back empty 3 times in a row, 1 s apart, or `deadline`
// passes, or an interrupt (common/interrupt.h) comes; returns what was still missing (empty:
// converged; "clean for only N of 3 checks in a row" when that was all).
std::vector<std::string> await_converged(const ClabTopology& topo, std::chrono::steady_clock::time_point deadline);

// The devices of the kernel's next hops for `prefix` (e.g. "10.0.0.12/32") in netns `ns`, one per
// path: read from the route's multipath list, or from its nexthop group when the kernel reports
// only the group id (net.ipv4.nexthop_compat_mode=0). Empty when there is no such route.
std::vector<std::string> kernel_nexthop_devs(const std::string& ns, const std::string& prefix);

}  // namespace qpspread::lab
