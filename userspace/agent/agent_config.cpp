#include "userspace/agent/agent_config.h"

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/units.h"
#include "common/yaml_field.h"

namespace qpspread::agent {
namespace {

using yaml::Where;

// Every key of the map `n` must be one of `known`.
void known_keys(const std::filesystem::path& file, const YAML::Node& n, const std::string& prefix,
                const std::set<std::string>& known) {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  for (const auto& kv : n)
    if (!known.count(kv.first.Scalar()))
      Where(file, kv.first, prefix + kv.first.Scalar()).fail("unknown key; known here: " + list);
}

const YAML::Node& map_at(const Where& w, const YAML::Node& n, const std::string& what) {
  if (!n.IsMap()) w.fail("expected a map (" + what + ")");
  return n;
}

std::vector<std::string> names(const Where& w, const YAML::Node& n) {
  if (!n.IsSequence()) w.fail("expected a list like [eth1, eth2]");
  std::vector<std::string> out;
  for (const auto& x : n) {
    std::string s = yaml::scalar(w, x);
    if (s.empty() || s.size() >= 16 || s.find('/') != std::string::npos || s.find(' ') != std::string::npos)
      w.fail("'" + s + "' is not an interface name (1 to 15 characters, no '/' or space)");
    out.push_back(std::move(s));
  }
  return out;
}

uint32_t vni_value(const Where& w, const YAML::Node& n) {
  return static_cast<uint32_t>(yaml::integer(w, n, 1, 0xffffff));
}

uint32_t gap_us(const Where& w, const YAML::Node& n) {
  const uint64_t us = parse_duration_us(w.text(), yaml::scalar(w, n));
  if (us == 0 || us > 60'000'000) w.fail("'" + n.Scalar() + "' is outside 1us to 60s");
  return static_cast<uint32_t>(us);
}

int64_t duration_ns(const Where& w, const YAML::Node& n, int64_t min_ns) {
  const int64_t ns = static_cast<int64_t>(parse_duration_us(w.text(), yaml::scalar(w, n))) * 1000;
  if (ns < min_ns) w.fail("'" + n.Scalar() + "' is shorter than " + std::to_string(min_ns / 1'000'000) + "ms");
  return ns;
}

qps_mode mode_value(const Where& w, const YAML::Node& n) {
  const std::string m = yaml::one_of(w, n, {"off", "qp-hash", "balance"});
  return m == "off" ? QPS_MODE_OFF : m == "qp-hash" ? QPS_MODE_QP_HASH : QPS_MODE_BALANCE;
}

AgentTarget target(const std::filesystem::path& file, const YAML::Node& n, const std::string& key) {
  const Where w(file, n, key);
  map_at(w, n, "a target has netns or lab");
  known_keys(file, n, key + ".", {"netns", "lab", "devices", "uplinks", "transit", "transit_vnis"});
  AgentTarget t;
  if (n["netns"]) t.netns = yaml::scalar(Where(file, n["netns"], key + ".netns"), n["netns"]);
  if (t.netns == "self") t.netns = "";
  if (n["lab"]) {
    const Where lw(file, n["lab"], key + ".lab");
    t.lab = yaml::scalar(lw, n["lab"]);
    if (t.lab.empty()) lw.fail("the lab's name is empty");
    if (n["netns"]) lw.fail("a target is either a netns or a lab, not both");
    for (const char* k : {"devices", "uplinks", "transit", "transit_vnis"})
      if (n[k]) Where(file, n[k], key + "." + k).fail("a lab target takes each node's role from the lab; it has no " + std::string(k));
  }
  if (n["devices"]) t.devices = names(Where(file, n["devices"], key + ".devices"), n["devices"]);
  if (const YAML::Node u = n["uplinks"]) {
    const Where uw(file, u, key + ".uplinks");
    if (u.IsScalar()) {
      const std::string how = yaml::one_of(uw, u, {"discover", "none"});
      t.discover_uplinks = how == "discover";
    } else {
      t.uplinks = names(uw, u);
    }
  }
  if (n["transit"]) t.transit = names(Where(file, n["transit"], key + ".transit"), n["transit"]);
  if (const YAML::Node v = n["transit_vnis"]) {
    const Where vw(file, v, key + ".transit_vnis");
    if (!v.IsSequence()) vw.fail("expected a list of VNIs like [100, 200]");
    for (const auto& x : v) t.transit_vnis.push_back(vni_value(vw, x));
    if (t.transit.empty()) vw.fail("transit_vnis needs transit interfaces");
  }
  for (const auto& up : t.uplinks)
    for (const auto& tr : t.transit)
      if (up == tr) w.fail(up + " is both an uplink and a transit interface; an interface takes one role");
  return t;
}

}  // namespace

bool parse_listen(const std::string& text, std::string& host, uint16_t& port) {
  if (text == "off") {
    port = 0;
    return true;
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string h = text.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string p = text.substr(colon + 1);
  unsigned v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || v < 1 || v > 65535) return false;
  host = h;
  port = static_cast<uint16_t>(v);
  return true;
}

AgentConfig parse_agent_config(const std::string& yaml_text, const std::filesystem::path& file) {
  AgentConfig c;
  c.file = file;
  const YAML::Node root = yaml::load(yaml_text, file);
  if (root.IsNull()) {
    c.targets.push_back({});
    return c;  // an empty file: this namespace, every default
  }
  if (!root.IsMap()) throw Error(file.filename().string() + ": the agent's config is a map (listen, targets, mode, ...)");
  known_keys(file, root, "",
             {"listen", "targets", "mode", "flowlet_gap", "vnis", "mark", "balance", "tc_api", "resync", "on_exit"});
  if (const YAML::Node l = root["listen"]) {
    const Where w(file, l, "listen");
    const std::string s = yaml::scalar(w, l);
    if (!parse_listen(s, c.listen_host, c.listen_port))
      w.fail("'" + s + "' is not HOST:PORT (like 127.0.0.1:9477 or [::1]:9477, port 1-65535) or off");
  }
  if (const YAML::Node t = root["targets"]) {
    const Where w(file, t, "targets");
    if (!t.IsSequence() || t.size() == 0) w.fail("expected a list of targets like [{netns: leaf1}, {lab: dc}]");
    for (size_t i = 0; i < t.size(); i++) {
      AgentTarget x = target(file, t[i], "targets[" + std::to_string(i) + "]");
      for (const auto& y : c.targets)
        if (y.netns == x.netns && y.lab == x.lab)
          Where(file, t[i], "targets[" + std::to_string(i) + "]").fail("the same target twice");
      c.targets.push_back(std::move(x));
    }
  } else {
    c.targets.push_back({});
  }
  if (root["mode"]) c.default_mode.mode = mode_value(Where(file, root["mode"], "mode"), root["mode"]);
  if (root["flowlet_gap"]) c.default_mode.flowlet_gap_us = gap_us(Where(file, root["flowlet_gap"], "flowlet_gap"), root["flowlet_gap"]);
  if (const YAML::Node v = root["vnis"]) {
    map_at(Where(file, v, "vnis"), v, "VNI: {mode: ..., flowlet_gap: ...}");
    for (const auto& kv : v) {
      const std::string key = "vnis." + kv.first.Scalar();
      const uint32_t vni = vni_value(Where(file, kv.first, key), kv.first);
      const Where w(file, kv.second, key);
      map_at(w, kv.second, "{mode: balance, flowlet_gap: 5ms}");
      known_keys(file, kv.second, key + ".", {"mode", "flowlet_gap"});
      if (!kv.second["mode"]) w.fail("the VNI has no mode");
      qps_vni_cfg cfg = c.default_mode;
      cfg.mode = mode_value(Where(file, kv.second["mode"], key + ".mode"), kv.second["mode"]);
      if (const YAML::Node g = kv.second["flowlet_gap"]) cfg.flowlet_gap_us = gap_us(Where(file, g, key + ".flowlet_gap"), g);
      c.vnis[vni] = cfg;
    }
  }
  if (const YAML::Node m = root["mark"])
    c.mark = static_cast<uint32_t>(yaml::unsigned_c(Where(file, m, "mark"), m, 1, 0xffffffffu));
  if (const YAML::Node b = root["balance"]) {
    map_at(Where(file, b, "balance"), b, "{interval: 1s, observe: [border1]}");
    known_keys(file, b, "balance.", {"interval", "observe"});
    if (b["interval"]) c.balance_interval_ns = duration_ns(Where(file, b["interval"], "balance.interval"), b["interval"], 10'000'000);
    if (const YAML::Node o = b["observe"]) {
      const Where w(file, o, "balance.observe");
      if (!o.IsSequence()) w.fail("expected a list of namespaces like [border1]");
      for (const auto& x : o) c.balance_observe.push_back(yaml::scalar(w, x));
    }
  }
  if (root["tc_api"])
    c.tc_api = tc_api_from_name(yaml::one_of(Where(file, root["tc_api"], "tc_api"), root["tc_api"],
                                             {tc_api_name(TcApi::tcx), tc_api_name(TcApi::clsact)}));
  if (root["resync"]) c.resync_ns = duration_ns(Where(file, root["resync"], "resync"), root["resync"], 1'000'000'000);
  if (root["on_exit"]) c.detach_on_exit = yaml::one_of(Where(file, root["on_exit"], "on_exit"), root["on_exit"], {"keep", "detach"}) == "detach";
  return c;
}

AgentConfig load_agent_config(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw UsageError("cannot read the agent's config " + file.string() + "; see docs/agent.md for a sample");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return parse_agent_config(text.str(), file);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string(e.what()) + "; nothing was attached");
  }
}

}  // namespace qpspread::agent
