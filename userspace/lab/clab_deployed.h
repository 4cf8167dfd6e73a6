// A lab deployed by containerlab, which qpspread drives without any state of its own (lab_runner.h
// is qpspread's own runner): every node a container and a network namespace, both named
// clab-<lab>-<node>. What a study needs of such a lab, each as the commands that do it: that it is
// there, its WAN links impaired (tc netem, as `containerlab tools netem set` does), a link cut and
// restored, a node stopped and started. containerlab cannot run on qpspread's test machines (no
// Docker engine), so the tests check the commands built here.
#pragma once

#include <string>
#include <vector>

#include "userspace/lab/clab_file.h"
#include "userspace/wan/impairment.h"

namespace qpspread::lab {

using Commands = std::vector<std::vector<std::string>>;

// What keeps t (t.name the lab's name) from being the deployed lab the file describes: a node's
// namespace missing, an interface of a link missing; empty when nothing does.
std::vector<std::string> clab_not_deployed(const ClabTopology& t);

// A link cut (up = false) or restored. A WAN link is cut behind its ends, as qpspread's relay cuts
// it: netem drops every frame on both ends (loss 100%) and the carrier stays up, so only BFD or
// BGP's hold timer can tell; it is restored to `imp`. A fabric link's two ends go down, then up.
Commands clab_link_commands(const ClabTopology& t, const ClabLink& l, bool up, const wan::Impairment& imp);

// A node stopped as qpspread's runner stops one, so that nothing crosses it and its routing
// sessions time out: its interfaces down and its container frozen (`docker pause`, FRR and all);
// started: thawed (`docker unpause`), then its interfaces up. The container and its namespace stay,
// so containerlab's links stay (a `docker stop` would take them away).
Commands clab_node_commands(const ClabTopology& t, const std::string& node, bool start);

// Sets link l of t to `imp` on both ends (clab_netem_commands); with imp.none() the ends' netem
// qdiscs are removed instead (only those that have one), which needs no sch_netem. Throws
// qpspread::Error when a command fails, or when netem is needed and this kernel has no sch_netem.
void clab_set_link(const ClabTopology& t, const ClabLink& l, const wan::Impairment& imp);

// Throws qpspread::Error naming what to do when this kernel has no sch_netem.
void clab_require_netem();

// Runs the commands in order; throws qpspread::Error naming the one that failed, with its output.
void clab_run(const Commands& commands);

}  // namespace qpspread::lab
