// A containerlab topology file as qpspread's Docker-less runner needs it: nodes (kind, image,
// binds, sysctls, exec, labels, merged from topology.defaults and topology.kinds as containerlab
// merges them), links (brief `endpoints: ["node:if", "node:if"]` or extended
// `endpoints: [{node, interface}]`), and a WAN link's `vars: {name, impairment}`.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "userspace/wan/impairment.h"

namespace qpspread::lab {

struct ClabNode {
  std::string name, kind, image;
  std::vector<std::pair<std::string, std::string>> binds;  // host path (absolute), container path
  std::vector<std::pair<std::string, std::string>> sysctls;
  std::vector<std::string> exec;
  std::map<std::string, std::string> labels;
  // The host file bound to /etc/frr/frr.conf: the node runs FRR from it. "" when none.
  std::string frr_conf() const;
};

struct ClabEndpoint {
  std::string node, ifname;
  std::string text() const { return node + ":" + ifname; }
};

struct ClabLink {
  ClabEndpoint a, b;
  std::string name;                               // vars.name, else "A:IF--B:IF"
  wan::Impairment impairment;  // vars.impairment: delay, jitter, loss, rate (netem's syntax)
  bool wan = false;            // it has vars.impairment
  int mtu = 9500;              // containerlab's default for veth links
};

// Who deployed a lab: qpspread's runner (lab_runner.h: FRR per node under vtysh's pathspace
// `-N <netns>`) or containerlab (a container per node named as its namespace, clab-<lab>-<node>,
// FRR inside it reached with `docker exec`).
enum class Runner { Qpspread, Containerlab };

struct ClabTopology {
  std::string name;
  Runner runner = Runner::Qpspread;
  std::filesystem::path file;
  std::vector<ClabNode> nodes;
  std::vector<ClabLink> links;

  // containerlab's namespace of a node: clab-<lab>-<node>.
  std::string netns(const std::string& node) const { return "clab-" + name + "-" + node; }
  // The command line that reaches a router's vtysh, as runner has it: `vtysh -N clab-L-N`, or
  // `docker exec clab-L-N vtysh`; append its arguments.
  std::vector<std::string> vtysh(const std::string& node) const;
  const ClabNode* node(const std::string& name) const;
  // A link by vars.name, or by either endpoint "NODE:IF". nullptr when none matches.
  const ClabLink* link(const std::string& name_or_endpoint) const;
};

// Parses and checks the file: names, every endpoint's node, no interface used twice, no
// interface called eth0 (containerlab's management interface), every vars.impairment value in
// netem's syntax. Throws qpspread::Error naming the
// file and the problem.
ClabTopology load_clab(const std::filesystem::path& file);

}  // namespace qpspread::lab
