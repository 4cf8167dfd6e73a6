// qpspread agent in a private namespace, as a child process: a recreated VXLAN device is steered
// again within a second with its VNI's mode; a new VNI's device is attached; our filter deleted by
// hand comes back; someone else's tc filter and XDP programs are left alone (one in place of ours
// on a transit interface is reported, not replaced); kill -9 and a restart duplicate nothing and
// the counters go on; SIGHUP applies a changed mode and survives a bad file; /metrics parses as
// Prometheus text and agrees with `stats -j`; a bad config exits 2 with nothing attached; on_exit:
// detach detaches.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/netns.h"
#include "common/unique_fd.h"
#include "loader/tc_hook.h"
#include "loader/xdp_hook.h"
#include "tests/support/test_util.h"
#include "userspace/workload/raw_socket.h"
#include "userspace/workload/roce_frame.h"

namespace qpspread::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A free TCP port on 127.0.0.1 (the kernel's pick; closed again for the agent to take).
uint16_t free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 0;
  socklen_t len = sizeof a;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// `qpspread agent --config FILE` as a child, its stderr in a log file; SIGKILLed and reaped on
// destruction whatever happened.
class AgentProcess {
 public:
  AgentProcess(const std::string& config, const std::string& log) : log_(log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      ::dup2(fd, 2);
      ::dup2(fd, 1);
      ::execl(QPSPREAD_BIN, QPSPREAD_BIN, "agent", "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~AgentProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  void signal(int sig) const { ::kill(pid_, sig); }
  // Its exit code after `sig` (-1 when it did not end within 10 s).
  int end_with(int sig) {
    ::kill(pid_, sig);
    for (int i = 0; i < 1000; i++) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  std::string log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

bool eventually(const std::function<bool()>& ok, std::chrono::milliseconds within = 5s) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return ok();
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces, BPF)";
    ns_ = std::make_unique<ScopedNetns>("qps-agent");
    // Pins are keyed by the namespace's inode, which a new namespace may reuse: clear any that a
    // namespace deleted while attached (by another test that failed) left there.
    run({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
    // No IPv6: the devices' own MLD and ND frames would move the counters the tests compare.
    for (const char* k : {"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"})
      run_ok({"ip", "netns", "exec", ns_->name(), "sysctl", "-qw", k});
    dir_ = std::filesystem::temp_directory_path() / ("qps-agent-" + std::to_string(::getpid()) + "-" + ns_->name());
    std::filesystem::create_directories(dir_);
    for (const char* n : {"up1", "t1"}) {
      ns_->ip({"link", "add", n, "type", "veth", "peer", "name", std::string(n) + "p"});
      ns_->ip({"link", "set", n, "up"});
      ns_->ip({"link", "set", std::string(n) + "p", "up"});
    }
    ns_->ip({"addr", "add", "10.9.0.1/24", "dev", "up1"});
    ns_->ip({"neigh", "add", "10.9.0.2", "lladdr", "02:00:00:00:09:02", "dev", "up1", "nud", "permanent"});
    add_vxlan("vx100", 100);
    port_ = free_port();
  }
  void TearDown() override {
    agent_.reset();
    if (ns_) run({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
    ns_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A VTEP device whose frames go to 10.9.0.2 by up1.
  void add_vxlan(const std::string& name, uint32_t vni) {
    ns_->ip({"link", "add", name, "type", "vxlan", "id", std::to_string(vni), "dstport", "4789", "local", "10.9.0.1",
             "nolearning"});
    ns_->ip({"link", "set", name, "up"});
    run_ok({"bridge", "-n", ns_->name(), "fdb", "append", "00:00:00:00:00:00", "dev", name, "dst", "10.9.0.2"});
  }
  std::string write_config(const std::string& extra, const std::string& file = "agent.yml") {
    const std::string path = (dir_ / file).string();
    std::ofstream(path) << "listen: 127.0.0.1:" << port_ << "\ntargets:\n  - netns: " << ns_->name()
                        << "\n    uplinks: [up1]\n" << extra;
    return path;
  }
  void start(const std::string& extra = "") {
    agent_ = std::make_unique<AgentProcess>(write_config(extra), (dir_ / "agent.log").string());
    ASSERT_TRUE(eventually([&] { return get("/healthz").first == 200; }, 10s)) << agent_->log();
  }
  std::pair<int, std::string> get(const std::string& path) {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(1);
    auto r = c.Get(path.c_str());
    if (!r) return {0, ""};
    return {r->status, r->body};
  }
  json status() { return json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}))["namespaces"][0]; }
  json device(const std::string& name) {
    const json s = status();
    for (const auto& d : s["devices"])
      if (d["ifname"] == name) return d;
    return nullptr;
  }
  uint64_t steered() {
    const json s = status();
    return s["reasons"].contains("steered") ? s["reasons"]["steered"]["packets"].get<uint64_t>() : 0;
  }
  void send_roce(const std::string& dev, int n) {
    workload::RoceFrameSpec spec;
    spec.src_mac = {0x02, 0, 0, 0, 1, 1};
    spec.dst_mac = {0x02, 0, 0, 0, 2, 1};
    spec.src_ip = 0x0a640001;
    spec.dst_ip = 0x0a640002;
    const std::vector<uint8_t> frame = workload::build_rocev2_frame(spec);
    Netns::open(ns_->name()).run([&] {
      workload::RawSender tx(dev);
      for (int i = 0; i < n; i++) tx.send(frame);
    });
  }
  int ifindex(const std::string& dev) {
    int i = 0;
    Netns::open(ns_->name()).run([&] { i = static_cast<int>(if_nametoindex(dev.c_str())); });
    return i;
  }
  // qpspread's programs on the VXLAN device's egress hook (a clsact filter or a tcx program).
  size_t our_programs(const std::string& dev) {
    return programs_named(tc_hook_listing(ns_->name(), dev, "egress"), "qps_vxlan_egres");
  }

  std::unique_ptr<ScopedNetns> ns_;
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(AgentTest, ARecreatedDeviceIsSteeredAgainWithinOneSecondWithItsVnisMode) {
  start("mode: off\n");
  // Beside the agent, the CLI sets the mode; the agent must keep it, not reset it to its default.
  run_ok({QPSPREAD_BIN, "mode", "--netns", ns_->name(), "--vni", "100", "qp-hash"});
  const int old_index = ifindex("vx100");
  ns_->ip({"link", "del", "vx100"});
  const uint64_t before = steered();
  const auto created = std::chrono::steady_clock::now();
  add_vxlan("vx100", 100);
  bool ok = eventually(
      [&] {
        send_roce("vx100", 1);
        return steered() > before;
      },
      1s);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - created).count();
  EXPECT_TRUE(ok) << "not steered " << ms << " ms after the device was created\n" << agent_->log();
  json d = device("vx100");
  ASSERT_FALSE(d.is_null()) << status().dump() << agent_->log();
  EXPECT_NE(d["ifindex"].get<int>(), old_index);
  EXPECT_EQ(d["mode"], "qp-hash");
  EXPECT_TRUE(d["attached"].get<bool>());
  EXPECT_NE(agent_->log().find("forgot vx100"), std::string::npos) << agent_->log();
  EXPECT_EQ(status()["devices"].size(), 1u) << "the old device's record is forgotten";
}

TEST_F(AgentTest, ANewVnisDeviceIsAttachedWithTheConfiguredMode) {
  start("mode: qp-hash\nvnis:\n  200: {mode: off}\n");
  add_vxlan("vx200", 200);
  ASSERT_TRUE(eventually([&] {
    json d = device("vx200");
    return !d.is_null() && d["attached"].get<bool>();
  })) << agent_->log();
  EXPECT_EQ(device("vx200")["mode"], "off") << "vnis.200 of the config";
  EXPECT_EQ(device("vx100")["mode"], "qp-hash") << "the default";
}

// A filter removed makes a netlink event: the agent reacts at once.
TEST_F(AgentTest, OurFilterDeletedByHandIsRestored) {
  start("tc_api: clsact\n");
  const uint32_t before = device("vx100")["prog_id"].get<uint32_t>();
  ns_->ip({"link", "set", "t1", "down"});  // unrelated noise first
  run_ok({"tc", "-n", ns_->name(), "filter", "del", "dev", "vx100", "egress"});
  // (The agent may put it back before a look here: the new program's id says it did.)
  ASSERT_TRUE(eventually([&] { return our_programs("vx100") == 1 && device("vx100")["prog_id"].get<uint32_t>() != before; }))
      << agent_->log();
  EXPECT_NE(device("vx100")["prog_id"].get<uint32_t>(), 0u);
  EXPECT_NE(device("vx100")["prog_id"].get<uint32_t>(), before) << "a new program instance";
}

// A program removed from a tcx hook makes no netlink event: the resync puts it back.
TEST_F(AgentTest, OurTcxProgramDetachedByHandIsRestoredByTheResync) {
  if (!tcx_supported()) GTEST_SKIP() << "no tcx in this kernel (Linux 6.6+)";
  start("resync: 1s\n");
  const json d = device("vx100");
  ASSERT_EQ(d["tc_hook"], "tcx") << "the default where the kernel has it";
  const uint32_t before = d["prog_id"].get<uint32_t>();
  Netns::open(ns_->name()).run([&] {
    const UniqueFd ours(bpf_prog_get_fd_by_id(before));
    ASSERT_EQ(bpf_prog_detach2(ours.get(), static_cast<int>(if_nametoindex("vx100")),
                               tcx_attach_type(TcDir::egress)), 0);
  });
  ASSERT_TRUE(eventually([&] {
    const uint32_t now = device("vx100")["prog_id"].get<uint32_t>();
    return now != 0 && now != before;
  }, 5s)) << agent_->log();
  EXPECT_EQ(tc_hook_listing(ns_->name(), "vx100", "egress"), "tcx qps_vxlan_egres\n");
}

TEST_F(AgentTest, SomeoneElsesFilterAndXdpProgramsAreLeftAlone) {
  // A foreign tc filter on the VTEP device (another priority) and a foreign XDP program on the
  // uplink (qpspread receives on a veth's tc ingress: the two coexist); later, one in place of
  // ours on the transit interface.
  const UniqueFd tc_prog = load_foreign(BPF_PROG_TYPE_SCHED_CLS, TC_ACT_OK);
  const UniqueFd xdp_prog = load_foreign(BPF_PROG_TYPE_XDP, 2 /* XDP_PASS */);
  ASSERT_TRUE(tc_prog && xdp_prog);
  Netns::open(ns_->name()).run([&] {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(if_nametoindex("vx100")), .attach_point = BPF_TC_EGRESS);
    bpf_tc_hook_create(&hook);
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = tc_prog.get(), .handle = 7, .priority = 100);
    ASSERT_EQ(bpf_tc_attach(&hook, &opts), 0);
    ASSERT_EQ(bpf_xdp_attach(static_cast<int>(if_nametoindex("up1")), xdp_prog.get(), XDP_FLAGS_SKB_MODE, nullptr), 0);
  });
  start("    transit: [t1]\ntc_api: clsact\n");
  auto foreign_tc_there = [&] {
    const json f = json::parse(run_ok({"tc", "-n", ns_->name(), "-j", "filter", "show", "dev", "vx100", "egress"}));
    for (const auto& e : f)
      if (e.value("pref", 0) == 100 && e.contains("options")) return true;
    return false;
  };
  auto xdp_on = [&](const char* dev) {
    uint32_t id = 0;
    Netns::open(ns_->name()).run([&] { id = xdp_query(static_cast<int>(if_nametoindex(dev))); });
    return id;
  };
  const uint32_t up1_id = xdp_on("up1");
  ASSERT_NE(up1_id, 0u);
  ASSERT_EQ(status()["uplinks"].size(), 1u);
  EXPECT_EQ(status()["uplinks"][0]["rx_hook"], "tc ingress");
  EXPECT_TRUE(status()["uplinks"][0]["attached"].get<bool>());
  // Changes make the agent attach again, twice.
  add_vxlan("vx200", 200);
  ASSERT_TRUE(eventually([&] { return !device("vx200").is_null(); })) << agent_->log();
  run_ok({"tc", "-n", ns_->name(), "filter", "del", "dev", "vx100", "egress", "pref", std::to_string(0x5150)});
  ASSERT_TRUE(eventually([&] { return our_programs("vx100") == 1; })) << agent_->log();
  EXPECT_TRUE(foreign_tc_there());
  EXPECT_EQ(xdp_on("up1"), up1_id);
  EXPECT_EQ(our_programs("vx100"), 1u);
  EXPECT_TRUE(status()["uplinks"][0]["attached"].get<bool>());

  // Someone replaces our XDP program on the transit interface: the agent does not fight it;
  // /healthz says why.
  const uint32_t ours = xdp_on("t1");
  ASSERT_NE(ours, 0u);
  Netns::open(ns_->name()).run([&] {
    LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = bpf_prog_get_fd_by_id(ours));
    ASSERT_EQ(bpf_xdp_attach(static_cast<int>(if_nametoindex("t1")), xdp_prog.get(), XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, &o), 0);  // ours: native (transit)
  });
  const uint32_t theirs = xdp_on("t1");
  ns_->ip({"link", "set", "vx200", "down"});  // a change, so the agent looks again
  ASSERT_TRUE(eventually([&] { return get("/healthz").first == 503; })) << agent_->log();
  EXPECT_NE(get("/healthz").second.find("already has an XDP program"), std::string::npos) << get("/healthz").second;
  EXPECT_EQ(xdp_on("t1"), theirs);
}

TEST_F(AgentTest, KillNineThenRestartDuplicatesNothingAndCountersGoOn) {
  start();
  send_roce("vx100", 5);
  const uint64_t first = steered();
  ASSERT_GE(first, 5u);
  const uint32_t prog = device("vx100")["prog_id"].get<uint32_t>();
  EXPECT_EQ(agent_->end_with(SIGKILL), 128 + SIGKILL);
  start();
  EXPECT_EQ(our_programs("vx100"), 1u);
  EXPECT_EQ(device("vx100")["prog_id"].get<uint32_t>(), prog) << "adopted, not replaced";
  EXPECT_EQ(status()["uplinks"].size(), 1u);
  EXPECT_GE(steered(), first);
  send_roce("vx100", 5);
  EXPECT_GE(steered(), first + 5) << "the same counters";
  EXPECT_EQ(agent_->log().find("attached vx100"), agent_->log().rfind("attached vx100")) << "attached once, by the first agent";
}

TEST_F(AgentTest, SighupAppliesAChangedModeAndABadFileKeepsTheRunningConfig) {
  start("vnis:\n  100: {mode: qp-hash}\n");
  EXPECT_EQ(device("vx100")["mode"], "qp-hash");
  write_config("vnis:\n  100: {mode: off}\n");
  agent_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return device("vx100")["mode"] == "off"; })) << agent_->log();
  write_config("vnis:\n  100: {mode: fast}\n");
  agent_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return agent_->log().find("reload failed") != std::string::npos; })) << agent_->log();
  EXPECT_NE(agent_->log().find("agent.yml:6: vnis.100.mode: 'fast' is not one of off, qp-hash, balance"), std::string::npos)
      << agent_->log();
  EXPECT_EQ(get("/healthz").first, 200);
  EXPECT_EQ(device("vx100")["mode"], "off");
  EXPECT_EQ(agent_->end_with(SIGTERM), 0);
  EXPECT_TRUE(device("vx100")["attached"].get<bool>()) << "on_exit: keep";
}

// A reload that adds a namespace: it is attached, and /metrics carries both namespaces with each
// family once; the reload that takes it out again releases it (left attached) and keeps the first.
TEST_F(AgentTest, SighupAddsAndReleasesATargetAndMetricsCoverEveryNamespace) {
  start();
  ScopedNetns second("qps-agent2");
  // Detached before the namespace goes, whatever fails (pins outlive a namespace deleted attached).
  const std::unique_ptr<void, std::function<void(void*)>> detach_second(
      reinterpret_cast<void*>(1), [&](void*) { run({QPSPREAD_BIN, "detach", "--netns", second.name()}); });
  second.ip({"link", "add", "vx300", "type", "vxlan", "id", "300", "dstport", "4789", "local", "10.9.1.1", "nolearning"});
  const std::string extra = "  - netns: " + second.name() + "\n    uplinks: none\n";
  write_config(extra);
  agent_->signal(SIGHUP);
  // (status fails while the agent is half-way through pinning: not attached yet.)
  auto attached_in = [&](const std::string& ns) {
    const CommandResult r = run({QPSPREAD_BIN, "-j", "status", "--netns", ns});
    if (r.exit_code != 0) return false;
    const json st = json::parse(r.out)["namespaces"][0];
    return st["attached"].get<bool>() && !st["devices"].empty() && st["devices"][0]["attached"].get<bool>();
  };
  ASSERT_TRUE(eventually([&] { return attached_in(second.name()); })) << agent_->log();
  const std::string metrics = get("/metrics").second;
  EXPECT_NE(metrics.find("qpspread_vni_mode_info{netns=\"" + second.name() + "\",vni=\"300\",mode=\"qp-hash\"} 1"),
            std::string::npos) << metrics;
  EXPECT_NE(metrics.find("qpspread_vni_mode_info{netns=\"" + ns_->name() + "\",vni=\"100\""), std::string::npos) << metrics;
  const std::string type = "# TYPE qpspread_vni_mode_info gauge";
  EXPECT_EQ(metrics.find(type), metrics.rfind(type)) << "each family once";
  EXPECT_EQ(json::parse(get("/v1/stats").second)["namespaces"].size(), 2u);
  write_config("");
  agent_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return agent_->log().find("released netns " + second.name()) != std::string::npos; }))
      << agent_->log();
  EXPECT_TRUE(attached_in(second.name())) << "released, not detached";
  EXPECT_EQ(json::parse(get("/v1/status").second)["agent"]["targets"].size(), 1u);
}

TEST_F(AgentTest, MetricsParseAsPrometheusTextAndAgreeWithStats) {
  start();
  send_roce("vx100", 7);
  const auto [code, metrics] = get("/metrics");
  ASSERT_EQ(code, 200);
  const std::string file = (dir_ / "metrics.txt").string();
  std::ofstream(file) << metrics;
  // The Prometheus client's own parser; prints every sample as NAME LABELS VALUE.
  // Debian's interpreter, where python3-prometheus-client is (not a python3 earlier in PATH).
  const std::string parsed = run_ok({"/usr/bin/python3", "-c",
                                     "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n"
                                     "for f in p(open(sys.argv[1]).read()):\n"
                                     "  for s in f.samples: print(s.name, sorted(s.labels.items()), s.value)\n",
                                     file});
  const json stats = json::parse(run_ok({QPSPREAD_BIN, "-j", "stats", "--netns", ns_->name()}));
  ASSERT_EQ(stats["vnis"].size(), 1u) << stats.dump();
  const json& path = stats["vnis"][0]["paths"][0];
  ASSERT_GE(path["tx_packets"].get<uint64_t>(), 7u) << stats.dump();
  const std::string want = "qpspread_path_tx_rocev2_packets_total [('netns', '" + ns_->name() +
                           "'), ('path', 'up1'), ('remote_vtep', '10.9.0.2'), ('vni', '100')] " +
                           std::to_string(path["tx_roce_packets"].get<uint64_t>()) + ".0";
  EXPECT_NE(parsed.find(want), std::string::npos) << want << "\n" << parsed;
  EXPECT_NE(parsed.find("qpspread_agent_target_up [('netns', '" + ns_->name() + "')] 1.0"), std::string::npos) << parsed;
  // /v1/stats?netns= is `stats -j`; /v1/status carries `status -j` and the agent's health.
  const auto [scode, sbody] = get("/v1/stats?netns=" + ns_->name());
  ASSERT_EQ(scode, 200);
  EXPECT_EQ(json::parse(sbody), stats);
  const json st = json::parse(get("/v1/status").second);
  EXPECT_EQ(st["namespaces"][0]["devices"][0]["ifname"], "vx100");
  EXPECT_TRUE(st["agent"]["targets"][0]["ok"].get<bool>());
  EXPECT_EQ(get("/v1/nothing").first, 404);
  httplib::Client c("127.0.0.1", port_);
  auto post = c.Post("/v1/status", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST_F(AgentTest, ABadConfigExitsTwoWithNothingAttached) {
  const std::string cfg = write_config("vnis:\n  100: {mode: balance, gap: 5ms}\n");
  const CommandResult r = run({QPSPREAD_BIN, "agent", "--config", cfg});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("agent.yml:6: vnis.100.gap: unknown key; known here: flowlet_gap, mode"), std::string::npos) << r.err;
  EXPECT_FALSE(status()["attached"].get<bool>());
  EXPECT_EQ(run({QPSPREAD_BIN, "agent", "--config", (dir_ / "missing.yml").string()}).exit_code, 2);
  EXPECT_EQ(run({QPSPREAD_BIN, "agent", "--check", "--config", write_config("")}).exit_code, 0);
}

// A VNI in mode balance gets the controller of `qpspread balance` inside the agent: the QP that
// sent is placed (its assigned port shows in stats), and /v1/status reports no balance error.
TEST_F(AgentTest, TheBalanceControllerRunsInsideTheAgent) {
  start("vnis:\n  100: {mode: balance}\nbalance: {interval: 100ms}\n");
  // Not a router yet: the controller says why it cannot place (it asks the FIB as a router does).
  ASSERT_TRUE(eventually([&] { return agent_->log().find("IP forwarding is off in netns " + ns_->name()) != std::string::npos; }))
      << agent_->log();
  run_ok({"ip", "netns", "exec", ns_->name(), "sysctl", "-qw", "net.ipv4.ip_forward=1"});
  send_roce("vx100", 5);
  json qp;
  ASSERT_TRUE(eventually([&] {
    const json st = json::parse(run_ok({QPSPREAD_BIN, "-j", "stats", "--netns", ns_->name()}));
    if (st["vnis"].empty() || st["vnis"][0]["qps"].empty()) return false;
    qp = st["vnis"][0]["qps"][0];
    return !qp["assigned_sport"].is_null();
  })) << qp.dump() << "\n" << agent_->log();
  EXPECT_GE(qp["assigned_sport"].get<uint32_t>(), 32768u);
  EXPECT_NE(agent_->log().find("balancing VNI 100"), std::string::npos) << agent_->log();
  const json st = json::parse(get("/v1/status").second);
  EXPECT_TRUE(st["agent"]["targets"][0]["balance_errors"].empty()) << st["agent"].dump();
}

// A second agent on the same port is refused (no SO_REUSEPORT sharing the first one's connections).
TEST_F(AgentTest, ASecondAgentOnTheSamePortIsRefused) {
  start();
  const uint32_t prog = device("vx100")["prog_id"].get<uint32_t>();
  const CommandResult second = run({QPSPREAD_BIN, "agent", "--config", write_config("", "second.yml")});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(port_)), std::string::npos) << second.err;
  EXPECT_EQ(second.err.find("attached"), std::string::npos) << "it attached nothing: " << second.err;
  EXPECT_EQ(device("vx100")["prog_id"].get<uint32_t>(), prog);
  for (int i = 0; i < 20; i++) EXPECT_EQ(get("/healthz").first, 200) << "every connection reaches the first agent";
}

TEST_F(AgentTest, OnExitDetachDetaches) {
  start("on_exit: detach\n");
  EXPECT_TRUE(status()["attached"].get<bool>());
  EXPECT_EQ(agent_->end_with(SIGTERM), 0);
  EXPECT_FALSE(status()["attached"].get<bool>());
  EXPECT_EQ(our_programs("vx100"), 0u);
}

}  // namespace
}  // namespace qpspread::test

namespace qpspread::test {
namespace {

// What ships in dist/: the sample config passes --check, the unit passes systemd-analyze verify
// (its ExecStart pointed at this build's binary).
TEST(AgentFiles, TheSampleConfigChecksAndTheUnitVerifies) {
  const std::string dist = std::string(QPS_SOURCE_DIR) + "/dist";
  const CommandResult check = run({QPSPREAD_BIN, "-j", "agent", "--check", "--config", dist + "/agent.yml"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  const json j = json::parse(check.out);
  EXPECT_EQ(j["listen"], "127.0.0.1:9477");
  EXPECT_EQ(j["vnis"]["100"], "balance");
  if (run({"sh", "-c", "command -v systemd-analyze"}).exit_code != 0) GTEST_SKIP() << "no systemd-analyze here";
  const auto dir = std::filesystem::temp_directory_path() / ("qps-unit-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ifstream in(dist + "/qpspread-agent.service");
  std::string unit((std::istreambuf_iterator<char>(in)), {});
  for (size_t at; (at = unit.find("/usr/local/bin/qpspread")) != std::string::npos;)
    unit.replace(at, std::strlen("/usr/local/bin/qpspread"), QPSPREAD_BIN);
  std::ofstream((dir / "qpspread-agent.service").string()) << unit;
  const CommandResult v = run({"systemd-analyze", "verify", (dir / "qpspread-agent.service").string()});
  std::filesystem::remove_all(dir);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(unit.find("Type=notify"), std::string::npos);
}

}  // namespace
}  // namespace qpspread::test
