// XDP through the CLI: uplinks get the receive program next to their tc filter (on tc ingress on a
// veth, in XDP elsewhere), --transit interfaces the rewrite; status shows both, `mode` reaches transit VNIs, detach removes exactly
// qpspread's programs; another's XDP program is never replaced; a failed attach leaves nothing.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
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

class XdpAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces, BPF)";
    ns_ = std::make_unique<ScopedNetns>("qps-xdp");
    for (const char* n : {"up1", "t1"}) {
      ns_->ip({"link", "add", n, "type", "veth", "peer", "name", std::string(n) + "p"});
      ns_->ip({"link", "set", n, "up"});
      ns_->ip({"link", "set", std::string(n) + "p", "up"});
    }
  }
  void TearDown() override {
    if (ns_) run({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
    ns_.reset();
  }

  void add_vxlan() {
    ns_->ip({"link", "add", "vx100", "type", "vxlan", "id", "100", "dstport", "4789", "local", "10.0.0.1", "nolearning"});
  }
  CommandResult qps(std::vector<std::string> args) {
    args.insert(args.begin(), QPSPREAD_BIN);
    return run(args);
  }
  json qps_json(std::vector<std::string> args) {
    args.insert(args.begin(), {QPSPREAD_BIN, "-j"});
    return json::parse(run_ok(args));
  }
  // qpspread's program on the device's tc ingress hook, through tcx or clsact (0: none).
  uint32_t ingress_id(const std::string& dev) {
    uint32_t id = 0;
    Netns::open(ns_->name()).run([&] {
      const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
      id = tcx_supported() ? tc_query(TcApi::tcx, ifindex, TcDir::ingress) : 0;
      if (!id) id = tc_query(TcApi::clsact, ifindex, TcDir::ingress);
    });
    return id;
  }
  uint32_t xdp_id(const std::string& dev) {
    uint32_t id = 0;
    Netns::open(ns_->name()).run([&] { id = xdp_query(static_cast<int>(if_nametoindex(dev.c_str()))); });
    return id;
  }
  // A RoCEv2 frame between two hosts of VNI 100 (10.100.0.1 -> .2).
  static std::vector<uint8_t> roce_frame() {
    workload::RoceFrameSpec spec;
    spec.src_mac = {0x02, 0, 0, 0, 1, 1};
    spec.dst_mac = {0x02, 0, 0, 0, 2, 1};
    spec.src_ip = 0x0a640001;
    spec.dst_ip = 0x0a640002;
    return workload::build_rocev2_frame(spec);
  }
  bool pinned() {
    struct stat st{};
    EXPECT_EQ(::stat(netns_path(ns_->name()).c_str(), &st), 0);
    return ::stat(("/sys/fs/bpf/qpspread/" + std::to_string(st.st_ino)).c_str(), &st) == 0;
  }

  std::unique_ptr<ScopedNetns> ns_;
};

TEST_F(XdpAttachTest, UplinkGetsTheReceiveProgramAndDetachRemovesIt) {
  add_vxlan();
  json a = qps_json({"attach", "--netns", ns_->name(), "--uplink", "up1"});
  ASSERT_EQ(a["uplinks"].size(), 1u);
  // A veth: the receive program goes on tc ingress, not XDP (xdp_hook.cpp says why), no warning.
  EXPECT_EQ(a["uplinks"][0]["rx_hook"], "tc ingress");
  EXPECT_EQ(xdp_id("up1"), 0u);
  for (const auto& w : a["warnings"]) EXPECT_EQ(w.get<std::string>().find("XDP"), std::string::npos) << w;
  const uint32_t id = ingress_id("up1");
  EXPECT_NE(id, 0u);
  EXPECT_EQ(a["uplinks"][0]["rx_prog_id"], id);
  EXPECT_NE(a["uplinks"][0]["prog_id"], id) << "egress and ingress: two programs";
  json s = qps_json({"status", "--netns", ns_->name()});
  EXPECT_EQ(s["namespaces"][0]["uplinks"][0]["rx_prog_id"], id);
  EXPECT_TRUE(s["namespaces"][0]["uplinks"][0]["attached"].get<bool>());
  EXPECT_NE(run_ok({QPSPREAD_BIN, "status", "--netns", ns_->name()}).find("rx on tc ingress)"), std::string::npos);
  // Attaching again changes nothing.
  json again = qps_json({"attach", "--netns", ns_->name(), "--uplink", "up1"});
  EXPECT_TRUE(again["uplinks"][0]["already_attached"].get<bool>());
  EXPECT_EQ(ingress_id("up1"), id);
  // Removed by hand (BPF_PROG_DETACH of the tcx program, or `tc filter del`): status
  // says so, attach puts it back.
  if (a["uplinks"][0]["tc_hook"] == "tcx") {
    Netns::open(ns_->name()).run([&] {
      const UniqueFd ours(bpf_prog_get_fd_by_id(id));
      ASSERT_EQ(bpf_prog_detach2(ours.get(), static_cast<int>(if_nametoindex("up1")),
                                 tcx_attach_type(TcDir::ingress)), 0);
    });
  } else {
    run_ok({"tc", "-n", ns_->name(), "filter", "del", "dev", "up1", "ingress"});
  }
  ASSERT_EQ(ingress_id("up1"), 0u);
  s = qps_json({"status", "--netns", ns_->name()});
  EXPECT_FALSE(s["namespaces"][0]["uplinks"][0]["attached"].get<bool>());
  EXPECT_EQ(s["namespaces"][0]["uplinks"][0]["rx_prog_id"], 0u);
  again = qps_json({"attach", "--netns", ns_->name(), "--uplink", "up1"});
  EXPECT_FALSE(again["uplinks"][0]["already_attached"].get<bool>());
  EXPECT_NE(ingress_id("up1"), 0u);
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  EXPECT_EQ(ingress_id("up1"), 0u);
  EXPECT_EQ(run({"tc", "-n", ns_->name(), "qdisc", "show", "dev", "up1"}).out.find("clsact"), std::string::npos);
  EXPECT_FALSE(pinned());
}

// An uplink that is not a veth keeps XDP (before the skb, before GRO); a bridge has no native XDP:
// generic mode, with a warning.
TEST_F(XdpAttachTest, AnUplinkThatIsNotAVethReceivesInXdp) {
  add_vxlan();
  ns_->ip({"link", "add", "br1", "type", "bridge"});
  ns_->ip({"link", "set", "br1", "up"});
  json a = qps_json({"attach", "--netns", ns_->name(), "--uplink", "br1"});
  ASSERT_EQ(a["uplinks"].size(), 1u);
  EXPECT_EQ(a["uplinks"][0]["rx_hook"], "xdp generic");
  const uint32_t id = xdp_id("br1");
  EXPECT_NE(id, 0u);
  EXPECT_EQ(a["uplinks"][0]["rx_prog_id"], id);
  EXPECT_EQ(ingress_id("br1"), 0u);
  // (On Linux 6.16 to 6.18.3 attach also warns about multipath routes.)
  bool warned = false;
  for (const auto& w : a["warnings"]) warned |= w.get<std::string>().find("generic mode") != std::string::npos;
  EXPECT_TRUE(warned) << a.dump();
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  EXPECT_EQ(xdp_id("br1"), 0u);
  EXPECT_FALSE(pinned());
}

// A spine or border only observes: --uplink without any VXLAN device counts its underlay.
TEST_F(XdpAttachTest, ANodeWithoutVxlanCanObserveItsUplinks) {
  json a = qps_json({"attach", "--netns", ns_->name(), "--uplink", "up1"});
  EXPECT_EQ(a["devices"].size(), 0u);
  ASSERT_EQ(a["uplinks"].size(), 1u);
  EXPECT_NE(ingress_id("up1"), 0u);
  json st = qps_json({"stats", "--netns", ns_->name()});
  ASSERT_EQ(st["uplinks"].size(), 1u);
  EXPECT_EQ(st["uplinks"][0]["ifname"], "up1");
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  EXPECT_EQ(ingress_id("up1"), 0u);
  EXPECT_FALSE(pinned());
}

// status counts per program: the VTEP program steers RoCEv2 sent into the VXLAN device, the
// uplink's tc program counts what it sends that is not VXLAN, XDP what the uplink receives.
TEST_F(XdpAttachTest, StatusShowsTheReasonsOfEveryProgram) {
  add_vxlan();
  ns_->ip({"link", "set", "vx100", "up"});
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name(), "--uplink", "up1"});
  const std::vector<uint8_t> frame = roce_frame();
  Netns::open(ns_->name()).run([&] {
    // RoCEv2 to UDP 4791: steered in vx100; not VXLAN on up1 out, and on up1 in (sent by its peer).
    for (const char* dev : {"vx100", "up1", "up1p"}) {
      workload::RawSender tx(dev);
      for (int i = 0; i < 5; i++) tx.send(frame);
    }
  });
  json s = qps_json({"status", "--netns", ns_->name()})["namespaces"][0];
  EXPECT_GE(s["reasons"]["steered"]["packets"].get<uint64_t>(), 5u) << s.dump();
  EXPECT_GE(s["uplink_reasons"]["not_vxlan"]["packets"].get<uint64_t>(), 5u) << s.dump();
  EXPECT_GE(s["xdp_reasons"]["not_vxlan"]["packets"].get<uint64_t>(), 5u) << s.dump();
  const std::string plain = run_ok({QPSPREAD_BIN, "status", "--netns", ns_->name()});
  // Other reasons may come first (the VXLAN device's own IPv6 MLD frames: ipv6_ext_header).
  EXPECT_NE(plain.find("packets by reason:"), std::string::npos) << plain;
  EXPECT_NE(plain.find(" steered=5"), std::string::npos) << plain;
  EXPECT_NE(plain.find("uplink frames by reason (not VXLAN):"), std::string::npos) << plain;
  EXPECT_NE(plain.find("received frames by reason (uplinks, transit interfaces):"), std::string::npos) << plain;
  EXPECT_NE(plain.find("not_vxlan="), std::string::npos) << plain;
  json st = qps_json({"stats", "--netns", ns_->name()});
  EXPECT_GE(st["uplink_reasons"]["not_vxlan"]["packets"].get<uint64_t>(), 5u) << st.dump();
  EXPECT_GE(st["xdp_reasons"]["not_vxlan"]["packets"].get<uint64_t>(), 5u) << st.dump();
  const std::string prom = run_ok({QPSPREAD_BIN, "stats", "--prometheus", "--netns", ns_->name()});
  EXPECT_NE(prom.find("qpspread_xdp_packets_total{"), std::string::npos) << prom;
  EXPECT_NE(prom.find("qpspread_uplink_packets_total{"), std::string::npos) << prom;
}

// A VXLAN device on another port than 4789: the uplink program counts its frames as VXLAN of the
// VNI (it parses the port the namespace's devices use), not as other traffic of the interface.
TEST_F(XdpAttachTest, TheUplinkProgramCountsVxlanOnTheDevicesPort) {
  ns_->ip({"addr", "add", "10.9.0.1/24", "dev", "up1"});
  ns_->ip({"neigh", "add", "10.9.0.2", "lladdr", "02:00:00:00:09:02", "dev", "up1", "nud", "permanent"});
  ns_->ip({"link", "add", "vx100", "type", "vxlan", "id", "100", "dstport", "4790", "local", "10.9.0.1", "remote",
           "10.9.0.2", "dev", "up1"});
  ns_->ip({"link", "set", "vx100", "up"});
  run_ok({QPSPREAD_BIN, "attach", "--netns", ns_->name(), "--uplink", "up1"});
  const std::vector<uint8_t> frame = roce_frame();
  Netns::open(ns_->name()).run([&] {
    workload::RawSender tx("vx100");
    for (int i = 0; i < 5; i++) tx.send(frame);
  });
  json st = qps_json({"stats", "--netns", ns_->name()});
  uint64_t tx = 0;
  for (const auto& v : st["vnis"])
    if (v["vni"] == 100)
      for (const auto& p : v["paths"])
        if (p["ifname"] == "up1") tx += p["tx_roce_packets"].get<uint64_t>();
  EXPECT_EQ(tx, 5u) << st.dump();
}

TEST_F(XdpAttachTest, TransitOnANodeWithoutVxlanNeedsTheVnis) {
  CommandResult r = qps({"attach", "--netns", ns_->name(), "--transit", "t1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--vni"), std::string::npos) << r.err;
  EXPECT_EQ(xdp_id("t1"), 0u);
  EXPECT_FALSE(pinned());
}

TEST_F(XdpAttachTest, TransitAttachesSetsModesAndDetaches) {
  json a = qps_json({"attach", "--netns", ns_->name(), "--transit", "t1", "--vni", "100", "--vni", "200"});
  ASSERT_EQ(a["transit"].size(), 1u);
  EXPECT_EQ(a["devices"].size(), 0u);
  EXPECT_EQ(a["transit"][0]["vnis"], json({100, 200}));
  EXPECT_NE(xdp_id("t1"), 0u);
  // The tc ingress half, which drops a flow hash computed before the rewrite.
  EXPECT_NE(tc_hook_listing(ns_->name(), "t1", "ingress").find("qps_transit_ing"), std::string::npos);
  json s = qps_json({"status", "--netns", ns_->name()});
  ASSERT_EQ(s["namespaces"][0]["transit"].size(), 1u);
  EXPECT_TRUE(s["namespaces"][0]["transit"][0]["attached"].get<bool>());
  EXPECT_EQ(s["namespaces"][0]["transit"][0]["ifname"], "t1");
  EXPECT_EQ(s["namespaces"][0]["vnis"].size(), 2u);
  EXPECT_EQ(s["namespaces"][0]["vnis"][0]["mode"], "qp-hash");
  run_ok({QPSPREAD_BIN, "mode", "--netns", ns_->name(), "--vni", "200", "off"});
  s = qps_json({"status", "--netns", ns_->name()});
  EXPECT_EQ(s["namespaces"][0]["vnis"][1]["mode"], "off");
  CommandResult bad = qps({"mode", "--netns", ns_->name(), "--vni", "300", "off"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("100, 200"), std::string::npos) << bad.err;
  json st = qps_json({"stats", "--netns", ns_->name()});
  EXPECT_EQ(st["vnis"].size(), 2u);
  run_ok({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  EXPECT_EQ(xdp_id("t1"), 0u);
  EXPECT_EQ(run({"tc", "-n", ns_->name(), "qdisc", "show", "dev", "t1"}).out.find("clsact"), std::string::npos);
  EXPECT_FALSE(pinned());
}

TEST_F(XdpAttachTest, AnotherXdpProgramIsNeitherReplacedNorRemoved) {
  UniqueFd prog = load_foreign(BPF_PROG_TYPE_XDP, XDP_PASS);
  ASSERT_GE(prog.get(), 0) << "cannot load a test XDP program";
  Netns::open(ns_->name()).run([&] {
    ASSERT_EQ(bpf_xdp_attach(static_cast<int>(if_nametoindex("t1")), prog.get(), XDP_FLAGS_DRV_MODE, nullptr), 0);
  });
  const uint32_t foreign = xdp_id("t1");
  ASSERT_NE(foreign, 0u);
  CommandResult r = qps({"attach", "--netns", ns_->name(), "--transit", "t1", "--vni", "100"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already has an XDP program"), std::string::npos) << r.err;
  EXPECT_EQ(xdp_id("t1"), foreign);
  EXPECT_FALSE(pinned());
  run({QPSPREAD_BIN, "detach", "--netns", ns_->name()});
  EXPECT_EQ(xdp_id("t1"), foreign);
}

TEST_F(XdpAttachTest, AFailedTransitUndoesTheUplinkOfTheSameCall) {
  add_vxlan();
  CommandResult r = qps({"attach", "--netns", ns_->name(), "--uplink", "up1", "--transit", "nosuch0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'nosuch0'"), std::string::npos) << r.err;
  EXPECT_EQ(xdp_id("up1"), 0u);
  EXPECT_EQ(tc_hook_listing(ns_->name(), "up1", "egress"), "");
  EXPECT_EQ(tc_hook_listing(ns_->name(), "up1", "ingress"), "");
  EXPECT_EQ(run({"tc", "-n", ns_->name(), "qdisc", "show", "dev", "up1"}).out.find("clsact"), std::string::npos);
  EXPECT_FALSE(pinned());
}

TEST_F(XdpAttachTest, OneInterfaceCannotBeBothUplinkAndTransit) {
  add_vxlan();
  CommandResult r = qps({"attach", "--netns", ns_->name(), "--uplink", "up1", "--transit", "up1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("both"), std::string::npos) << r.err;
  EXPECT_EQ(xdp_id("up1"), 0u);
  EXPECT_FALSE(pinned());
}

}  // namespace
}  // namespace qpspread::test
