#include "userspace/lab/clab_impair.h"

#include "userspace/lab/clab_deployed.h"

#include "common/command.h"
#include "common/error.h"
#include "common/netns.h"
#include "userspace/lab/lab_state.h"
#include "userspace/lab/lab_wan.h"
#include "userspace/lab/netem.h"

namespace qpspread::lab {
namespace {

using nlohmann::json;

const ClabLink& wan_link_or_throw(const ClabTopology& t, const std::string& lab, const std::string& name) {
  const ClabLink* l = t.link(name);
  if (!l || !l->wan)
    throw Error("lab " + lab + " has no WAN link '" + name + "' in " + t.file.string() +
                " (WAN links have vars.impairment)");
  return *l;
}

// Both ends of every link, before any is changed: the lab must be the one the file describes.
void check_deployed(const ClabTopology& t, const std::vector<const ClabLink*>& links) {
  for (const ClabLink* l : links) {
    for (const ClabEndpoint& end : {l->a, l->b}) {
      const std::string ns = t.netns(end.node);
      if (!netns_exists(ns))
        throw Error("lab " + t.name + " is neither up under qpspread (no " + LabState::dir_for(t.name) +
                    "/state.json) nor deployed by containerlab (no namespace " + ns + " in /run/netns); check " +
                    "'containerlab inspect -t " + t.file.string() + "' and 'ip netns list', or pass --name if it " +
                    "was deployed under another name");
      if (run_command({"ip", "-n", ns, "link", "show", "dev", end.ifname}).exit_code != 0)
        throw Error("lab " + t.name + ": no interface " + end.ifname + " in namespace " + ns + " (link " + l->name +
                    "); was the lab deployed from " + t.file.string() + "?");
    }
  }
}

json apply_netem(const ClabTopology& t, const ClabLink& l, const wan::Impairment& imp) {
  json commands = json::array();
  for (const auto& argv : clab_netem_commands(t, l, imp)) {
    run_checked(argv);
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    commands.push_back(line);
  }
  return {{"link", l.name}, {"backend", "netem"}, {"runner", "containerlab"}, {"impairment", wan::to_json(imp)},
          {"time", utc_now()}, {"commands", commands}};
}

ClabTopology topology_named(const std::filesystem::path& file, const std::string& lab) {
  ClabTopology t = load_clab(file);
  t.name = lab;
  return t;
}

}  // namespace

std::vector<std::vector<std::string>> clab_netem_commands(const ClabTopology& t, const ClabLink& l,
                                                          const wan::Impairment& imp) {
  std::vector<std::vector<std::string>> out = qdisc_commands(t.netns(l.a.node), l.a.ifname, imp);
  for (auto& c : qdisc_commands(t.netns(l.b.node), l.b.ifname, imp)) out.push_back(std::move(c));
  return out;
}

json lab_impair(const std::string& lab, const std::filesystem::path& topology, const std::string& link,
                const wan::ImpairmentChange& change) {
  if (auto st = LabState::load(lab)) {
    const ClabTopology t = topology_named(st->json()["topology"].get<std::string>(), lab);
    json j = wan_impair(*st, wan_link_or_throw(t, lab, link), change);
    j["runner"] = "qpspread";
    return j;
  }
  const ClabTopology t = topology_named(topology, lab);
  const ClabLink& l = wan_link_or_throw(t, lab, link);
  check_deployed(t, {&l});
  clab_require_netem();
  return apply_netem(t, l, change.applied_to(l.impairment));
}

json lab_impair_from_file(const std::string& lab, const std::filesystem::path& topology) {
  const ClabTopology t = topology_named(topology, lab);
  std::vector<const ClabLink*> links;
  for (const ClabLink& l : t.links)
    if (l.wan) links.push_back(&l);
  if (links.empty())
    throw Error(topology.string() + " has no WAN link (a link with vars.impairment); nothing to apply");
  json out = {{"lab", lab}, {"links", json::array()}};
  if (auto st = LabState::load(lab)) {
    for (const ClabLink* l : links)
      if (!st->json()["links"].contains(l->name))
        throw Error("lab " + lab + " (up under qpspread from " + st->json()["topology"].get<std::string>() +
                    ") has no WAN link " + l->name + "; apply a file the lab was brought up from");
    out["runner"] = "qpspread";
    for (const ClabLink* l : links) out["links"].push_back(wan_impair(*st, *l, wan::ImpairmentChange::all_of(l->impairment)));
    return out;
  }
  check_deployed(t, links);
  clab_require_netem();
  out["runner"] = "containerlab";
  for (const ClabLink* l : links) out["links"].push_back(apply_netem(t, *l, l->impairment));
  return out;
}

}  // namespace qpspread::lab
