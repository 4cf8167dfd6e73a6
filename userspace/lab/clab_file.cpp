#include "userspace/lab/clab_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <set>

#include "common/error.h"

namespace qpspread::lab {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void bad(const fs::path& file, const std::string& what) {
  throw Error("topology " + file.string() + ": " + what);
}

// containerlab merges node settings over the node's kind over topology.defaults: lists and
// scalars from the most specific level that sets them, maps merged key by key.
struct Layers {
  std::vector<YAML::Node> levels;  // most specific first
  YAML::Node first(const char* key) const {
    for (const auto& l : levels)
      if (l && l[key]) return l[key];
    return YAML::Node();
  }
  std::map<std::string, std::string> merged_map(const char* key) const {
    std::map<std::string, std::string> out;
    for (auto it = levels.rbegin(); it != levels.rend(); ++it)
      if (*it && (*it)[key] && (*it)[key].IsMap())
        for (const auto& kv : (*it)[key]) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
    return out;
  }
};

ClabNode parse_node(const fs::path& file, const std::string& name, const YAML::Node& n, const YAML::Node& topo) {
  ClabNode node;
  node.name = name;
  Layers layers{{n, YAML::Node(), topo["defaults"]}};
  const YAML::Node kind = layers.first("kind");
  node.kind = kind ? kind.as<std::string>() : "linux";
  if (topo["kinds"] && topo["kinds"][node.kind]) layers.levels[1] = topo["kinds"][node.kind];
  if (const YAML::Node image = layers.first("image")) node.image = image.as<std::string>();
  if (const YAML::Node binds = layers.first("binds")) {
    for (const auto& b : binds) {
      const std::string text = b.as<std::string>();
      const size_t colon = text.find(':');
      if (colon == std::string::npos) bad(file, "node " + name + ": bind '" + text + "' is not HOST:CONTAINER");
      fs::path host = text.substr(0, colon);
      if (host.is_relative()) host = file.parent_path() / host;  // containerlab: relative to the file
      std::string target = text.substr(colon + 1);
      if (const size_t opt = target.find(':'); opt != std::string::npos) target.resize(opt);  // ":ro"
      node.binds.emplace_back(host.lexically_normal().string(), target);
    }
  }
  for (const auto& [k, v] : layers.merged_map("sysctls")) node.sysctls.emplace_back(k, v);
  if (const YAML::Node exec = layers.first("exec"))
    for (const auto& e : exec) node.exec.push_back(e.as<std::string>());
  node.labels = layers.merged_map("labels");
  return node;
}

ClabEndpoint parse_endpoint(const fs::path& file, const YAML::Node& e) {
  ClabEndpoint ep;
  if (e.IsMap()) {
    ep.node = e["node"].as<std::string>("");
    ep.ifname = e["interface"].as<std::string>("");
  } else {
    const std::string text = e.as<std::string>();
    const size_t colon = text.find(':');
    if (colon == std::string::npos) bad(file, "link endpoint '" + text + "' is not NODE:INTERFACE");
    ep.node = text.substr(0, colon);
    ep.ifname = text.substr(colon + 1);
  }
  if (ep.node.empty() || ep.ifname.empty()) bad(file, "a link endpoint lacks its node or interface");
  if (ep.ifname.size() > 15) bad(file, "interface name '" + ep.ifname + "' is longer than 15 characters");
  return ep;
}

// vars.impairment: {delay, jitter, loss, rate}, as `containerlab tools netem set` takes them, and
// qpspread's ecn (KMIN,KMAX,PMAX).
wan::Impairment parse_impairment(const fs::path& file, const std::string& link, const YAML::Node& imp) {
  if (!imp.IsMap()) bad(file, "link " + link + ": vars.impairment is not a map like {delay: 20ms, loss: 0.1}");
  std::optional<std::string> values[5];
  const char* keys[5] = {"delay", "jitter", "loss", "rate", "ecn"};
  for (const auto& kv : imp) {
    const std::string key = kv.first.as<std::string>();
    const auto* k = std::find_if(std::begin(keys), std::end(keys), [&](const char* x) { return key == x; });
    if (k == std::end(keys))
      bad(file, "link " + link + ": vars.impairment." + key + " is unknown (known: delay, jitter, loss, rate, ecn)");
    values[k - std::begin(keys)] = kv.second.as<std::string>("");
  }
  try {
    return wan::parse_impairment_change(values[0], values[1], values[2], values[3], values[4], "vars.impairment.")
        .applied_to({});
  } catch (const Error& e) {
    bad(file, "link " + link + ": " + e.what());
  }
}

ClabLink parse_link(const fs::path& file, const YAML::Node& l) {
  const YAML::Node eps = l["endpoints"];
  if (!eps || !eps.IsSequence() || eps.size() != 2) bad(file, "every link needs exactly two endpoints");
  ClabLink link;
  link.a = parse_endpoint(file, eps[0]);
  link.b = parse_endpoint(file, eps[1]);
  link.name = link.a.text() + "--" + link.b.text();
  if (l["mtu"]) link.mtu = l["mtu"].as<int>();
  if (const YAML::Node vars = l["vars"]) {
    if (vars["name"]) link.name = vars["name"].as<std::string>();
    if (const YAML::Node imp = vars["impairment"]) {
      link.wan = true;
      link.impairment = parse_impairment(file, link.name, imp);
    }
  }
  return link;
}

void check(const ClabTopology& t) {
  std::set<std::string> used;
  std::set<std::string> names;
  for (const auto& l : t.links) {
    if (!names.insert(l.name).second) bad(t.file, "two links are named " + l.name);
    for (const auto* ep : {&l.a, &l.b}) {
      if (!t.node(ep->node)) bad(t.file, "link " + l.name + ": no node '" + ep->node + "'");
      if (ep->ifname == "eth0") bad(t.file, "link " + l.name + ": eth0 is containerlab's management interface");
      if (!used.insert(ep->text()).second) bad(t.file, ep->text() + " is used by two links");
    }
  }
}

}  // namespace

std::string ClabNode::frr_conf() const {
  for (const auto& [host, target] : binds)
    if (target == "/etc/frr/frr.conf") return host;
  return "";
}

std::vector<std::string> ClabTopology::vtysh(const std::string& node) const {
  if (runner == Runner::Containerlab) return {"docker", "exec", netns(node), "vtysh"};
  return {"vtysh", "-N", netns(node)};
}

const ClabNode* ClabTopology::node(const std::string& n) const {
  for (const auto& x : nodes)
    if (x.name == n) return &x;
  return nullptr;
}

const ClabLink* ClabTopology::link(const std::string& n) const {
  for (const auto& l : links)
    if (l.name == n || l.a.text() == n || l.b.text() == n) return &l;
  return nullptr;
}

ClabTopology load_clab(const fs::path& file) {
  if (!fs::exists(file))
    throw Error("no topology file " + file.string() + " (from " + fs::current_path().string() +
                "); pass -t FILE, or run from the repository root");
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& e) {
    bad(file, e.what());
  }
  ClabTopology t;
  t.file = fs::absolute(file);
  // Every YAML access below may meet a value of another kind than it expects (a scalar where a map
  // is, as the fuzzer found): each such is reported as a bad file, never as yaml-cpp's exception.
  try {
    if (!root.IsMap()) bad(file, "a topology file is a map with name and topology");
    if (!root["name"]) bad(file, "no 'name'");
    t.name = root["name"].as<std::string>();
    const YAML::Node topo = root["topology"];
    if (!topo || !topo.IsMap() || !topo["nodes"] || !topo["nodes"].IsMap()) bad(file, "no topology.nodes");
    for (const auto& kv : topo["nodes"])
      t.nodes.push_back(parse_node(t.file, kv.first.as<std::string>(), kv.second, topo));
    if (topo["links"])
      for (const auto& l : topo["links"]) t.links.push_back(parse_link(t.file, l));
  } catch (const YAML::Exception& e) {
    bad(file, e.what());
  }
  // A netns name is limited only by the file system, an interface's by IFNAMSIZ: node names
  // need nothing more here than what containerlab accepts.
  check(t);
  return t;
}

}  // namespace qpspread::lab
