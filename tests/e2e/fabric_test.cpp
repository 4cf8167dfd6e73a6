// The test fabric itself (a lab brought up by the lab runner), on real FRR: it converges with ECMP
// to the remote VTEP over every spine, the hosts reach each other over the L2 VNI, and destruction
// (also of a fabric whose constructor failed midway) leaves no namespace, FRR process, runtime
// directory or lab state behind, and never touches a namespace that is not its own.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "common/command.h"
#include "common/error.h"
#include "tests/support/test_fabric.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/lab/lab_state.h"

namespace qpspread::test {
namespace {

namespace fs = std::filesystem;

bool can_run_fabric() { return ::geteuid() == 0 && ::access("/usr/lib/frr/zebra", X_OK) == 0; }

std::string unique_tag(const char* prefix) { return prefix + std::to_string(::getpid() % 100000); }

// The fabric's node namespaces: clab-<lab>-<node>.
std::string ns_prefix(const std::string& tag) { return "clab-" + lab::fabric_lab_name(tag) + "-"; }

// Entries named clab-<lab>-* in dir (/run/netns or /var/run/frr).
std::vector<std::string> leftovers(const std::string& dir, const std::string& tag) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(ns_prefix(tag), 0) == 0) out.push_back(e.path().string());
  return out;
}

// FRR daemons started for the fabric's namespaces (`-N clab-<lab>-<node>`), found by command line:
// also those a failed construction might have started without recording.
std::vector<pid_t> frr_processes_of(const std::string& tag) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(e.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (char& c : cmdline)
      if (c == '\0') c = ' ';
    if (cmdline.rfind("/usr/lib/frr/", 0) == 0 && cmdline.find(" -N " + ns_prefix(tag)) != std::string::npos)
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

bool lab_state_exists(const std::string& tag) {
  return fs::exists(lab::LabState::dir_for(lab::fabric_lab_name(tag)));
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

    pids = fabric.frr_pids();
    EXPECT_EQ(pids.size(), 3u * (2 + spec.spines));  // zebra, bfdd, bgpd per router
    EXPECT_EQ(frr_processes_of(spec.tag).size(), pids.size());
    EXPECT_EQ(fabric.vni(), spec.vni);
    EXPECT_EQ(fabric.lab_name(), lab::fabric_lab_name(spec.tag));
    EXPECT_EQ(fabric.leaf_netns(0), ns_prefix(spec.tag) + "leaf1");
    EXPECT_EQ(lab::not_converged(fabric.topology()), std::vector<std::string>{});
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
  EXPECT_FALSE(lab_state_exists(spec.tag));
  for (pid_t pid : pids) EXPECT_FALSE(frr_daemon_alive(pid)) << "pid " << pid;
}

// Construction fails after every namespace, link and FRR daemon exists (no time to converge):
// the fabric must remove all of it.
TEST(FabricTest, FailedConstructionRemovesWhatItBuilt) {
  if (!can_run_fabric()) GTEST_SKIP() << "needs root and FRR (/usr/lib/frr/zebra)";
  lab::FabricSpec spec;
  spec.tag = unique_tag("x");
  spec.timeout_s = 0;
  EXPECT_THROW(lab::TestFabric{spec}, Error);
  EXPECT_EQ(leftovers("/run/netns", spec.tag), std::vector<std::string>{});
  EXPECT_EQ(leftovers("/var/run/frr", spec.tag), std::vector<std::string>{});
  EXPECT_EQ(frr_processes_of(spec.tag), std::vector<pid_t>{});
  EXPECT_FALSE(lab_state_exists(spec.tag));
}

// A namespace of the fabric's name that is not the fabric's: construction fails and leaves it be.
TEST(FabricTest, FailedConstructionLeavesAForeignNamespaceAlone) {
  if (!can_run_fabric()) GTEST_SKIP() << "needs root and FRR (/usr/lib/frr/zebra)";
  lab::FabricSpec spec;
  spec.tag = unique_tag("z");
  const std::string blocker = ns_prefix(spec.tag) + "host2";
  run_checked({"ip", "netns", "add", blocker});
  EXPECT_THROW(lab::TestFabric{spec}, Error);
  EXPECT_EQ(leftovers("/run/netns", spec.tag), std::vector<std::string>{"/run/netns/" + blocker});
  EXPECT_EQ(leftovers("/var/run/frr", spec.tag), std::vector<std::string>{});
  EXPECT_FALSE(lab_state_exists(spec.tag));
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
