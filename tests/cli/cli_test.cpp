// The qpspread command against namespaces these tests create: bad input gets a message naming the
// object, a non-zero exit, {"error": ...} in JSON mode, and changes nothing; attach and detach add
// and remove exactly qpspread's own objects.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "loader/bpffs.h"
#include "loader/tc_hook.h"
#include "qpspread/abi.h"
#include "tests/support/test_util.h"

namespace qpspread::test {
namespace {

using nlohmann::json;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces, BPF)";
    ns_ = std::make_unique<ScopedNetns>("qps-cli");
  }
  void TearDown() override {
    if (ns_) run({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
    ns_.reset();
  }

  void add_vxlan(const std::string& dev, int vni) {
    ns_->ip({"link", "add", dev, "type", "vxlan", "id", std::to_string(vni), "dstport", "4789",
             "local", "10.0.0.1", "nolearning"});
  }
  CommandResult qps(std::vector<std::string> args) {
    args.insert(args.begin(), QPSPREAD_BIN);
    return run(args);
  }
  // Everything on the device's egress hook: clsact filters and tcx programs.
  std::string egress_hook(const std::string& dev) { return tc_hook_listing(ns_->name(), dev, "egress"); }
  std::string qdiscs(const std::string& dev) {
    return run({"tc", "-n", ns_->name(), "qdisc", "show", "dev", dev}).out;
  }
  std::string pin_dir() {
    struct stat st{};
    EXPECT_EQ(::stat(netns_path(ns_->name()).c_str(), &st), 0);
    return "/sys/fs/bpf/qpspread/" + std::to_string(st.st_ino);
  }
  bool pinned() {
    struct stat st{};
    return ::stat(pin_dir().c_str(), &st) == 0;
  }
  static json parse_error(const CommandResult& r) {
    json j = json::parse(r.out);  // throws, failing the test, if stdout is not JSON
    EXPECT_TRUE(j.contains("error")) << r.out;
    return j;
  }

  std::unique_ptr<ScopedNetns> ns_;
};

// runner: containerlab on a lab that is not deployed: refused before any run, naming the missing
// namespace and how to deploy it; nothing recorded as run.
TEST(CliExperiment, ContainerlabLabNotDeployedSaysHowToDeployIt) {
  const std::string dir = "/tmp/qps-cli-clab-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/spec.yml") << "name: x\ntopology: " << QPS_LAB_FILE << "\nrunner: containerlab\nlab: qps-never-deployed\n";
  CommandResult r = run({QPSPREAD_BIN, "experiment", "run", dir + "/spec.yml", "--out", dir + "/out"});
  const bool recorded = std::filesystem::exists(dir + "/out/runs.jsonl");
  std::filesystem::remove_all(dir);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no namespace clab-qps-never-deployed-"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("containerlab deploy -t"), std::string::npos) << r.err;
  EXPECT_FALSE(recorded);
}

// The demo's rates use the one netem-style syntax; a bare number is refused before anything is set
// up, with the syntax it accepts.
TEST(CliDemo, RatesAreNetemStyleAndABareNumberIsRefused) {
  for (const char* flag : {"--rate", "--wan-rate"}) {
    CommandResult r = run({QPSPREAD_BIN, "-j", "demo", "--name", "qps-never-up", flag, "24"});
    EXPECT_EQ(r.exit_code, 1) << flag;
    EXPECT_NE(r.out.find(std::string(flag) + ": '24' is not a rate like 1gbit, 100mbit"), std::string::npos) << r.out;
  }
}

// A workload's --size takes sizes (64kb); a timed stream runs once. Both refused before any host is
// touched (the hosts named here do not exist), naming the flag and what it takes.
TEST(CliWorkload, SizeAndDurationAreCheckedBeforeAnyHostIsTouched) {
  auto refused = [](std::vector<std::string> extra, const std::string& says) {
    std::vector<std::string> argv = {QPSPREAD_BIN, "-j", "workload", "stream", "--hosts", "qps-no-a", "qps-no-b"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const CommandResult r = run(argv);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find(says), std::string::npos) << r.out;
  };
  refused({"--size", "10"}, "--size: 10 is outside 64 bytes to 1 GiB");
  refused({"--size", "64 kb"}, "--size: '64 kb' is not a size in bytes like 4096, 64kb or 1mb");
  refused({"--duration", "10s", "--iterations", "3"}, "--duration streams once: leave out --iterations");
  refused({"--duration", "0"}, "--duration must be above 0");
  refused({"--duration", "ten"}, "--duration: 'ten' is not a duration");
  // Good values get as far as the hosts.
  refused({"--size", "64kb", "--duration", "10s"}, "qps-no-a");
}

TEST_F(CliTest, UnknownNetnsNamesItAndPrintsJsonError) {
  CommandResult r = qps({"-j", "attach", "--netns", "qps-no-such-ns"});
  EXPECT_NE(r.exit_code, 0);
  json j = parse_error(r);
  EXPECT_NE(j["error"].get<std::string>().find("qps-no-such-ns"), std::string::npos);
  EXPECT_NE(j["error"].get<std::string>().find("ip netns list"), std::string::npos);
}

TEST_F(CliTest, UnknownDeviceNamesTheDevicesThereAndChangesNothing) {
  add_vxlan("vx100", 100);
  CommandResult r = qps({"attach", "--netns", ns_->name(), "--dev", "vx100", "--dev", "eth9"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'eth9'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vx100"), std::string::npos) << r.err;
  EXPECT_EQ(egress_hook("vx100"), "");
  EXPECT_EQ(qdiscs("vx100").find("clsact"), std::string::npos);
  EXPECT_FALSE(pinned());
}

TEST_F(CliTest, UnknownUplinkRollsBackTheDevicesAttachedBeforeIt) {
  add_vxlan("vx100", 100);
  // The VXLAN device is attached first in the same call; the bad uplink must undo it.
  CommandResult r = qps({"attach", "--netns", ns_->name(), "--uplink", "up9"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'up9'"), std::string::npos) << r.err;
  EXPECT_EQ(egress_hook("vx100"), "");
  EXPECT_EQ(qdiscs("vx100").find("clsact"), std::string::npos);
  EXPECT_FALSE(pinned());
}

TEST_F(CliTest, UplinksAreAttachedCountedInStatusAndDetached) {
  add_vxlan("vx100", 100);
  ns_->ip({"link", "add", "up1", "type", "veth", "peer", "name", "dn1"});
  json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name(), "--uplink", "up1"}));
  ASSERT_EQ(a["uplinks"].size(), 1u);
  EXPECT_NE(egress_hook("up1").find("qps_uplink_egre"), std::string::npos);
  json s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  EXPECT_EQ(s["namespaces"][0]["uplinks"][0]["ifname"], "up1");
  EXPECT_EQ(s["namespaces"][0]["devices"].size(), 1u);
  json st = json::parse(run_ok({QPSPREAD_BIN, "-j", "stats", "--netns", ns_->name()}));
  ASSERT_EQ(st["vnis"].size(), 1u);
  EXPECT_EQ(st["vnis"][0]["vni"], 100);
  EXPECT_EQ(st["vnis"][0]["mode"], "qp-hash");
  EXPECT_TRUE(st["vnis"][0]["paths"].is_array());
  EXPECT_TRUE(st["vnis"][0]["qps"].is_array());
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  EXPECT_EQ(egress_hook("up1"), "");
  EXPECT_EQ(qdiscs("up1").find("clsact"), std::string::npos);
  EXPECT_FALSE(pinned());
}

TEST_F(CliTest, PrometheusOutputIsWellFormed) {
  add_vxlan("vx100", 100);
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name()});
  const std::string text = run_ok({QPSPREAD_BIN, "stats", "--netns", ns_->name(), "--prometheus"});
  const std::regex sample(R"re(^(qpspread_[a-z0-9_]+)\{([a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*)\} [0-9.e+-]+$)re");
  const std::regex comment(R"(^# (HELP|TYPE) qpspread_[a-z0-9_]+ .+$)");
  std::istringstream in(text);
  std::string line;
  size_t samples = 0;
  while (std::getline(in, line)) {
    if (std::regex_match(line, comment)) continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "not a Prometheus sample: " << line;
    EXPECT_NE(m[2].str().find("netns=\"" + ns_->name() + "\""), std::string::npos) << line;
    EXPECT_EQ(m[2].str().find("qpn"), std::string::npos) << "no per-QP labels: " << line;
    samples++;
  }
  EXPECT_GT(samples, 0u);
  EXPECT_NE(text.find("# TYPE qpspread_vxlan_packets_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE qpspread_path_rx_rocev2_packets_total counter"), std::string::npos);
  EXPECT_NE(text.find("qpspread_vni_reordered_total{netns=\"" + ns_->name() + "\",vni=\"100\"} 0"), std::string::npos);
  EXPECT_NE(text.find("qpspread_vni_mode_info{netns=\"" + ns_->name() + "\",vni=\"100\",mode=\"qp-hash\"} 1"), std::string::npos);
}

TEST_F(CliTest, NamespaceWithoutVxlanSaysWhatToCheck) {
  CommandResult r = qps({"attach", "--netns", ns_->name()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no VXLAN device in netns " + ns_->name()), std::string::npos) << r.err;
  EXPECT_FALSE(pinned());
}

TEST_F(CliTest, CollectMetadataDeviceIsRefusedAndNothingChanges) {
  add_vxlan("vx100", 100);
  ns_->ip({"link", "add", "vxext", "type", "vxlan", "external", "dstport", "4790"});
  CommandResult r = qps({"attach", "--netns", ns_->name()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("vxext"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("collect-metadata"), std::string::npos) << r.err;
  EXPECT_EQ(egress_hook("vx100"), "");  // all or nothing: the good device was not attached either
  EXPECT_FALSE(pinned());
  // Naming only the traditional device works.
  EXPECT_EQ(qps({"attach", "--netns", ns_->name(), "--dev", "vx100"}).exit_code, 0);
}

TEST_F(CliTest, MissingPrivilegesSayRunAsRootAndChangeNothing) {
  add_vxlan("vx100", 100);
  CommandResult r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", QPSPREAD_BIN,
                         "-j", "attach", "--netns", ns_->name()});
  EXPECT_NE(r.exit_code, 0);
  json j = parse_error(r);
  EXPECT_NE(j["error"].get<std::string>().find("run as root"), std::string::npos) << r.out;
  EXPECT_EQ(egress_hook("vx100"), "");
  EXPECT_FALSE(pinned());
}

TEST_F(CliTest, ZeroMarkIsRefused) {
  add_vxlan("vx100", 100);
  CommandResult r = qps({"attach", "--netns", ns_->name(), "--mark", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--mark"), std::string::npos) << r.err;
  EXPECT_FALSE(pinned());
}

TEST_F(CliTest, AttachTwiceIsIdempotent) {
  add_vxlan("vx100", 100);
  json first = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name()}));
  json second = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name()}));
  EXPECT_FALSE(first["devices"][0]["already_attached"].get<bool>());
  EXPECT_TRUE(second["devices"][0]["already_attached"].get<bool>());
  EXPECT_EQ(first["devices"][0]["prog_id"], second["devices"][0]["prog_id"]);
  EXPECT_EQ(programs_named(egress_hook("vx100"), "qps_vxlan_egres"), 1u) << egress_hook("vx100");
}

// Through clsact: the filter's program is replaced, and attach's ownership of the qdisc kept.
TEST_F(CliTest, AttachWithAnotherMarkReplacesTheProgramInPlace) {
  add_vxlan("vx100", 100);
  json first = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name(), "--tc-api", "clsact"}));
  EXPECT_EQ(first["devices"][0]["tc_hook"], "clsact");
  // The record's way in is kept when none is named.
  json second = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name(), "--mark", "0x77"}));
  EXPECT_EQ(second["devices"][0]["tc_hook"], "clsact");
  EXPECT_FALSE(second["devices"][0]["already_attached"].get<bool>());
  EXPECT_NE(first["devices"][0]["prog_id"], second["devices"][0]["prog_id"]);
  json s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  EXPECT_EQ(s["namespaces"][0]["devices"][0]["mark"], 0x77);
  EXPECT_EQ(s["namespaces"][0]["devices"][0]["prog_id"], second["devices"][0]["prog_id"]);
  // Ownership of the qdisc is remembered across the replacement: detach still removes it.
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  EXPECT_EQ(qdiscs("vx100").find("clsact"), std::string::npos);
}

TEST_F(CliTest, DetachRemovesTheQdiscItCreatedAndThePins) {
  add_vxlan("vx100", 100);
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name(), "--tc-api", "clsact"});
  EXPECT_NE(qdiscs("vx100").find("clsact"), std::string::npos);
  ASSERT_TRUE(pinned());
  struct stat st{};
  ASSERT_EQ(::stat(pin_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "counters and modes are not for other users";
  json d = json::parse(run_ok({QPSPREAD_BIN, "-j", "detach", "--netns", ns_->name()}));
  EXPECT_TRUE(d["was_attached"].get<bool>());
  EXPECT_EQ(qdiscs("vx100").find("clsact"), std::string::npos);
  EXPECT_EQ(egress_hook("vx100"), "");
  EXPECT_FALSE(pinned());
  // A second detach has nothing to do, and says so without failing.
  json again = json::parse(run_ok({QPSPREAD_BIN, "-j", "detach", "--netns", ns_->name()}));
  EXPECT_FALSE(again["was_attached"].get<bool>());
}

TEST_F(CliTest, DetachLeavesOthersFiltersAndTheirQdisc) {
  add_vxlan("vx100", 100);
  // containerlab keeps its own tc-BPF filter at pref 42420 on node interfaces.
  run_ok({"tc", "-n", ns_->name(), "qdisc", "add", "dev", "vx100", "clsact"});
  run_ok({"tc", "-n", ns_->name(), "filter", "add", "dev", "vx100", "egress", "pref", "42420",
          "handle", "1", "bpf", "bytecode", "1,6 0 0 0"});
  json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name(), "--tc-api", "clsact"}));
  EXPECT_FALSE(a["devices"][0]["created_qdisc"].get<bool>());
  EXPECT_NE(egress_hook("vx100").find("pref 20816"), std::string::npos);
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  const std::string after = egress_hook("vx100");
  EXPECT_NE(after.find("pref 42420"), std::string::npos) << after;
  EXPECT_EQ(after.find("pref 20816"), std::string::npos) << after;
  EXPECT_NE(qdiscs("vx100").find("clsact"), std::string::npos);
  EXPECT_FALSE(pinned());
}

// Through tcx (attach's default where the kernel has it): no qdisc; qpspread's program goes first
// in the chain and someone else's already there stays and still runs after it; a replacement (a new
// mark, a mode change) keeps one program of ours in its place; one removed by hand is reported
// and put back; the way in of an attached device is not switched behind the user's back; detach
// removes ours only.
TEST_F(CliTest, TcxIsTheDefaultAndLeavesOthersProgramsInTheChain) {
  if (!tcx_supported()) GTEST_SKIP() << "no tcx in this kernel (Linux 6.6+)";
  add_vxlan("vx100", 100);
  const UniqueFd theirs = load_foreign(BPF_PROG_TYPE_SCHED_CLS, -1 /* TC_ACT_UNSPEC: the next one runs */);
  ASSERT_TRUE(theirs);
  Netns::open(ns_->name()).run([&] {
    LIBBPF_OPTS(bpf_prog_attach_opts, o);
    ASSERT_EQ(bpf_prog_attach_opts(theirs.get(), static_cast<int>(if_nametoindex("vx100")),
                                   tcx_attach_type(TcDir::egress), &o), 0);
  });
  ASSERT_EQ(egress_hook("vx100"), "tcx foreign\n");
  json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name(), "--no-uplinks"}));
  EXPECT_EQ(a["devices"][0]["tc_hook"], "tcx");
  EXPECT_FALSE(a["devices"][0]["created_qdisc"].get<bool>());
  EXPECT_EQ(egress_hook("vx100"), "tcx qps_vxlan_egres\ntcx foreign\n");
  EXPECT_EQ(qdiscs("vx100").find("clsact"), std::string::npos);
  EXPECT_NE(run_ok({QPSPREAD_BIN, "status", "--netns", ns_->name()}).find("attached (tcx)"), std::string::npos);
  // Replaced in place.
  json b = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name(), "--no-uplinks", "--mark", "0x77"}));
  EXPECT_NE(b["devices"][0]["prog_id"], a["devices"][0]["prog_id"]);
  run_ok({QPSPREAD_BIN, "mode", "--netns", ns_->name(), "--vni", "100", "off"});
  EXPECT_EQ(egress_hook("vx100"), "tcx qps_vxlan_egres\ntcx foreign\n");
  json s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  EXPECT_EQ(s["namespaces"][0]["devices"][0]["mode"], "off");
  // Not switched to clsact behind the user's back: it stays, and attach says how to switch.
  CommandResult r = qps({"attach", "--netns", ns_->name(), "--no-uplinks", "--tc-api", "clsact"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: vx100 stays attached through tcx; run 'qpspread detach' first"), std::string::npos) << r.err;
  EXPECT_EQ(egress_hook("vx100"), "tcx qps_vxlan_egres\ntcx foreign\n");
  EXPECT_EQ(qdiscs("vx100").find("clsact"), std::string::npos);
  // Removed by hand: status says so, attach puts it back, first again.
  s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  Netns::open(ns_->name()).run([&] {
    const UniqueFd ours(bpf_prog_get_fd_by_id(s["namespaces"][0]["devices"][0]["prog_id"].get<uint32_t>()));
    ASSERT_EQ(bpf_prog_detach2(ours.get(), static_cast<int>(if_nametoindex("vx100")),
                               tcx_attach_type(TcDir::egress)), 0);
  });
  s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  EXPECT_FALSE(s["namespaces"][0]["devices"][0]["attached"].get<bool>());
  EXPECT_NE(run_ok({QPSPREAD_BIN, "status", "--netns", ns_->name()}).find("PROGRAM MISSING (run attach again)"), std::string::npos);
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name(), "--no-uplinks"});
  EXPECT_EQ(egress_hook("vx100"), "tcx qps_vxlan_egres\ntcx foreign\n");
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  EXPECT_EQ(egress_hook("vx100"), "tcx foreign\n");
  EXPECT_FALSE(pinned());
}

// On a tcx hook, qpspread's program is the one named qps_* that no bpf_link holds. Two of them
// (left by an older qpspread, which did not lock) become one at the next attach; one a link holds
// is someone else's: never replaced, counted or removed.
TEST_F(CliTest, TcxKeepsOneProgramOfOursAndLeavesLinkHeldOnes) {
  if (!tcx_supported()) GTEST_SKIP() << "no tcx in this kernel (Linux 6.6+)";
  add_vxlan("vx100", 100);
  const UniqueFd leftover = load_foreign(BPF_PROG_TYPE_SCHED_CLS, -1, "qps_leftover");
  const UniqueFd linked = load_foreign(BPF_PROG_TYPE_SCHED_CLS, -1, "qps_linked");
  ASSERT_TRUE(leftover && linked);
  UniqueFd link;
  Netns::open(ns_->name()).run([&] {
    const int ifindex = static_cast<int>(if_nametoindex("vx100"));
    link.reset(bpf_link_create(linked.get(), ifindex, tcx_attach_type(TcDir::egress), nullptr));
  });
  ASSERT_TRUE(link) << "a tcx link: " << std::strerror(errno);
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name(), "--no-uplinks"});
  Netns::open(ns_->name()).run([&] {
    LIBBPF_OPTS(bpf_prog_attach_opts, o);  // appended: after ours
    ASSERT_EQ(bpf_prog_attach_opts(leftover.get(), static_cast<int>(if_nametoindex("vx100")),
                                   tcx_attach_type(TcDir::egress), &o), 0);
  });
  ASSERT_EQ(egress_hook("vx100"), "tcx qps_vxlan_egres\ntcx qps_linked (link)\ntcx qps_leftover\n");
  json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name(), "--no-uplinks", "--mark", "0x77"}));
  EXPECT_EQ(egress_hook("vx100"), "tcx qps_vxlan_egres\ntcx qps_linked (link)\n");
  json s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  EXPECT_EQ(s["namespaces"][0]["devices"][0]["prog_id"], a["devices"][0]["prog_id"]);
  EXPECT_TRUE(s["namespaces"][0]["devices"][0]["attached"].get<bool>());
  // Ours removed by hand: the linked one is not taken for it.
  Netns::open(ns_->name()).run([&] {
    const UniqueFd ours(bpf_prog_get_fd_by_id(a["devices"][0]["prog_id"].get<uint32_t>()));
    ASSERT_EQ(bpf_prog_detach2(ours.get(), static_cast<int>(if_nametoindex("vx100")), tcx_attach_type(TcDir::egress)), 0);
  });
  s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  EXPECT_FALSE(s["namespaces"][0]["devices"][0]["attached"].get<bool>()) << s.dump();
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name(), "--no-uplinks"});
  EXPECT_EQ(egress_hook("vx100"), "tcx qps_vxlan_egres\ntcx qps_linked (link)\n");
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  EXPECT_EQ(egress_hook("vx100"), "tcx qps_linked (link)\n");
}

// Attaches that run at once (a user's attach while the agent re-attaches, two scripts) are taken in
// turn: every one succeeds and each hook ends with one program of qpspread's, the one its record
// names. Without that, two attaches could both find a hook empty and both add a program: every
// frame counted twice.
TEST_F(CliTest, AttachesAtOnceLeaveOneProgramPerHook) {
  add_vxlan("vx100", 100);
  ns_->ip({"link", "add", "up1", "type", "veth", "peer", "name", "dn1"});
  ns_->ip({"link", "set", "up1", "up"});
  for (int round = 0; round < 4; ++round) {
    std::vector<CommandResult> results(3);
    std::vector<std::thread> attaches;
    for (auto& r : results)
      attaches.emplace_back([&] { r = qps({"-j", "attach", "--netns", ns_->name(), "--uplink", "up1"}); });
    for (auto& t : attaches) t.join();
    for (const auto& r : results) EXPECT_EQ(r.exit_code, 0) << "round " << round << ": " << r.out << r.err;
    const std::string vx = egress_hook("vx100"), up = egress_hook("up1");
    EXPECT_EQ(programs_named(vx, "qps_vxlan_egres"), 1u) << "round " << round << ":\n" << vx;
    EXPECT_EQ(programs_named(up, "qps_uplink_egre"), 1u) << "round " << round << ":\n" << up;
    const json s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
    EXPECT_TRUE(s["namespaces"][0]["devices"][0]["attached"].get<bool>()) << s.dump();
    EXPECT_TRUE(s["namespaces"][0]["uplinks"][0]["attached"].get<bool>()) << s.dump();
    run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
    EXPECT_EQ(egress_hook("vx100"), "");
    EXPECT_FALSE(pinned());
  }
}

// While another process holds the lock, attach waits for it rather than failing; a wait that runs
// out names the holder.
TEST_F(CliTest, AttachWaitsForTheLockAndATimeoutNamesItsHolder) {
  add_vxlan("vx100", 100);
  { const PinLock mounted = PinLock::acquire(); }  // bpffs mounted, its root there
  const UniqueFd held(::open("/sys/fs/bpf/qpspread", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(held);
  ASSERT_EQ(::flock(held.get(), LOCK_EX), 0);
  try {
    PinLock::acquire(std::chrono::milliseconds(100));
    ADD_FAILURE() << "acquired a lock another open file holds";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("process " + std::to_string(::getpid()) + " (cli_test)"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("try again when that has ended"), std::string::npos) << e.what();
  }
  CommandResult r;
  std::thread attach([&] { r = qps({"attach", "--netns", ns_->name(), "--no-uplinks"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(pinned()) << "attach went ahead without the lock";
  EXPECT_EQ(::flock(held.get(), LOCK_UN), 0);
  attach.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(pinned());
}

// Pins whose records have another size (another qpspread version's) are refused by every command
// that reads them, saying what to do, before any record is read into a struct it would not fit.
TEST_F(CliTest, PinsOfAnotherVersionAreRefusedNamingTheWayOut) {
  add_vxlan("vx100", 100);
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name(), "--no-uplinks"});
  const std::string pin = pin_dir() + "/attachments";
  const UniqueFd ours(bpf_obj_get(pin.c_str()));
  ASSERT_TRUE(ours);
  const UniqueFd bigger(bpf_map_create(BPF_MAP_TYPE_HASH, "attachments", sizeof(uint32_t), sizeof(qps_attachment) + 8, 64, nullptr));
  ASSERT_TRUE(bigger);
  ASSERT_EQ(::unlink(pin.c_str()), 0);
  ASSERT_EQ(bpf_obj_pin(bigger.get(), pin.c_str()), 0);
  for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
           {"mode", "--netns", ns_->name(), "--vni", "100", "off"}, {"status", "--netns", ns_->name()},
           {"detach", "--netns", ns_->name()}}) {
    const CommandResult r = qps(cmd);
    EXPECT_EQ(r.exit_code, 1) << cmd[0];
    EXPECT_NE(r.err.find("are the pins from another qpspread version? Detach with that version"), std::string::npos)
        << cmd[0] << ": " << r.err;
  }
  // Ours back, for TearDown's detach.
  ASSERT_EQ(::unlink(pin.c_str()), 0);
  ASSERT_EQ(bpf_obj_pin(ours.get(), pin.c_str()), 0);
}

// Mode balance by hand: the mode with its flowlet gap, a QP's port assigned and taken back; every bad
// value refused naming what is wrong, and nothing changed by it.
TEST_F(CliTest, BalanceModeAndAssignmentsAreSetCheckedAndShown) {
  add_vxlan("vx100", 100);
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name(), "--no-uplinks"});
  const json m = json::parse(run_ok({QPSPREAD_BIN, "-j", "mode", "--netns", ns_->name(), "--vni", "100", "balance",
                                     "--flowlet-gap", "2ms"}));
  EXPECT_EQ(m["mode"], "balance");
  EXPECT_EQ(m["flowlet_gap"], "2ms");
  json s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  EXPECT_EQ(s["namespaces"][0]["devices"][0]["mode"], "balance");
  // vx100's ports are the kernel's default range, 32768-60998.
  const json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "assign", "--netns", ns_->name(), "--vni", "100", "--qp",
                                     "0x37e9a4", "--sport", "40000"}));
  EXPECT_EQ(a["qpn"], 0x37e9a4);
  EXPECT_EQ(a["sport"], 40000);
  auto assigned = [&] {
    const json st = json::parse(run_ok({QPSPREAD_BIN, "-j", "stats", "--netns", ns_->name()}));
    for (const auto& v : st["vnis"])
      for (const auto& q : v["qps"])
        if (q["qpn"] == 0x37e9a4) return q["assigned_sport"];
    return json("no row");
  };
  EXPECT_EQ(assigned(), 40000);
  auto refused = [&](std::vector<std::string> args, const std::string& says) {
    args.insert(args.begin(), {QPSPREAD_BIN, "-j"});
    const CommandResult r = run(args);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(parse_error(r)["error"].get<std::string>().find(says), std::string::npos) << r.out;
  };
  refused({"assign", "--netns", ns_->name(), "--vni", "100", "--qp", "0x37e9a4", "--sport", "1000"},
          "port 1000 is outside the source ports VNI 100 can leave with here (32768-60998)");
  refused({"assign", "--netns", ns_->name(), "--vni", "200", "--qp", "7", "--sport", "40000"}, "VNI 200 is not attached");
  refused({"assign", "--netns", ns_->name(), "--vni", "100", "--qp", "0x1000000", "--sport", "40000"},
          "--qp: '0x1000000' is not a QP number");
  refused({"assign", "--netns", ns_->name(), "--vni", "100", "--qp", "7"}, "give --sport PORT, or --clear");
  refused({"mode", "--netns", ns_->name(), "--vni", "100", "qp-hash", "--flowlet-gap", "2ms"},
          "--flowlet-gap is mode balance's");
  refused({"mode", "--netns", ns_->name(), "--vni", "100", "balance", "--flowlet-gap", "0"}, "--flowlet-gap: 0 is outside");
  EXPECT_EQ(assigned(), 40000) << "a refused command changed the assignment";
  run_ok({QPSPREAD_BIN, "assign", "--netns", ns_->name(), "--vni", "100", "--qp", "0x37e9a4", "--clear"});
  EXPECT_EQ(assigned(), "no row");
  // The controller's step needs somewhere to place QPs: vx100 has no remote VTEP.
  refused({"balance", "--netns", ns_->name(), "--vni", "100"}, "vx100 has no remote VTEP yet");
  refused({"balance", "--netns", ns_->name(), "--vni", "100", "--remote", "10.9.9.9"},
          "remote VTEP 10.9.9.9 is not one of vx100's");
  run_ok({QPSPREAD_BIN, "mode", "--netns", ns_->name(), "--vni", "100", "qp-hash"});
  refused({"balance", "--netns", ns_->name(), "--vni", "100"}, "VNI 100 is in mode qp-hash");
}

// The VTEP program holds its VNI's mode in its read-only config: `mode` replaces it with an
// instance loaded with the new one; a later attach keeps that instance.
TEST_F(CliTest, ModeTogglesAndSurvivesReattach) {
  add_vxlan("vx100", 100);
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name()});
  auto device = [&] {
    json s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
    return s["namespaces"][0]["devices"][0];
  };
  const json first = device();
  EXPECT_EQ(first["mode"], "qp-hash");
  run_ok({QPSPREAD_BIN, "mode", "--netns", ns_->name(), "--vni", "100", "off"});
  const json off = device();
  EXPECT_EQ(off["mode"], "off");
  EXPECT_TRUE(off["attached"].get<bool>());
  EXPECT_NE(off["prog_id"], first["prog_id"]) << "a new instance, loaded with mode off";
  const json again = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", ns_->name()}))["devices"][0];
  EXPECT_TRUE(again["already_attached"].get<bool>());
  EXPECT_EQ(device()["mode"], "off");
  EXPECT_EQ(device()["prog_id"], off["prog_id"]);
  run_ok({QPSPREAD_BIN, "mode", "--netns", ns_->name(), "--vni", "100", "qp-hash"});
  EXPECT_EQ(device()["mode"], "qp-hash");
}

TEST_F(CliTest, UnknownVniAndUnknownModeChangeNothing) {
  add_vxlan("vx100", 100);
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name()});
  CommandResult r = qps({"-j", "mode", "--netns", ns_->name(), "--vni", "7", "off"});
  EXPECT_EQ(r.exit_code, 1);
  json j = parse_error(r);
  EXPECT_NE(j["error"].get<std::string>().find("VNI 7"), std::string::npos);
  EXPECT_NE(j["error"].get<std::string>().find("attached VNIs: 100"), std::string::npos);
  r = qps({"mode", "--netns", ns_->name(), "--vni", "100", "fast"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown mode 'fast'"), std::string::npos) << r.err;
  json s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  EXPECT_EQ(s["namespaces"][0]["vnis"].size(), 1u);
  EXPECT_EQ(s["namespaces"][0]["vnis"][0]["mode"], "qp-hash");
}

TEST_F(CliTest, CommandsOnANamespaceNeverAttachedSayToAttach) {
  add_vxlan("vx100", 100);
  CommandResult r = qps({"stats", "--netns", ns_->name()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("qpspread attach --netns " + ns_->name()), std::string::npos) << r.err;
  json s = json::parse(run_ok({QPSPREAD_BIN, "-j", "status", "--netns", ns_->name()}));
  EXPECT_FALSE(s["namespaces"][0]["attached"].get<bool>());
}

TEST_F(CliTest, LabAndNodeNameTheContainerlabNamespace) {
  // containerlab links a node's namespace as clab-<lab>-<node>.
  const std::string lab = "t" + std::to_string(::getpid());
  ScopedNetns clab("clab-" + lab + "-leaf1", true);
  ASSERT_EQ(run({"ip", "-n", clab.name(), "link", "add", "vx100", "type", "vxlan", "id", "100",
                 "dstport", "4789", "local", "10.0.0.1", "nolearning"}).exit_code, 0);
  json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--lab", lab, "--node", "leaf1"}));
  EXPECT_EQ(a["netns"], clab.name());
  run_ok({QPSPREAD_BIN, "detach", "--lab", lab, "--node", "leaf1"});
  CommandResult half = qps({"attach", "--lab", lab});
  EXPECT_EQ(half.exit_code, 1);
  EXPECT_NE(half.err.find("--lab and --node go together"), std::string::npos) << half.err;
}

TEST_F(CliTest, ParseErrorsAreJsonInJsonMode) {
  CommandResult r = qps({"-j", "frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  parse_error(r);
  r = qps({"mode", "--netns", "x", "--vni", "0", "off", "-j"});
  EXPECT_EQ(r.exit_code, 2);
  parse_error(r);
}

}  // namespace
}  // namespace qpspread::test
