// The lab fabric itself, on real FRR: it converges with ECMP to the remote VTEP over every spine,
// the hosts reach each other over the L2 VNI, and destruction (also of a fabric whose constructor
// failed midway) leaves no namespace, FRR process or runtime directory behind.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/command.h"
#include "common/error.h"
#include "tests/support/fabric_checks.h"
#include "tests/support/test_fabric.h"

namespace qpspread::test {
namespace {

namespace fs = std::filesystem;

bool can_run_fabric() { return ::geteuid() == 0 && ::access("/usr/lib/frr/zebra", X_OK) == 0; }

std::string unique_tag(const char* prefix) { return prefix + std::to_string(::getpid() % 100000); }

// Entries named qps-<tag>-* in dir (/run/netns or /var/run/frr).
std::vector<std::string> leftovers(const std::string& dir, const std::string& tag) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind("qps-" + tag + "-", 0) == 0) out.push_back(e.path().string());
  return out;
}

// Alive and still an FRR daemon: a reused PID would be some other program.
bool frr_daemon_alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::string comm;
  std::ifstream("/proc/" + std::to_string(pid) + "/comm") >> comm;
  return comm == "zebra" || comm == "bgpd" || comm == "bfdd";
}

bool host_pings(const lab::HostInfo& from, const std::string& to) {
  for (int attempt = 0; attempt < 5; attempt++)
    if (run_command({"ip", "netns", "exec", from.netns, "ping", "-c1", "-W1", to}).exit_code == 0) return true;
  return false;
}

TEST(FabricTest, ConvergesWithEcmpAndTearsDownCompletely) {
  if (!can_run_fabric()) GTEST_SKIP() << "needs root and FRR (/usr/lib/frr/zebra)";
  lab::FabricSpec spec;
  spec.tag = unique_tag("f");
  spec.spines = 2;
  spec.progress = [](const std::string& line) { std::fprintf(stderr, "[fabric] %s\n", line.c_str()); };
  std::vector<pid_t> pids;
  {
    const auto t0 = std::chrono::steady_clock::now();
    lab::TestFabric fabric(spec);
    const double up_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[fabric] converged in %.1f s\n", up_s);
    RecordProperty("converge_ms", static_cast<int>(up_s * 1000));

    for (const auto& r : fabric.routers()) pids.insert(pids.end(), r->pids().begin(), r->pids().end());
    EXPECT_EQ(pids.size(), 3u * (2 + spec.spines));  // zebra, bfdd, bgpd per router
    EXPECT_EQ(fabric.vni(), spec.vni);
    for (int i = 0; i < 2; i++) {
      const std::vector<std::string> devs =
          lab::kernel_nexthop_devs(fabric.leaf_netns(i), fabric.leaf_vtep_ip(1 - i) + "/32");
      const std::vector<std::string> uplinks = fabric.leaf_uplinks(i);
      EXPECT_GE(devs.size(), 2u) << fabric.leaf_netns(i);
      // One next hop per spine: every path leaves by a different uplink.
      EXPECT_EQ(std::set<std::string>(devs.begin(), devs.end()), std::set<std::string>(uplinks.begin(), uplinks.end()))
          << fabric.leaf_netns(i);
    }
    EXPECT_TRUE(host_pings(fabric.host(0), fabric.host(1).ip));
    EXPECT_TRUE(host_pings(fabric.host(1), fabric.host(0).ip));
  }
  EXPECT_EQ(leftovers("/run/netns", spec.tag), std::vector<std::string>{});
  EXPECT_EQ(leftovers("/var/run/frr", spec.tag), std::vector<std::string>{});
  for (pid_t pid : pids) EXPECT_FALSE(frr_daemon_alive(pid)) << "pid " << pid;
}

TEST(FabricTest, FailedConstructionRemovesWhatItBuilt) {
  if (!can_run_fabric()) GTEST_SKIP() << "needs root and FRR (/usr/lib/frr/zebra)";
  lab::FabricSpec spec;
  spec.tag = unique_tag("x");
  // A namespace in the way of the last one the fabric creates: construction fails after the
  // leaves and spines exist. The fabric must remove those, and must not touch this one.
  const std::string blocker = "qps-" + spec.tag + "-host2";
  run_checked({"ip", "netns", "add", blocker});
  EXPECT_THROW(lab::TestFabric{spec}, Error);
  EXPECT_EQ(leftovers("/run/netns", spec.tag), std::vector<std::string>{"/run/netns/" + blocker});
  EXPECT_EQ(leftovers("/var/run/frr", spec.tag), std::vector<std::string>{});
  run_command({"ip", "netns", "del", blocker});
}

TEST(FabricTest, RejectsFewerThanTwoSpines) {
  lab::FabricSpec spec;
  spec.tag = unique_tag("y");
  spec.spines = 1;
  EXPECT_THROW(lab::TestFabric{spec}, Error);
  EXPECT_EQ(leftovers("/run/netns", spec.tag), std::vector<std::string>{});
}

}  // namespace
}  // namespace qpspread::test
