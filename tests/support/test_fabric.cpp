#include "tests/support/test_fabric.h"

#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "common/command.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/lab/lab_state.h"
#include "userspace/labgen/clab_writer.h"

namespace qpspread::lab {
namespace {

namespace fs = std::filesystem;

std::array<uint8_t, 6> host_mac(int i) { return {0x02, 0x00, 0x00, 0x00, static_cast<uint8_t>(i + 1), 0x01}; }

std::string mac_text(const std::array<uint8_t, 6>& m) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

std::string nth(const char* prefix, int i) { return prefix + std::to_string(i + 1); }

LabNode router(const std::string& name, Role role, unsigned asn, const std::string& loopback, int seed,
                std::vector<std::string> fabric_ifs) {
  LabNode n;
  n.name = name;
  n.role = role;
  n.asn = asn;
  n.loopback = loopback;
  n.hash_seed = seed;
  n.fabric_ifs = std::move(fabric_ifs);
  return n;
}

LabLink link(const std::string& a, const std::string& a_if, const std::string& b, const std::string& b_if) {
  LabLink l;
  l.a = {a, a_if};
  l.b = {b, b_if};
  return l;
}

// The fabric as the lab generator's data: its writer then gives the same sysctls (L4 multipath
// hash, a distinct hash seed per router, IPv6 on for BGP unnumbered), VXLAN recipe and
// integrated FRR config as the multi-DC lab.
LabSpec fabric_lab(const FabricSpec& f, const std::string& name) {
  LabSpec s;
  s.name = name;
  s.vnis = {f.vni};
  int seed = 1001;
  std::vector<std::string> uplinks;
  for (int sp = 0; sp < f.spines; sp++) uplinks.push_back(nth("up", sp));
  for (int i = 0; i < 2; i++) {
    s.nodes.push_back(router(nth("leaf", i), Role::leaf, 65101u + static_cast<unsigned>(i),
                             "10.0.0." + std::to_string(11 + i), seed++, uplinks));
    s.nodes.back().vni_ports = {{f.vni, "hostp"}};
  }
  for (int sp = 0; sp < f.spines; sp++)
    s.nodes.push_back(router(nth("spine", sp), Role::spine, 65000, "10.0.0." + std::to_string(1 + sp), seed++,
                             {"dn1", "dn2"}));
  for (int i = 0; i < 2; i++) {
    LabNode h;
    h.name = nth("host", i);
    h.vni = f.vni;
    h.host_ip = "10.100.0." + std::to_string(i + 1) + "/24";
    h.mac = mac_text(host_mac(i));
    s.nodes.push_back(h);
  }
  for (int i = 0; i < 2; i++) {
    for (int sp = 0; sp < f.spines; sp++)
      s.links.push_back(link(nth("leaf", i), nth("up", sp), nth("spine", sp), nth("dn", i)));
    s.links.push_back(link(nth("leaf", i), "hostp", nth("host", i), "eth1"));
  }
  return s;
}

bool pings(const HostInfo& from, const std::string& to) {
  return run_command({"ip", "netns", "exec", from.netns, "ping", "-c1", "-W1", to}).exit_code == 0;
}

}  // namespace

TestFabric::TestFabric(FabricSpec spec) : spec_(std::move(spec)) {
  if (spec_.spines < 2) throw Error("a test fabric needs at least 2 spines");
  if (spec_.tag.empty() || spec_.tag.size() > 12) throw Error("fabric tag must be 1-12 characters");
  try {
    write_topology();
    UpOptions o;
    o.timeout_s = spec_.timeout_s;
    o.progress = spec_.progress;
    up_called_ = true;
    const nlohmann::json up = lab_up(topo_, o);
    if (!up.value("converged", false))
      throw Error("test fabric " + topo_.name + " did not converge within " + std::to_string(spec_.timeout_s) +
                  " s: " + up["not_converged"].dump());
    wait_data_plane();
  } catch (...) {
    teardown();
    throw;
  }
}

TestFabric::~TestFabric() { teardown(); }

std::string TestFabric::leaf_netns(int i) const { return topo_.netns(nth("leaf", i)); }
std::string TestFabric::spine_netns(int i) const { return topo_.netns(nth("spine", i)); }

HostInfo TestFabric::host(int i) const {
  return {topo_.netns(nth("host", i)), "eth1", "10.100.0." + std::to_string(i + 1), host_mac(i)};
}

std::vector<std::string> TestFabric::leaf_uplinks(int) const {
  std::vector<std::string> out;
  for (int s = 0; s < spec_.spines; s++) out.push_back(nth("up", s));
  return out;
}

std::vector<pid_t> TestFabric::frr_pids() const {
  std::vector<pid_t> out;
  if (auto st = LabState::load(topo_.name))
    for (const auto& p : st->processes()) out.push_back(p.pid);
  return out;
}

void TestFabric::write_topology() {
  char tmpl[] = "/tmp/qpspread-fabric-XXXXXX";
  if (!::mkdtemp(tmpl)) throw Error("cannot create a directory for the test fabric's topology under /tmp");
  dir_ = tmpl;
  const LabSpec lab = fabric_lab(spec_, fabric_lab_name(spec_.tag));
  WriteOptions w;
  w.out_dir = dir_;
  w.generated_by = "tests/support/test_fabric.cpp";
  write_lab(lab, w);
  topo_ = load_clab(fs::path(dir_) / (lab.name + ".clab.yml"));
}

// Test-only, on top of the runner's convergence: traffic must find one next hop per spine (the
// tests count uplinks) and cross the VNI. Passing at once means the routes were already stable
// for lab_up's 3 checks; if anything changed since, it must hold 3 times 1 s apart again.
void TestFabric::wait_data_plane() const {
  say("waiting for ECMP over every spine and a host-to-host ping");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string pending;
  for (int clean = 0, needed = 1;;) {
    throw_if_interrupted();
    pending.clear();
    for (int i = 0; i < 2 && pending.empty(); i++) {
      const std::vector<std::string> devs = kernel_nexthop_devs(leaf_netns(i), leaf_vtep_ip(1 - i) + "/32");
      const std::vector<std::string> ups = leaf_uplinks(i);
      if (std::set<std::string>(devs.begin(), devs.end()) != std::set<std::string>(ups.begin(), ups.end()))
        pending = leaf_netns(i) + ": kernel route to " + leaf_vtep_ip(1 - i) + "/32 leaves by " +
                  std::to_string(devs.size()) + " of " + std::to_string(ups.size()) + " uplinks";
    }
    if (pending.empty() && !pings(host(0), host(1).ip)) pending = host(0).netns + " cannot ping " + host(1).ip;
    if (pending.empty() && ++clean == needed) return;
    if (!pending.empty()) {
      clean = 0;
      needed = 3;
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw Error("test fabric " + topo_.name + ": data plane not ready 30 s after convergence: " + pending);
    std::this_thread::sleep_for(std::chrono::milliseconds(pending.empty() ? 1000 : 500));
  }
}

void TestFabric::teardown() noexcept {
  try {
    if (up_called_) lab_down(topo_.name);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test fabric %s: lab down failed: %s\n", topo_.name.c_str(), e.what());
  }
  up_called_ = false;
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
}

}  // namespace qpspread::lab
