// End to end on a real FRR EVPN-VXLAN fabric (2 leaves, 2 spines, a host per leaf, BGP unnumbered,
// BFD, L4 multipath hash): with the mode off every QP leaves leaf 1 by one uplink (the tunnel route
// cache pins it); with qp-hash the QPs use several uplinks, each QP exactly one, with exactly the
// outer source port qpspread predicts; host 2 receives every frame byte-identical; detach leaves
// no filter, qdisc or pin.
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <thread>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include "common/error.h"
#include "loader/attach.h"
#include "loader/bpffs.h"
#include "loader/fib_probe.h"
#include "qpspread/flow_hash.h"
#include "tests/support/spread_probe.h"
#include "tests/support/test_util.h"
#include "userspace/report/fairness.h"
#include "userspace/report/stats_report.h"
#include "userspace/scenario/balance.h"

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
      : Attached(name, options(mode, std::move(uplinks))) {}
  Attached(const std::string& name, const AttachOptions& o) : ns(Netns::open(name)), report(attach(ns, o)) {}
  ~Attached() { detach(ns); }
  static AttachOptions options(uint32_t mode, std::vector<std::string> uplinks) {
    AttachOptions o;
    o.initial_mode = {static_cast<qps_mode>(mode), QPS_DEFAULT_FLOWLET_GAP_US, 0};
    o.uplinks = std::move(uplinks);
    return o;
  }
};

// The controller on this node alone, every remote VTEP, the default probes.
scenario::BalanceOptions balance_options(uint32_t vni) {
  scenario::BalanceOptions o;
  o.vni = vni;
  return o;
}

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

// Mode balance: every QP given a port (as the controller will) leaves with exactly that port, on
// one uplink, from its first frame; stats show each assignment taken (no move pending).
TEST_F(SpreadTest, BalanceSendsEveryQpWithItsAssignedPort) {
  Attached a(fabric_->leaf_netns(0), QPS_MODE_BALANCE);
  ASSERT_EQ(a.report.devices.size(), 1u);
  const DeviceState& dev = a.report.devices[0];
  const workload::QpTraffic t = traffic();
  std::map<uint32_t, uint16_t> want;
  for (int i = 0; i < t.qps; i++) {
    const uint32_t qpn = t.first_qp + static_cast<uint32_t>(i);
    want[qpn] = static_cast<uint16_t>(dev.port_min + dev.port_count - 1 - 97 * i);  // any port of the range
  }
  assign_ports(a.ns, dev.vni, want);
  EXPECT_THROW(assign_ports(a.ns, dev.vni, {{t.first_qp, static_cast<uint16_t>(dev.port_min - 1)}}), Error)
      << "a port the driver cannot send is refused";
  SpreadResult r = lab::run_spread(*fabric_, t);
  ASSERT_EQ(r.qps.size(), want.size());
  for (const auto& [qpn, path] : r.qps) {
    EXPECT_EQ(path.uplinks.size(), 1u) << "QP " << qpn;
    EXPECT_EQ(path.sports, std::set<uint16_t>{want[qpn]}) << "QP " << qpn;
  }
  const report::StatsReport st = report::build_stats(a.ns, dev.vni);
  ASSERT_EQ(st.vnis.size(), 1u);
  size_t rows = 0;
  for (const auto& q : st.vnis[0].qps) {
    if (!want.count(q.qpn)) continue;
    rows++;
    EXPECT_EQ(q.assigned_sport, std::optional<uint16_t>(want[q.qpn]));
    EXPECT_EQ(q.balance_sport, std::optional<uint16_t>(want[q.qpn]));
    EXPECT_FALSE(q.move_pending);
  }
  EXPECT_EQ(rows, want.size());
}

// This node's own ECMP stage, predicted: for every QP, the kernel's FIB asked through the probe
// program with the QP's outer header names the uplink the QP's frames were seen leaving by.
TEST_F(SpreadTest, FibProbePredictsTheUplinkOfEveryQpsPort) {
  Attached a(fabric_->leaf_netns(0), QPS_MODE_QP_HASH);
  SpreadResult r = lab::run_spread(*fabric_, traffic());
  ASSERT_EQ(r.qps.size(), 16u);
  const FibProbe probe;
  std::set<std::string> predicted_uplinks;
  a.ns.run([&] {
    for (const auto& [qpn, path] : r.qps) {
      ASSERT_EQ(path.sports.size(), 1u);
      ASSERT_EQ(path.uplinks.size(), 1u);
      const FibProbe::Answer ans = probe.lookup(fabric_->leaf_vtep_ip(0), fabric_->leaf_vtep_ip(1), *path.sports.begin());
      ASSERT_TRUE(ans.found()) << "QP " << qpn << ": rc " << ans.rc;
      char name[IF_NAMESIZE] = {};
      ASSERT_NE(::if_indextoname(ans.oif, name), nullptr);
      EXPECT_EQ(std::string(name), *path.uplinks.begin()) << "QP " << qpn << " port " << *path.sports.begin();
      predicted_uplinks.insert(name);
    }
  });
  EXPECT_GE(predicted_uplinks.size(), 2u) << "16 QPs' ports should reach both uplinks";
}

// The controller's step on the leaf: 16 QPs that qp-hash put on the two uplinks by chance are
// placed 8 | 8 (each with a port the FIB sends by its uplink); the next run's frames then split
// exactly evenly, each QP on its planned uplink with its planned port.
TEST_F(SpreadTest, BalanceOncePlacesTheQpsEvenlyOnTheUplinks) {
  const std::vector<std::string> ups = fabric_->leaf_uplinks(0);
  ASSERT_EQ(ups.size(), 2u);
  Attached a(fabric_->leaf_netns(0), QPS_MODE_BALANCE, ups);
  const uint32_t vni = a.report.devices.at(0).vni;
  const workload::QpTraffic t = traffic();
  lab::run_spread(*fabric_, t);  // the QPs' first frames: qp-hash ports, and their bytes
  const scenario::BalanceResult b = scenario::balance_once(a.ns, balance_options(vni));
  ASSERT_EQ(b.groups.size(), 1u);
  EXPECT_EQ(b.groups[0].remote, fabric_->leaf_vtep_ip(1));
  const scenario::BalancePlan& plan = b.groups[0].plan;
  ASSERT_EQ(plan.qps.size(), 16u);
  for (const auto& up : ups) EXPECT_EQ(plan.stages.at(0).count.at(up), 8) << up;
  EXPECT_DOUBLE_EQ(plan.imbalance, 1.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // past the 50 ms flowlet gap
  workload::QpTraffic next = t;
  next.first_psn = static_cast<uint32_t>(t.frames_per_qp);  // the same QPs go on
  SpreadResult r = lab::run_spread(*fabric_, next);
  ASSERT_EQ(r.uplink_frames.size(), 2u);
  for (const auto& [uplink, n] : r.uplink_frames) EXPECT_EQ(n, 8u * next.frames_per_qp) << uplink;
  for (const auto& q : plan.qps) {
    const auto& seen = r.qps.at(q.qpn);
    EXPECT_EQ(seen.uplinks, std::set<std::string>{q.paths.at(0)}) << "QP " << q.qpn;
    EXPECT_EQ(seen.sports, std::set<uint16_t>{q.sport}) << "QP " << q.qpn;
  }
}

// A path lost and back: with one uplink down the controller's next step puts every QP on the other
// (and the next run's frames all leave by it, none lost); once the uplink is back, the step after
// spreads the QPs 8 | 8 again.
TEST_F(SpreadTest, BalanceMovesEveryQpOffALostUplinkAndBackOnceItReturns) {
  const std::vector<std::string> ups = fabric_->leaf_uplinks(0);
  ASSERT_EQ(ups.size(), 2u);
  Attached a(fabric_->leaf_netns(0), QPS_MODE_BALANCE, ups);
  const uint32_t vni = a.report.devices.at(0).vni;
  workload::QpTraffic t = traffic();
  t.first_psn = 1'000'000;  // a PSN range of its own: the receiver's tracking sees one sequence
  lab::run_spread(*fabric_, t);
  scenario::BalanceController ctl(a.ns, balance_options(vni));
  EXPECT_EQ(ctl.step().groups.at(0).plan.stages.at(0).count.at(ups[1]), 8);
  // The spine's end of the second uplink goes down: the leaf loses carrier, BFD notices, FRR
  // withdraws the route's next hop (the leaf's own end stays up, so its frames can be watched).
  const std::string spine = fabric_->spine_netns(1);
  scenario::BalanceResult lost;
  SpreadResult r;
  {
    // Up again when this block ends, whether it ends well or by a failed assertion or a throw.
    struct LinkBack {
      std::string ns;
      ~LinkBack() { run({"ip", "-n", ns, "link", "set", "dn1", "up"}); }
    } back{spine};
    run_ok({"ip", "-n", spine, "link", "set", "dn1", "down"});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (lost = ctl.step(); lost.groups.at(0).plan.stages.at(0).count.count(ups[1]) && std::chrono::steady_clock::now() < deadline;
         lost = ctl.step())
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // past the flowlet gap
    workload::QpTraffic next = t;
    next.first_psn = t.first_psn + static_cast<uint32_t>(t.frames_per_qp);
    r = lab::run_spread(*fabric_, next);
  }
  EXPECT_EQ(lost.groups.at(0).plan.stages.at(0).count.count(ups[1]), 0u) << "the lost uplink is no path (within 10 s)";
  EXPECT_EQ(lost.groups.at(0).plan.stages.at(0).count.at(ups[0]), 16);
  EXPECT_EQ(r.uplink_frames.at(ups[0]), r.sent);
  EXPECT_EQ(r.received, r.sent) << "nothing lost on the way";
  fabric_->wait_data_plane();
  const scenario::BalanceResult back = ctl.step();
  for (const auto& up : ups) EXPECT_EQ(back.groups.at(0).plan.stages.at(0).count.at(up), 8) << up;
}

// QPs expected before their first frame (an experiment's next run) are placed, and those seen
// before the expectations (an earlier run's) are left out with their assignments cleared: a lab
// that ran thousands of QPs still places the next run's (a study once failed with "4178 QPs, but
// only 4096 candidate ports").
TEST_F(SpreadTest, BalancePlacesExpectedQpsAndForgetsAnEarlierRunsOnes) {
  const std::vector<std::string> ups = fabric_->leaf_uplinks(0);
  Attached a(fabric_->leaf_netns(0), QPS_MODE_BALANCE, ups);
  const uint32_t vni = a.report.devices.at(0).vni;
  lab::run_spread(*fabric_, traffic());  // an earlier run's 16 QPs
  scenario::BalanceController ctl(a.ns, balance_options(vni));
  ASSERT_EQ(ctl.step().groups.at(0).plan.qps.size(), 16u);
  ASSERT_EQ(path_report(a.ns).assignments.size(), 16u);
  std::map<uint32_t, std::string> next;
  for (uint32_t q = 0x7000; q < 0x7004; q++) next[q] = fabric_->leaf_vtep_ip(1);
  ctl.expect(next);
  const scenario::BalanceResult r = ctl.step();
  ASSERT_EQ(r.groups.size(), 1u);
  std::set<uint32_t> placed;
  for (const auto& q : r.groups[0].plan.qps) placed.insert(q.qpn);
  EXPECT_EQ(placed, (std::set<uint32_t>{0x7000, 0x7001, 0x7002, 0x7003}));
  for (const auto& up : ups) EXPECT_EQ(r.groups[0].plan.stages.at(0).count.at(up), 2) << up;
  std::set<uint32_t> assigned;
  for (const auto& [key, port] : path_report(a.ns).assignments) assigned.insert(key.qpn);
  EXPECT_EQ(assigned, placed) << "the earlier run's assignments are cleared";
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

// Attached first without uplinks, the VTEP program counts the QPs; attached again with them, the
// uplink programs do and the VTEP program no longer: every frame is in its QP's count once, those
// of before the uplinks came included.
TEST_F(SpreadTest, QpCountsSurviveUplinksComingAndCountEveryFrameOnce) {
  AttachOptions vtep_only = Attached::options(QPS_MODE_QP_HASH, {});
  vtep_only.discover_uplinks = false;
  Attached a(fabric_->leaf_netns(0), vtep_only);  // detached at the end, also when a check fails
  lab::run_spread(*fabric_, traffic());
  const AttachReport again = attach(a.ns, Attached::options(QPS_MODE_QP_HASH, {}));  // uplinks discovered
  ASSERT_EQ(again.uplinks.size(), 2u);
  ASSERT_TRUE(again.devices.size() == 1u && !again.devices[0].already_attached)
      << "the VTEP program is loaded again, to leave the QPs to the uplinks";
  SpreadResult r = lab::run_spread(*fabric_, traffic());
  std::vector<QpStats> stats = qp_stats(a.ns, fabric_->vni());
  ASSERT_EQ(stats.size(), 16u);
  for (const auto& q : stats) {
    EXPECT_EQ(q.packets, 200u) << "QP " << q.qpn;
    ASSERT_TRUE(r.qps.count(q.qpn));
    EXPECT_EQ(q.sport, *r.qps[q.qpn].sports.begin()) << "QP " << q.qpn;
  }
  uint64_t by_uplinks = 0;
  for (const auto& [key, p] : path_report(a.ns).qp_paths) by_uplinks += p.packets;
  EXPECT_EQ(by_uplinks, 16u * 100u) << "the second run's frames, counted by the uplinks";
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
    EXPECT_NE(tc_hook_listing(leaf, u, "egress"), "") << u;
}

TEST_F(SpreadTest, UplinkCountersAgreeWithTheFramesOnTheWire) {
  Attached a(fabric_->leaf_netns(0), QPS_MODE_QP_HASH, fabric_->leaf_uplinks(0));
  ASSERT_EQ(a.report.uplinks.size(), fabric_->leaf_uplinks(0).size());
  SpreadResult r = lab::run_spread(*fabric_, traffic());
  PathReport pr = path_report(a.ns);
  std::map<std::string, uint64_t> counted;
  for (const auto& p : pr.paths) {
    if (p.vni == QPS_VNI_OTHER) continue;  // BGP, BFD, ND: counted per uplink, in no VNI
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
  EXPECT_NEAR(v["imbalance"].get<double>(), report::imbalance(lab::frame_counts(r)), 1e-9);
  EXPECT_EQ(v["qps"].size(), 16u);
}

// The kernel's counters of every uplink, and `stats -j` read between two identical readings of
// them (BGP and BFD keep talking: retry until nothing moved while stats ran).
struct UplinkSnapshot {
  std::map<std::string, json> kernel;  // ifname -> stats64 {"rx": {...}, "tx": {...}}
  json stats;
};

UplinkSnapshot snapshot(const std::string& netns, const std::vector<std::string>& uplinks) {
  auto kernel = [&] {
    std::map<std::string, json> k;
    for (const auto& u : uplinks)
      k[u] = json::parse(run_ok({"ip", "-j", "-s", "-n", netns, "link", "show", "dev", u}))[0]["stats64"];
    return k;
  };
  for (int attempt = 0; attempt < 50; attempt++) {
    UplinkSnapshot s;
    s.kernel = kernel();
    s.stats = json::parse(run_ok({QPSPREAD_BIN, "-j", "stats", "--netns", netns}));
    if (kernel() == s.kernel) return s;
  }
  ADD_FAILURE() << "the counters of " << netns << " never stood still";
  return {};
}

uint64_t uplink_counter(const json& stats, const std::string& ifname, const std::string& field) {
  for (const auto& u : stats["uplinks"])
    if (u["ifname"] == ifname) return u[field].get<uint64_t>();
  ADD_FAILURE() << "no uplink " << ifname << " in stats";
  return 0;
}

bool rx_on_tc(const AttachReport& r, const std::string& uplink) {
  for (const auto& u : r.uplinks)
    if (u.ifname == uplink) return u.rx_on_tc && u.rx_tc_prog_id != 0;
  ADD_FAILURE() << "no uplink " << uplink << " attached";
  return false;
}

// Sender leaf: what its uplink programs counted leaving equals the kernel's tx counters, frame for
// frame and byte for byte, RoCEv2-in-VXLAN and everything else (BGP, BFD, ND) together. Receiver
// leaf: the same for rx, every QP arrives whole on one path, none reordered, no gap.
TEST_F(SpreadTest, UplinkCountersEqualTheKernelsAndTheReceiverSeesNoReorder) {
  const std::vector<std::string> up0 = fabric_->leaf_uplinks(0), up1 = fabric_->leaf_uplinks(1);
  Attached sender(fabric_->leaf_netns(0), QPS_MODE_QP_HASH, up0);
  Attached receiver(fabric_->leaf_netns(1), QPS_MODE_QP_HASH, up1);
  const UplinkSnapshot tx0 = snapshot(fabric_->leaf_netns(0), up0), rx0 = snapshot(fabric_->leaf_netns(1), up1);
  SpreadResult r = lab::run_spread(*fabric_, traffic());
  const UplinkSnapshot tx1 = snapshot(fabric_->leaf_netns(0), up0), rx1 = snapshot(fabric_->leaf_netns(1), up1);
  for (const auto& side : {std::tuple{&tx0, &tx1, &up0, std::string("tx")}, std::tuple{&rx0, &rx1, &up1, std::string("rx")}}) {
    // Plain variables, not bindings: clang 14 cannot capture those in the lambdas below.
    const UplinkSnapshot* snap0 = std::get<0>(side);
    const UplinkSnapshot* snap1 = std::get<1>(side);
    const auto* uplinks = std::get<2>(side);
    const std::string& dir = std::get<3>(side);
    for (const auto& u : *uplinks) {
      auto kernel = [&](const std::string& what) {
        return snap1->kernel.at(u)[dir][what].get<uint64_t>() - snap0->kernel.at(u)[dir][what].get<uint64_t>();
      };
      auto ours = [&](const std::string& what) {
        return uplink_counter(snap1->stats, u, dir + "_" + what) - uplink_counter(snap0->stats, u, dir + "_" + what);
      };
      EXPECT_EQ(ours("packets"), kernel("packets")) << dir << " packets of " << u;
      // Whole frames, Ethernet header included, as the veth counts them (it receives without
      // NAPI: attach gives a veth uplink no XDP program, whose native mode would make it count rx
      // bytes after eth_type_trans() pulled the header; drivers/net/veth.c, veth_xdp_rcv).
      EXPECT_EQ(ours("bytes"), kernel("bytes")) << dir << " bytes of " << u;
      if (dir == "rx") {
        EXPECT_TRUE(rx_on_tc(receiver.report, u)) << u;
      }
    }
  }
  // The receiver saw every RoCEv2 frame, each QP on one uplink, in order.
  ASSERT_EQ(rx1.stats["vnis"].size(), 1u);
  uint64_t roce_rx = 0;
  for (const auto& p : rx1.stats["vnis"][0]["paths"]) {
    EXPECT_EQ(p["remote_vtep"], fabric_->leaf_vtep_ip(0));
    roce_rx += p["rx_roce_packets"].get<uint64_t>();
  }
  EXPECT_EQ(roce_rx, r.sent);
  size_t qps = 0;
  for (const auto& q : rx1.stats["vnis"][0]["qps"]) {
    if (q["rx_packets"].get<uint64_t>() == 0) continue;
    qps++;
    EXPECT_EQ(q["rx_packets"].get<uint64_t>(), 100u) << "QP " << q["qpn"];
    EXPECT_EQ(q["reordered"].get<uint64_t>(), 0u) << "QP " << q["qpn"];
    EXPECT_EQ(q["gaps"].get<uint64_t>(), 0u) << "QP " << q["qpn"];
  }
  EXPECT_EQ(qps, 16u);
  // The same through Prometheus: the RoCEv2 frames received per path add up, nothing reordered.
  const std::string prom = run_ok({QPSPREAD_BIN, "stats", "--prometheus", "--netns", fabric_->leaf_netns(1)});
  uint64_t prom_rx = 0;
  std::istringstream lines(prom);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("qpspread_path_rx_rocev2_packets_total{", 0) == 0) prom_rx += std::stoull(line.substr(line.rfind(' ') + 1));
  EXPECT_EQ(prom_rx, r.sent);
  EXPECT_NE(prom.find("qpspread_vni_reordered_total{netns=\"" + fabric_->leaf_netns(1) + "\",vni=\"100\"} 0"), std::string::npos);
  // The live view's one-frame form parses, and lists the sender's uplinks.
  json top = json::parse(run_ok({QPSPREAD_BIN, "-j", "top", "--once", "--interval", "0.2", "--netns", fabric_->leaf_netns(0)}));
  ASSERT_EQ(top["vnis"].size(), 1u);
  EXPECT_EQ(top["vnis"][0]["paths"].size(), up0.size());
}

TEST_F(SpreadTest, DetachLeavesNoFilterQdiscOrPin) {
  const std::string leaf = fabric_->leaf_netns(0);
  const std::string vxlan = fabric_->leaf_vxlan_dev(0);
  const std::vector<std::string> uplinks = fabric_->leaf_uplinks(0);
  std::vector<std::string> devs = uplinks;
  devs.push_back(vxlan);
  {
    Attached a(leaf, QPS_MODE_QP_HASH, uplinks);
    for (const auto& d : devs) EXPECT_NE(tc_hook_listing(leaf, d, "egress"), "") << d;
  }
  for (const auto& d : devs) {
    EXPECT_EQ(tc_hook_listing(leaf, d, "egress"), "") << d;
    EXPECT_EQ(run({"tc", "-n", leaf, "qdisc", "show", "dev", d}).out.find("clsact"), std::string::npos) << d;
  }
  struct stat st{};
  EXPECT_NE(::stat(pin_dir_for(Netns::open(leaf).inode()).c_str(), &st), 0);
}

}  // namespace
}  // namespace qpspread::test
