#include "userspace/lab/clab_deployed.h"

#include <nlohmann/json.hpp>

#include "common/command.h"
#include "common/error.h"
#include "common/netns.h"
#include "userspace/lab/clab_impair.h"
#include "userspace/lab/lab_wan.h"

namespace qpspread::lab {
namespace {

// The end's root qdisc is netem (one a study or `containerlab tools netem set` left).
bool has_netem(const std::string& ns, const std::string& ifname) {
  const CommandOutput r = run_command({"tc", "-n", ns, "-j", "qdisc", "show", "dev", ifname, "root"});
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || !j.is_array()) return false;
  for (const auto& q : j)
    if (q.value("kind", "") == "netem") return true;
  return false;
}

}  // namespace

std::vector<std::string> clab_not_deployed(const ClabTopology& t) {
  std::vector<std::string> out;
  for (const auto& n : t.nodes)
    if (!netns_exists(t.netns(n.name))) out.push_back("node " + n.name + ": no namespace " + t.netns(n.name));
  if (!out.empty()) return out;
  for (const auto& l : t.links)
    for (const ClabEndpoint& e : {l.a, l.b})
      if (run_command({"ip", "-n", t.netns(e.node), "link", "show", "dev", e.ifname}).exit_code != 0)
        out.push_back("link " + l.name + ": no interface " + e.ifname + " in " + t.netns(e.node));
  return out;
}

Commands clab_link_commands(const ClabTopology& t, const ClabLink& l, bool up, const wan::Impairment& imp) {
  if (l.wan) {
    wan::Impairment cut = imp;
    cut.loss_percent = 100;
    return clab_netem_commands(t, l, up ? imp : cut);
  }
  Commands out;
  for (const ClabEndpoint& e : {l.a, l.b})
    out.push_back({"ip", "-n", t.netns(e.node), "link", "set", "dev", e.ifname, up ? "up" : "down"});
  return out;
}

Commands clab_node_commands(const ClabTopology& t, const std::string& node, bool start) {
  Commands links;
  for (const auto& l : t.links)
    for (const ClabEndpoint& e : {l.a, l.b})
      if (e.node == node) links.push_back({"ip", "-n", t.netns(node), "link", "set", "dev", e.ifname, start ? "up" : "down"});
  Commands out;
  if (start) out.push_back({"docker", "unpause", t.netns(node)});
  out.insert(out.end(), links.begin(), links.end());
  if (!start) out.push_back({"docker", "pause", t.netns(node)});
  return out;
}

void clab_set_link(const ClabTopology& t, const ClabLink& l, const wan::Impairment& imp) {
  if (!imp.none()) {
    clab_require_netem();
    clab_run(clab_netem_commands(t, l, imp));
    return;
  }
  for (const ClabEndpoint& e : {l.a, l.b})
    if (has_netem(t.netns(e.node), e.ifname)) run_checked({"tc", "-n", t.netns(e.node), "qdisc", "del", "dev", e.ifname, "root"});
}

void clab_run(const Commands& commands) {
  for (const auto& argv : commands) run_checked(argv);
}

void clab_require_netem() {
  if (!netem_available())
    throw Error("this kernel has no sch_netem; on a lab deployed by containerlab qpspread applies impairments with "
                "tc netem in the nodes' namespaces, as 'containerlab tools netem set' does: load it with "
                "'modprobe sch_netem' (CONFIG_NET_SCH_NETEM), or use qpspread's own runner ('qpspread lab up', or "
                "runner: qpspread in a study), whose WAN relay needs no netem");
}

}  // namespace qpspread::lab
