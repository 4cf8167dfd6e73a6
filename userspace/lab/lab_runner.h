// The Docker-less containerlab runner: the same topology file, nodes as network namespaces named
// as containerlab names them (clab-<lab>-<node>), links as veth pairs named as in the file, FRR
// daemons per router started from the file's frr.conf, sysctls and exec commands applied. WAN
// links with `vars.impairment` pass through a relay namespace whose impairments can change at run
// time (lab_wan.h). Everything made is recorded first (lab_state.h) and undone by down().
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "userspace/lab/clab_file.h"

namespace qpspread::lab {

using Progress = std::function<void(const std::string&)>;

struct UpOptions {
  int timeout_s = 60;  // for BGP, BFD and EVPN to converge
  Progress progress;
};

// {"lab", "converged": bool, "seconds", "not_converged": ["dc1-leaf1: BGP peer eth2 is Active", ...]}.
// A lab already up (or left by a crashed up) is taken down first. Throws qpspread::Error when a
// step fails; what was made stays recorded for down().
nlohmann::json lab_up(const ClabTopology& topo, const UpOptions& opts);

// {"lab", "was_up", "processes_ended", "namespaces_removed"}; safe to repeat.
nlohmann::json lab_down(const std::string& lab, const Progress& progress = {});

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

// FRR's view of one router: `vtysh -N ns -c "<command> json"`; null when it does not answer.
nlohmann::json frr_show(const std::string& netns, const std::string& command);

}  // namespace qpspread::lab
