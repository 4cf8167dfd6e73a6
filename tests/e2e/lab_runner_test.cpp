// The Docker-less runner on a small topology written by each test (no FRR): namespaces named as
// containerlab names them, links named as in the file, sysctls and exec applied, `exec` in a node,
// status as JSON; `down` leaves nothing, also after an `up` that was killed; bad files are refused
// with a message naming the problem.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>

#include "tests/support/test_util.h"

namespace qpspread::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class LabRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces)";
    name_ = "qpt" + std::to_string(::getpid() % 100000) + std::to_string(counter_++);
    dir_ = fs::temp_directory_path() / ("qps-lab-" + name_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!name_.empty()) run({QPSPREAD_BIN, "lab", "down", "--name", name_});
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string write_topology(const std::string& links_and_more = "") {
    const std::string file = (dir_ / "t.clab.yml").string();
    std::ofstream(file) << "name: " << name_ << R"(
topology:
  defaults:
    kind: linux
  nodes:
    a:
      sysctls:
        net.ipv4.ip_forward: 1
      exec:
        - ip addr add 192.0.2.1/24 dev eth1
    b:
      exec:
        - ip addr add 192.0.2.2/24 dev eth1
  links:
    - endpoints: ["a:eth1", "b:eth1"]
)" << links_and_more;
    return file;
  }
  CommandResult lab(std::vector<std::string> args) {
    args.insert(args.begin(), {QPSPREAD_BIN, "lab"});
    return run(args);
  }
  bool node_netns_exists(const std::string& node) { return qpspread::netns_exists(clab_netns_name(name_, node)); }

  static inline int counter_ = 0;
  std::string name_;
  fs::path dir_;
};

TEST_F(LabRunnerTest, UpCreatesTheNodesAsContainerlabNamesThemAndDownRemovesThem) {
  const std::string file = write_topology();
  CommandResult up = lab({"-j", "up", "-t", file});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_TRUE(json::parse(up.out)["converged"].get<bool>());
  EXPECT_TRUE(node_netns_exists("a"));
  EXPECT_TRUE(node_netns_exists("b"));
  // Links named as in the file, the exec commands and sysctls applied.
  EXPECT_NE(run({"ip", "-n", "clab-" + name_ + "-a", "-br", "addr", "show", "dev", "eth1"}).out.find("192.0.2.1/24"), std::string::npos);
  CommandResult fwd = lab({"exec", "-t", file, "a", "--", "cat", "/proc/sys/net/ipv4/ip_forward"});
  EXPECT_EQ(fwd.exit_code, 0);
  EXPECT_EQ(fwd.out, "1\n");
  CommandResult ping = lab({"exec", "-t", file, "a", "--", "ping", "-c", "1", "-W", "2", "192.0.2.2"});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  // exec passes the command's exit status on.
  EXPECT_EQ(lab({"exec", "-t", file, "b", "--", "false"}).exit_code, 1);
  json st = json::parse(lab({"-j", "status", "-t", file}).out);
  EXPECT_EQ(st["nodes"].size(), 2u);
  EXPECT_TRUE(st["nodes"][0]["exists"].get<bool>());
  json down = json::parse(lab({"-j", "down", "-t", file}).out);
  EXPECT_TRUE(down["was_up"].get<bool>());
  EXPECT_EQ(down["namespaces_removed"].size(), 2u);
  EXPECT_FALSE(node_netns_exists("a"));
  EXPECT_FALSE(node_netns_exists("b"));
  EXPECT_FALSE(fs::exists("/run/qpspread/lab/" + name_));
  EXPECT_FALSE(json::parse(lab({"-j", "down", "-t", file}).out)["was_up"].get<bool>());
}

// lab up --agent: once up, an agent for the lab's leaves (node a, labelled so, with a VXLAN device)
// attaches them; lab down ends it with the lab's other processes.
TEST_F(LabRunnerTest, UpWithAgentAttachesTheLeavesAndDownStopsTheAgent) {
  const std::string file = write_topology();
  {
    std::ifstream in(file);
    std::string t((std::istreambuf_iterator<char>(in)), {});
    t.replace(t.find("    a:\n"), 7, "    a:\n      labels: {role: leaf}\n");
    t.replace(t.find("        - ip addr add 192.0.2.1/24 dev eth1\n"), 44,
              "        - ip addr add 192.0.2.1/24 dev eth1\n        - ip link add vx100 type vxlan id 100 local 192.0.2.1 "
              "dstport 4789\n        - ip link set vx100 up\n");
    std::ofstream(file) << t;
  }
  const std::string port = std::to_string(19300 + ::getpid() % 100);
  CommandResult up = lab({"-j", "up", "-t", file, "--agent", "--agent-listen", "127.0.0.1:" + port});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  const json a = json::parse(up.out)["agent"];
  ASSERT_TRUE(a.is_object()) << up.out;
  const pid_t pid = a["pid"].get<pid_t>();
  EXPECT_EQ(::kill(pid, 0), 0);
  const std::string leaf = clab_netns_name(name_, "a");
  bool attached = false;
  for (int i = 0; i < 100 && !attached; i++) {
    const json st = json::parse(run({QPSPREAD_BIN, "-j", "status", "--netns", leaf}).out)["namespaces"][0];
    attached = st.value("attached", false) && !st["devices"].empty() && st["devices"][0]["attached"].get<bool>();
    if (!attached) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(attached) << run({"cat", a["log"].get<std::string>()}).out;
  const CommandResult health = run({"curl", "-s", "http://127.0.0.1:" + port + "/healthz"});
  EXPECT_EQ(health.out, "ok\n") << health.err;
  const json down = json::parse(lab({"-j", "down", "-t", file}).out);
  EXPECT_TRUE(down["was_up"].get<bool>());
  bool gone = false;
  for (int i = 0; i < 100 && !gone; i++) {
    gone = ::kill(pid, 0) != 0 || run({"sh", "-c", "grep -q '^State:.*Z' /proc/" + std::to_string(pid) + "/status"}).exit_code == 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << "lab down ends the agent";
  EXPECT_FALSE(node_netns_exists("a"));
}

// An up killed midway leaves a state file; down (or the next up) removes what it made.
TEST_F(LabRunnerTest, AKilledUpIsUndoneAndASecondUpWorks) {
  const std::string file = write_topology();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(QPSPREAD_BIN, QPSPREAD_BIN, "lab", "up", "-t", file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Killed as soon as it has made its first namespace.
  for (int i = 0; i < 500 && !node_netns_exists("a"); i++) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(fs::exists("/run/qpspread/lab/" + name_ + "/state.json"));
  CommandResult up = lab({"-j", "up", "-t", file});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_TRUE(node_netns_exists("b"));
  lab({"down", "-t", file});
  EXPECT_FALSE(node_netns_exists("a"));
  EXPECT_FALSE(node_netns_exists("b"));
}

TEST_F(LabRunnerTest, BadTopologiesAreRefusedWithTheReason) {
  const std::string missing = write_topology("    - endpoints: [\"a:eth2\", \"c:eth1\"]\n");
  CommandResult r = lab({"up", "-t", missing});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no node 'c'"), std::string::npos) << r.err;
  EXPECT_FALSE(node_netns_exists("a"));
  const std::string twice = write_topology("    - endpoints: [\"a:eth1\", \"b:eth2\"]\n");
  r = lab({"up", "-t", twice});
  EXPECT_NE(r.err.find("a:eth1 is used by two links"), std::string::npos) << r.err;
  EXPECT_EQ(lab({"up", "-t", (dir_ / "nonexistent.yml").string()}).exit_code, 1);
  // Values of another kind than the file format's (found by the clab reader's fuzzer): the file is
  // named bad, not yaml-cpp's exception.
  for (const auto& [text, want] : {std::pair{"just a string\n", "a topology file is a map"},
                                   std::pair{"name: x\ntopology: 3\n", "no topology.nodes"},
                                   std::pair{"name: [a]\ntopology: {nodes: {a: {}}}\n", "topology " }}) {
    const std::string f = (dir_ / "odd.yml").string();
    std::ofstream(f) << text;
    r = lab({"up", "-t", f});
    EXPECT_EQ(r.exit_code, 1) << text;
    EXPECT_NE(r.err.find(std::string("topology ") + f + ": "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
  }
}

TEST_F(LabRunnerTest, ExecOnAnUnknownNodeNamesTheNodes) {
  const std::string file = write_topology();
  ASSERT_EQ(lab({"up", "-t", file}).exit_code, 0);
  CommandResult r = lab({"exec", "-t", file, "zz", "--", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nodes: a, b"), std::string::npos) << r.err;
  CommandResult s = lab({"status", "--name", "qps-no-such-lab"});
  EXPECT_NE(s.err.find("not up"), std::string::npos) << s.err;
}

TEST_F(LabRunnerTest, FabricLinkDownAndUpAreTimestamped) {
  const std::string file = write_topology();
  ASSERT_EQ(lab({"up", "-t", file}).exit_code, 0);
  json d = json::parse(lab({"-j", "link", "-t", file, "a:eth1", "down"}).out);
  EXPECT_EQ(d["state"], "down");
  EXPECT_FALSE(d["time"].get<std::string>().empty());
  EXPECT_NE(run({"ip", "-n", "clab-" + name_ + "-b", "link", "show", "eth1"}).out.find("state DOWN"), std::string::npos);
  lab({"link", "-t", file, "a:eth1", "up"});
  json st = json::parse(lab({"-j", "status", "-t", file}).out);
  ASSERT_GE(st["events"].size(), 3u);  // up, converged, link down, link up
  EXPECT_EQ(st["events"].back()["what"], "link a:eth1--b:eth1 up");
}

// A WAN link (vars.impairment) goes through a relay: its delay shows in the RTT, changes at run
// time, and a cut drops everything while both ends keep their carrier.
TEST_F(LabRunnerTest, WanLinkDelayChangesAtRunTimeAndACutDropsEverything) {
  const std::string file = write_topology(R"(    - endpoints: ["a:eth2", "b:eth2"]
      vars:
        name: wan1
        impairment: {delay: 5ms, jitter: 0ms, loss: "0", rate: ""}
)");
  ASSERT_EQ(lab({"up", "-t", file}).exit_code, 0);
  run_ok({"ip", "-n", "clab-" + name_ + "-a", "addr", "add", "198.51.100.1/24", "dev", "eth2"});
  run_ok({"ip", "-n", "clab-" + name_ + "-b", "addr", "add", "198.51.100.2/24", "dev", "eth2"});
  auto rtt_ms = [&] {
    // A first ping resolves the neighbour (ARP crosses the relay too), then 5 are averaged.
    lab({"exec", "-t", file, "a", "--", "ping", "-c", "1", "-W", "2", "198.51.100.2"});
    CommandResult r = lab({"exec", "-t", file, "a", "--", "ping", "-c", "5", "-i", "0.2", "-W", "2", "198.51.100.2"});
    const size_t at = r.out.find("rtt min/avg/max/mdev = ");
    if (at == std::string::npos) return -1.0;
    const std::string nums = r.out.substr(at + 23);
    return std::stod(nums.substr(nums.find('/') + 1));  // avg
  };
  EXPECT_NEAR(rtt_ms(), 10.0, 1.5);
  json st = json::parse(lab({"-j", "status", "-t", file}).out);
  ASSERT_EQ(st["links"].size(), 1u);
  EXPECT_EQ(st["links"][0]["backend"], "relay");
  EXPECT_TRUE(st["links"][0]["relay_running"].get<bool>());
  ASSERT_EQ(lab({"impair", "-t", file, "wan1", "--delay", "15ms"}).exit_code, 0);
  EXPECT_NEAR(rtt_ms(), 30.0, 2.0);
  ASSERT_EQ(lab({"link", "-t", file, "wan1", "down"}).exit_code, 0);
  EXPECT_LT(rtt_ms(), 0) << "the cut WAN link still passes traffic";
  EXPECT_EQ(run({"ip", "-n", "clab-" + name_ + "-a", "link", "show", "eth2"}).out.find("NO-CARRIER"), std::string::npos);
  ASSERT_EQ(lab({"link", "-t", file, "wan1", "up"}).exit_code, 0);
  EXPECT_NEAR(rtt_ms(), 30.0, 2.0);
  json d = json::parse(lab({"-j", "down", "-t", file}).out);
  EXPECT_EQ(d["namespaces_removed"].size(), 3u);  // a, b and the WAN wire
  EXPECT_GE(d["processes_ended"].get<int>(), 1);
}

constexpr const char* kWanLink = R"(    - endpoints: ["a:eth2", "b:eth2"]
      vars:
        name: wan1
        impairment: {delay: 5ms, jitter: 0ms, loss: "0", rate: ""}
)";

// A value that does not parse exits 1 naming it and the syntax, and changes nothing: the state,
// the relay's control file (what the relay applies), the relay itself.
TEST_F(LabRunnerTest, ABadImpairmentValueIsRefusedAndChangesNothing) {
  const std::string file = write_topology(kWanLink);
  ASSERT_EQ(lab({"up", "-t", file}).exit_code, 0);
  const std::string control = "/run/qpspread/lab/" + name_ + "/wan1.json";
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const std::string control_before = read(control);
  ASSERT_FALSE(control_before.empty());
  const json before = json::parse(lab({"-j", "status", "-t", file}).out)["links"][0]["impairment"];
  EXPECT_EQ(before["delay"], "5ms");
  for (const auto& [flag, value, syntax] : {std::tuple{"--rate", "20xbit", "a rate like 1gbit"},
                                            std::tuple{"--delay", "5xs", "a duration like 20ms"},
                                            std::tuple{"--loss", "150", "a loss in percent from 0 to 100"},
                                            std::tuple{"--ecn", "100kb,20kb,10", "KMIN must be below KMAX"}}) {
    CommandResult r = lab({"impair", "-t", file, "wan1", flag, value});
    EXPECT_EQ(r.exit_code, 1) << flag << " " << value;
    EXPECT_NE(r.err.find(std::string(flag) + ": '" + value + "'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(syntax), std::string::npos) << r.err;
    CommandResult j = lab({"-j", "impair", "-t", file, "wan1", flag, value});
    EXPECT_EQ(j.exit_code, 1);
    const json err = json::parse(j.out, nullptr, false);
    ASSERT_TRUE(err.is_object()) << j.out;
    EXPECT_NE(err.value("error", "").find(std::string("'") + value + "'"), std::string::npos) << j.out;
    EXPECT_NE(err.value("error", "").find(syntax), std::string::npos) << j.out;
  }
  const json st = json::parse(lab({"-j", "status", "-t", file}).out);
  EXPECT_EQ(st["links"][0]["impairment"], before);
  EXPECT_TRUE(st["links"][0]["relay_running"].get<bool>());
  EXPECT_EQ(read(control), control_before);
  for (const auto& e : st["events"]) EXPECT_EQ(e["what"].get<std::string>().rfind("impair", 0), std::string::npos) << e;
}

TEST_F(LabRunnerTest, APartialImpairmentChangeKeepsTheOtherValues) {
  const std::string file = write_topology(kWanLink);
  ASSERT_EQ(lab({"up", "-t", file}).exit_code, 0);
  CommandResult r = lab({"-j", "impair", "-t", file, "wan1", "--rate", "20mbit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["impairment"]["rate"], "20mbit");
  const json imp = json::parse(lab({"-j", "status", "-t", file}).out)["links"][0]["impairment"];
  EXPECT_EQ(imp["rate"], "20mbit");
  EXPECT_EQ(imp["delay"], "5ms");
  std::ifstream in("/run/qpspread/lab/" + name_ + "/wan1.json");
  const json control = json::parse(in);
  EXPECT_EQ(control["rate"], "20mbit");
  EXPECT_EQ(control["delay"], "5ms");
  EXPECT_EQ(control["ecn"], "0");
  // ECN marking joins the rate and keeps the rest; the relay takes it (its control file says so).
  ASSERT_EQ(lab({"impair", "-t", file, "wan1", "--ecn", "10kb,50kb,5%"}).exit_code, 0);
  const json marked = json::parse(lab({"-j", "status", "-t", file}).out)["links"][0]["impairment"];
  EXPECT_EQ(marked["ecn"], "10kb,50kb,5%");
  EXPECT_EQ(marked["rate"], "20mbit");
  std::ifstream again("/run/qpspread/lab/" + name_ + "/wan1.json");
  EXPECT_EQ(json::parse(again)["ecn"], "10kb,50kb,5%");
}

TEST_F(LabRunnerTest, ABadImpairmentInTheTopologyIsRefusedBeforeAnythingIsMade) {
  const std::string file = write_topology(R"(    - endpoints: ["a:eth2", "b:eth2"]
      vars:
        name: wan1
        impairment: {delay: 5ms, rate: 20xbit}
)");
  CommandResult r = lab({"up", "-t", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("link wan1: vars.impairment.rate: '20xbit' is not a rate like 1gbit"), std::string::npos)
      << r.err;
  EXPECT_FALSE(node_netns_exists("a"));
  EXPECT_FALSE(fs::exists("/run/qpspread/lab/" + name_));
}

// The relay cannot write its pidfile where the runner waits for it (a directory is in the way):
// it exits at once, and `up` says so naming the link and the relay's log instead of waiting.
TEST_F(LabRunnerTest, ARelayThatDoesNotStartIsReportedWithItsLog) {
  const std::string file = write_topology(kWanLink);
  const std::string dir = "/run/qpspread/lab/" + name_;
  fs::create_directories(dir + "/wan1.pid/in-the-way");
  const auto t0 = std::chrono::steady_clock::now();
  CommandResult r = lab({"up", "-t", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8)) << "waited for a relay that had ended";
  EXPECT_NE(r.err.find("WAN link wan1: the relay did not start"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dir + "/wan1.log"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/state.json")) << "the lab is no longer recorded for lab down";
  const json d = json::parse(lab({"-j", "down", "-t", file}).out);
  EXPECT_EQ(d["namespaces_removed"].size(), 3u);  // a, b and the WAN wire
  EXPECT_FALSE(node_netns_exists("a"));
}

}  // namespace
}  // namespace qpspread::test
