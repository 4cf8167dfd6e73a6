// End to end on a real FRR EVPN-VXLAN fabric (2 leaves, 2 spines, a host per leaf, BGP unnumbered,
// BFD, L4 multipath hash): with the mode off every QP leaves leaf 1 by one uplink (the tunnel route
// cache pins it); with qp-hash the QPs use several uplinks, each QP exactly one, with exactly the
// outer source port qpspread predicts; host 2 receives every frame byte-identical; detach leaves
// no filter, qdisc or pin.
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <memory>

#include "loader/attach.h"
#include "loader/bpffs.h"
#include "qpspread/flow_hash.h"
#include "tests/common/test_util.h"
#include "userspace/lab/spread_probe.h"
#include "userspace/metrics/fairness.h"

namespace qpspread::test {
namespace {

using lab::SpreadResult;
using nlohmann::json;

class SpreadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root() || ::access("/usr/lib/frr/zebra", X_OK) != 0) return;
    lab::FabricSpec spec;
    spec.tag = "s" + std::to_string(::getpid() % 100000);
    spec.spines = 2;
    fabric_ = new lab::TestFabric(spec);
  }
  static void TearDownTestSuite() {
    delete fabric_;  // tears the fabric down: namespaces, FRR processes
    fabric_ = nullptr;
  }
  void SetUp() override {
    if (!fabric_) GTEST_SKIP() << "needs root and FRR (/usr/lib/frr/zebra)";
  }

  static workload::QpTraffic traffic() {
    workload::QpTraffic t;
    t.qps = 16;
    t.frames_per_qp = 100;
    t.src_port = 49152;  // one fixed inner source port, as many NICs send
    return t;
  }

  static lab::TestFabric* fabric_;
};
lab::TestFabric* SpreadTest::fabric_ = nullptr;

// Each test attaches and detaches itself, so the order of tests does not matter.
struct Attached {
  Netns ns;
  AttachReport report;
  Attached(const std::string& name, uint32_t mode, std::vector<std::string> uplinks = {})
      : ns(Netns::open(name)), report(attach(ns, options(mode, std::move(uplinks)))) {}
  ~Attached() { detach(ns); }
  static AttachOptions options(uint32_t mode, std::vector<std::string> uplinks) {
    AttachOptions o;
    o.initial_mode = mode;
    o.uplinks = std::move(uplinks);
    return o;
  }
};

TEST_F(SpreadTest, ModeOffSendsEveryQpOverOneUplink) {
  Attached a(fabric_->leaf_netns(0), QPS_MODE_OFF);
  SpreadResult r = lab::run_spread(*fabric_, traffic());
  size_t used = 0;
  for (const auto& [uplink, n] : r.uplink_frames) used += n > 0;
  EXPECT_EQ(used, 1u);
  ASSERT_EQ(r.qps.size(), 16u);
  uint64_t total = 0;
  for (const auto& [_, n] : r.uplink_frames) total += n;
  EXPECT_EQ(total, r.sent);
}

TEST_F(SpreadTest, QpHashSpreadsQpsAndEachQpKeepsOnePathAndThePredictedPort) {
  Attached a(fabric_->leaf_netns(0), QPS_MODE_QP_HASH);
  ASSERT_EQ(a.report.devices.size(), 1u);
  const DeviceState& dev = a.report.devices[0];
  SpreadResult r = lab::run_spread(*fabric_, traffic());

  size_t used = 0;
  uint64_t total = 0;
  for (const auto& [uplink, n] : r.uplink_frames) {
    used += n > 0;
    total += n;
  }
  EXPECT_GE(used, 2u) << "qp-hash should use at least 2 of " << r.uplink_frames.size() << " uplinks";
  EXPECT_EQ(total, r.sent);
  ASSERT_EQ(r.qps.size(), 16u);
  const __u32 addrs[2] = {htonl(r.inner_src), htonl(r.inner_dst)};
  for (const auto& [qpn, path] : r.qps) {
    EXPECT_EQ(path.uplinks.size(), 1u) << "QP " << qpn << " left by more than one uplink";
    ASSERT_EQ(path.sports.size(), 1u) << "QP " << qpn;
    const uint16_t predicted =
        qps_port_for_hash(qps_qp_hash(addrs, 2, qpn), dev.port_min, dev.port_count);
    EXPECT_EQ(*path.sports.begin(), predicted) << "QP " << qpn;
  }
}

TEST_F(SpreadTest, FarHostReceivesEveryFrameByteIdentical) {
  Attached a(fabric_->leaf_netns(0), QPS_MODE_QP_HASH);
  SpreadResult r = lab::run_spread(*fabric_, traffic());
  EXPECT_EQ(r.received, r.sent);
  EXPECT_EQ(r.received_identical, r.sent);
}

TEST_F(SpreadTest, StatsCountEveryQpFrame) {
  Attached a(fabric_->leaf_netns(0), QPS_MODE_QP_HASH);
  SpreadResult r = lab::run_spread(*fabric_, traffic());
  std::vector<QpStats> stats = qp_stats(a.ns, fabric_->vni());
  ASSERT_EQ(stats.size(), 16u);
  for (const auto& q : stats) {
    EXPECT_EQ(q.packets, 100u) << "QP " << q.qpn;
    ASSERT_TRUE(r.qps.count(q.qpn));
    EXPECT_EQ(q.sport, *r.qps[q.qpn].sports.begin());
  }
}

// FRR installs the route to the remote VTEP as a nexthop group over both spines; attach without
// --uplink must find both spine-facing uplinks from it, and the remote VTEP from the FDB.
TEST_F(SpreadTest, AttachWithoutUplinkDiscoversBothSpineFacingUplinks) {
  const std::string leaf = fabric_->leaf_netns(0);
  Attached a(leaf, QPS_MODE_QP_HASH);
  std::vector<std::string> expected = fabric_->leaf_uplinks(0), found;
  std::sort(expected.begin(), expected.end());
  for (const auto& u : a.report.uplinks) found.push_back(u.ifname);
  EXPECT_TRUE(a.report.uplinks_discovered);
  EXPECT_EQ(found, expected);
  bool listed = false;
  for (const auto& v : a.report.remote_vteps) {
    if (v.address != fabric_->leaf_vtep_ip(1)) continue;
    listed = true;
    EXPECT_EQ(v.uplinks, expected);
    EXPECT_EQ(v.route, fabric_->leaf_vtep_ip(1) + "/32");
  }
  EXPECT_TRUE(listed) << "remote VTEP " << fabric_->leaf_vtep_ip(1) << " not found";
  for (const auto& u : expected)
    EXPECT_NE(run({"tc", "-n", leaf, "filter", "show", "dev", u, "egress"}).out, "") << u;
}

TEST_F(SpreadTest, UplinkCountersAgreeWithTheFramesOnTheWire) {
  Attached a(fabric_->leaf_netns(0), QPS_MODE_QP_HASH, fabric_->leaf_uplinks(0));
  ASSERT_EQ(a.report.uplinks.size(), fabric_->leaf_uplinks(0).size());
  SpreadResult r = lab::run_spread(*fabric_, traffic());
  PathReport pr = path_report(a.ns);
  std::map<std::string, uint64_t> counted;
  for (const auto& p : pr.paths) {
    EXPECT_EQ(p.vni, fabric_->vni());
    EXPECT_EQ(p.remote, fabric_->leaf_vtep_ip(1));
    counted[pr.ifnames.at(p.ifindex)] += p.roce_packets;
  }
  for (const auto& [uplink, frames] : r.uplink_frames)
    EXPECT_EQ(counted[uplink], frames) << "RoCEv2-in-VXLAN frames on " << uplink;
  ASSERT_EQ(pr.qp_paths.size(), r.qps.size());
  for (const auto& [key, path] : pr.qp_paths) {
    ASSERT_TRUE(r.qps.count(key.qpn));
    EXPECT_EQ(pr.ifnames.at(path.ifindex), *r.qps[key.qpn].uplinks.begin()) << "QP " << key.qpn;
    EXPECT_EQ(path.sport, *r.qps[key.qpn].sports.begin()) << "QP " << key.qpn;
    EXPECT_EQ(path.moves, 0u) << "QP " << key.qpn;
  }
  // The same figures through the command users and scripts run.
  json st = json::parse(run_ok({QPSPREAD_BIN, "-j", "stats", "--netns", fabric_->leaf_netns(0)}));
  ASSERT_EQ(st["vnis"].size(), 1u);
  const json& v = st["vnis"][0];
  EXPECT_EQ(v["paths"].size(), r.uplink_frames.size());
  double share_sum = 0;
  for (const auto& p : v["paths"]) {
    EXPECT_EQ(p["tx_roce_packets"].get<uint64_t>(), r.uplink_frames[p["ifname"].get<std::string>()]);
    share_sum += p["share"].get<double>();
  }
  EXPECT_NEAR(share_sum, 1.0, 1e-9);
  EXPECT_NEAR(v["imbalance"].get<double>(), metrics::imbalance(lab::frame_counts(r)), 1e-9);
  EXPECT_EQ(v["qps"].size(), 16u);
}

TEST_F(SpreadTest, DetachLeavesNoFilterQdiscOrPin) {
  const std::string leaf = fabric_->leaf_netns(0);
  const std::string vxlan = fabric_->leaf_vxlan_dev(0);
  const std::vector<std::string> uplinks = fabric_->leaf_uplinks(0);
  std::vector<std::string> devs = uplinks;
  devs.push_back(vxlan);
  {
    Attached a(leaf, QPS_MODE_QP_HASH, uplinks);
    for (const auto& d : devs) EXPECT_NE(run({"tc", "-n", leaf, "filter", "show", "dev", d, "egress"}).out, "") << d;
  }
  for (const auto& d : devs) {
    EXPECT_EQ(run({"tc", "-n", leaf, "filter", "show", "dev", d, "egress"}).out, "") << d;
    EXPECT_EQ(run({"tc", "-n", leaf, "qdisc", "show", "dev", d}).out.find("clsact"), std::string::npos) << d;
  }
  struct stat st{};
  EXPECT_NE(::stat(pin_dir_for(Netns::open(leaf).inode()).c_str(), &st), 0);
}

}  // namespace
}  // namespace qpspread::test
