#include "tests/support/test_fabric.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "common/command.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "tests/support/fabric_checks.h"

namespace qpspread::lab {
namespace {

void ip_n(const std::string& ns, std::vector<std::string> args) {
  args.insert(args.begin(), {"ip", "-n", ns});
  run_checked(args);
}

void sysctl(const std::string& ns, const std::string& kv, bool optional = false) {
  CommandOutput r = run_command({"ip", "netns", "exec", ns, "sysctl", "-qw", kv});
  if (r.exit_code != 0 && !optional) throw Error("sysctl " + kv + " in netns " + ns + ": " + r.err);
}

// Only namespaces this fabric created get here, so every process in them was started by it.
void kill_netns_processes(const std::string& ns) {
  auto pids = [&] {
    std::vector<pid_t> out;
    std::istringstream in(run_command({"ip", "netns", "pids", ns}).out);
    for (pid_t p; in >> p;) out.push_back(p);
    return out;
  };
  int sig = SIGTERM;
  for (int round = 0; round < 40; round++) {
    const std::vector<pid_t> left = pids();
    if (left.empty()) return;
    if (round == 20) sig = SIGKILL;  // 1 s of SIGTERM first
    if (round == 0 || round == 20)
      for (pid_t p : left) ::kill(p, sig);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::array<uint8_t, 6> host_mac(int i) { return {0x02, 0x00, 0x00, 0x00, static_cast<uint8_t>(i + 1), 0x01}; }

std::string mac_text(const std::array<uint8_t, 6>& m) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

}  // namespace

TestFabric::TestFabric(FabricSpec spec) : spec_(std::move(spec)) {
  if (spec_.spines < 2) throw Error("a test fabric needs at least 2 spines");
  if (spec_.tag.empty() || spec_.tag.size() > 12) throw Error("fabric tag must be 1-12 characters");
  try {
    build();
    start_frr();
    wait_converged();
  } catch (...) {
    teardown();
    throw;
  }
}

TestFabric::~TestFabric() { teardown(); }

std::string TestFabric::leaf_netns(int i) const { return ns("leaf" + std::to_string(i + 1)); }
std::string TestFabric::spine_netns(int i) const { return ns("spine" + std::to_string(i + 1)); }

HostInfo TestFabric::host(int i) const {
  return {ns("host" + std::to_string(i + 1)), "eth0", "10.100.0." + std::to_string(i + 1), host_mac(i)};
}

std::vector<std::string> TestFabric::leaf_uplinks(int) const {
  std::vector<std::string> out;
  for (int s = 0; s < spec_.spines; s++) out.push_back("up" + std::to_string(s + 1));
  return out;
}

void TestFabric::add_netns(const std::string& name) {
  throw_if_interrupted();
  run_checked({"ip", "netns", "add", name});
  namespaces_.push_back(name);
  ip_n(name, {"link", "set", "lo", "up"});
}

void TestFabric::build() {
  say("creating namespaces and links");
  for (int i = 0; i < 2; i++) add_netns(leaf_netns(i));
  for (int s = 0; s < spec_.spines; s++) add_netns(spine_netns(s));
  for (int i = 0; i < 2; i++) add_netns(host(i).netns);

  int seed = 1;
  auto router_sysctls = [&](const std::string& n) {
    sysctl(n, "net.ipv4.ip_forward=1");
    sysctl(n, "net.ipv6.conf.all.forwarding=1");
    // BGP unnumbered peers over IPv6 link-local: a host that disables IPv6 by default (and
    // devconf_inherit_init_net) would leave the veths created below without it.
    sysctl(n, "net.ipv6.conf.all.disable_ipv6=0");
    sysctl(n, "net.ipv6.conf.default.disable_ipv6=0");
    sysctl(n, "net.ipv4.fib_multipath_hash_policy=1");  // L4: the outer source port counts
    // A fixed, distinct seed per router: runs are repeatable and routers do not hash alike.
    sysctl(n, "net.ipv4.fib_multipath_hash_seed=" + std::to_string(1000 + seed++), true);
  };
  for (int i = 0; i < 2; i++) router_sysctls(leaf_netns(i));
  for (int s = 0; s < spec_.spines; s++) {
    router_sysctls(spine_netns(s));
    for (int i = 0; i < 2; i++) {
      const std::string up = "up" + std::to_string(s + 1), dn = "dn" + std::to_string(i + 1);
      run_checked({"ip", "-n", leaf_netns(i), "link", "add", up, "type", "veth", "peer", "name", dn,
                   "netns", spine_netns(s)});
      ip_n(leaf_netns(i), {"link", "set", up, "up"});
      ip_n(spine_netns(s), {"link", "set", dn, "up"});
    }
  }
  for (int i = 0; i < 2; i++) build_leaf(i);
}

void TestFabric::build_leaf(int i) {
  const std::string leaf = leaf_netns(i), vx = leaf_vxlan_dev(i);
  const HostInfo h = host(i);
  ip_n(leaf, {"addr", "add", leaf_vtep_ip(i) + "/32", "dev", "lo"});
  ip_n(leaf, {"link", "add", "br100", "type", "bridge"});
  ip_n(leaf, {"link", "add", vx, "type", "vxlan", "id", std::to_string(spec_.vni), "dstport",
              "4789", "local", leaf_vtep_ip(i), "nolearning"});
  ip_n(leaf, {"link", "set", vx, "master", "br100"});
  run_checked({"bridge", "-n", leaf, "link", "set", "dev", vx, "neigh_suppress", "on", "learning", "off"});
  run_checked({"ip", "-n", leaf, "link", "add", "hostp", "type", "veth", "peer", "name", h.ifname,
               "netns", h.netns});
  ip_n(leaf, {"link", "set", "hostp", "master", "br100"});
  for (const auto& dev : {vx, std::string("hostp"), std::string("br100")}) ip_n(leaf, {"link", "set", dev, "up"});
  ip_n(h.netns, {"link", "set", h.ifname, "address", mac_text(h.mac)});
  ip_n(h.netns, {"addr", "add", h.ip + "/24", "dev", h.ifname});
  ip_n(h.netns, {"link", "set", h.ifname, "up"});
}

void TestFabric::start_frr() {
  say("starting FRR (zebra, bfdd, bgpd) on " + std::to_string(2 + spec_.spines) + " routers");
  char tmpl[] = "/tmp/qpspread-frr-XXXXXX";
  if (!::mkdtemp(tmpl)) throw Error("cannot create a directory for FRR configs");
  conf_dir_ = tmpl;
  std::filesystem::permissions(conf_dir_, std::filesystem::perms(0755));
  for (int i = 0; i < 2; i++) {
    RouterConfig c;
    c.hostname = "leaf" + std::to_string(i + 1);
    c.asn = 65101u + static_cast<unsigned>(i);
    c.router_id = leaf_vtep_ip(i);
    c.fabric_ifs = leaf_uplinks(i);
    c.vtep_prefix = leaf_vtep_ip(i) + "/32";
    routers_.push_back(std::make_unique<FrrRouter>(leaf_netns(i), c, conf_dir_));
  }
  for (int s = 0; s < spec_.spines; s++) {
    throw_if_interrupted();
    RouterConfig c;
    c.hostname = "spine" + std::to_string(s + 1);
    c.asn = 65000;
    c.router_id = "10.0.0." + std::to_string(1 + s);
    c.fabric_ifs = {"dn1", "dn2"};
    routers_.push_back(std::make_unique<FrrRouter>(spine_netns(s), c, conf_dir_));
  }
}

void TestFabric::wait_converged() {
  say("waiting for BGP, BFD, EVPN and ECMP to converge");
  FabricChecks checks{*this};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string pending;
  // Converged means stable: right after the first pass FRR may still replace routes, and every
  // FIB change flushes the tunnel's cached route mid-experiment. Three passes 1 s apart.
  int passes = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    throw_if_interrupted();
    pending = checks.pending();
    passes = pending.empty() ? passes + 1 : 0;
    if (passes == 3) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(pending.empty() ? 1000 : 500));
  }
  throw Error("the test fabric did not converge within 60 s: " + pending);
}

void TestFabric::teardown() noexcept {
  for (auto& r : routers_) r->request_stop();
  routers_.clear();  // each waits for its daemons, by PID
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    try {
      // A daemon whose pid file never appeared (start failed midway) would outlive its namespace.
      kill_netns_processes(*it);
      run_command({"ip", "netns", "del", *it});
    } catch (...) {
    }
  }
  namespaces_.clear();
  if (!conf_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(conf_dir_, ec);
    conf_dir_.clear();
  }
}

}  // namespace qpspread::lab
