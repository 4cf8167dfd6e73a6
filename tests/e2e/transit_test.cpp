// End to end, a host-VTEP design: the host encapsulates (its own VXLAN device), the leaf only
// forwards VXLAN, with L4 ECMP over two spines, to a far VTEP. Every QP of the host hashes to one
// outer source port, so without qpspread all take one spine. `attach --transit` on the leaf's
// host-facing interface rewrites the port per QP before the leaf's route lookup: the QPs spread over
// both spines, each QP keeps one, its port is the one qpspread predicts, and the far VTEP accepts
// every frame (the outer UDP checksum, when the host sends one, stays valid) byte for byte. Toggling
// the mode on the host VTEP and on the transit leaf while traffic flows loses no frame.
//
//   hv (VTEP 10.1.1.1) --h0-- lf ==u1== s1 ==a1== fv (VTEP 10.2.2.2)
//                              \==u2== s2 ==a2==/
#include <arpa/inet.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "common/netns.h"
#include "loader/attach.h"
#include "qpspread/flow_hash.h"
#include "tests/support/test_util.h"
#include "userspace/workload/raw_socket.h"
#include "userspace/workload/roce_frame.h"
#include "userspace/workload/roce_sender.h"

namespace qpspread::test {
namespace {

using nlohmann::json;
using workload::FrameCapture;
using Frames = std::vector<std::vector<uint8_t>>;

constexpr uint32_t kVni = 100;

struct Observed {
  std::map<std::string, uint64_t> uplink_frames;      // leaf uplink -> VXLAN RoCEv2 frames
  std::map<uint32_t, std::set<std::string>> qp_uplinks;
  std::map<uint32_t, std::set<uint16_t>> qp_sports;
  size_t sent = 0, received = 0, received_identical = 0;
};

class TransitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (namespaces, BPF)";
    hv_ = std::make_unique<ScopedNetns>("qps-tr-hv");
    lf_ = std::make_unique<ScopedNetns>("qps-tr-lf");
    s1_ = std::make_unique<ScopedNetns>("qps-tr-s1");
    s2_ = std::make_unique<ScopedNetns>("qps-tr-s2");
    fv_ = std::make_unique<ScopedNetns>("qps-tr-fv");
    link(*hv_, "eth0", "10.1.0.1/30", *lf_, "h0", "10.1.0.2/30");
    link(*lf_, "u1", "10.3.1.1/30", *s1_, "d0", "10.3.1.2/30");
    link(*lf_, "u2", "10.3.2.1/30", *s2_, "d0", "10.3.2.2/30");
    link(*s1_, "f0", "10.4.1.1/30", *fv_, "a1", "10.4.1.2/30");
    link(*s2_, "f0", "10.4.2.1/30", *fv_, "a2", "10.4.2.2/30");
    hv_->ip({"addr", "add", "10.1.1.1/32", "dev", "lo"});
    fv_->ip({"addr", "add", "10.2.2.2/32", "dev", "lo"});
    hv_->ip({"route", "add", "default", "via", "10.1.0.2"});
    lf_->ip({"route", "add", "10.2.2.2/32", "nexthop", "via", "10.3.1.2", "dev", "u1", "nexthop", "via", "10.3.2.2", "dev", "u2"});
    lf_->ip({"route", "add", "10.1.1.1/32", "via", "10.1.0.1"});
    for (auto* s : {s1_.get(), s2_.get()}) {
      s->ip({"route", "add", "10.2.2.2/32", "via", s == s1_.get() ? "10.4.1.2" : "10.4.2.2"});
      s->ip({"route", "add", "10.1.1.1/32", "via", s == s1_.get() ? "10.3.1.1" : "10.3.2.1"});
    }
    fv_->ip({"route", "add", "10.1.1.1/32", "nexthop", "via", "10.4.1.1", "dev", "a1", "nexthop", "via", "10.4.2.1", "dev", "a2"});
    for (auto* n : {lf_.get(), s1_.get(), s2_.get()}) sysctl(*n, "net.ipv4.ip_forward", "1");
    // L4 ECMP, policy 1: it takes a flow hash the skb already has (here the host stack's) as it is,
    // which is why --transit also invalidates it (transit_ingress.bpf.c).
    sysctl(*lf_, "net.ipv4.fib_multipath_hash_policy", "1");
    for (const char* conf : {"all", "default", "a1", "a2"}) sysctl(*fv_, std::string("net.ipv4.conf.") + conf + ".rp_filter", "0");
    fv_->ip({"link", "add", "vx100", "type", "vxlan", "id", "100", "local", "10.2.2.2", "remote", "10.1.1.1", "dstport", "4789"});
    fv_->ip({"link", "set", "vx100", "up"});
  }
  void TearDown() override {
    for (auto* n : {hv_.get(), lf_.get()})
      if (n) run({QPSPREAD_BIN, "detach", "--netns", n->name()});
  }

  static void link(ScopedNetns& a, const std::string& an, const std::string& aip, ScopedNetns& b, const std::string& bn,
                   const std::string& bip) {
    a.ip({"link", "add", an, "type", "veth", "peer", "name", bn, "netns", b.name()});
    a.ip({"addr", "add", aip, "dev", an});
    b.ip({"addr", "add", bip, "dev", bn});
    a.ip({"link", "set", an, "up"});
    b.ip({"link", "set", bn, "up"});
  }
  static void sysctl(const ScopedNetns& n, const std::string& key, const std::string& value) {
    run_ok({"ip", "netns", "exec", n.name(), "sysctl", "-q", "-w", key + "=" + value});
  }
  // The host's VTEP; udpcsum: it sends an outer UDP checksum (Linux sends none over IPv4 by default).
  void host_vtep(bool udpcsum) {
    std::vector<std::string> args = {"link", "add", "vx100", "type", "vxlan", "id", "100", "local", "10.1.1.1",
                                      "remote", "10.2.2.2", "dstport", "4789"};
    if (udpcsum) args.push_back("udpcsum");
    hv_->ip(args);
    hv_->ip({"link", "set", "vx100", "up"});
  }

  static Frames frames(int frames_per_qp) {
    workload::RoceFrameSpec spec;
    spec.src_mac = {0x02, 0, 0, 0, 1, 1};
    spec.dst_mac = {0x02, 0, 0, 0, 2, 1};
    spec.src_ip = 0x0a640001;  // 10.100.0.1
    spec.dst_ip = 0x0a640002;
    workload::QpTraffic t;
    t.qps = 16;
    t.frames_per_qp = frames_per_qp;
    return workload::build_qp_frames(spec, t);
  }

  // Sends the frames into the host's VXLAN device, paced; while `during` runs on another thread.
  Observed send(const Frames& sent, const std::function<void(const std::atomic<bool>&)>& during = {}) {
    Observed o;
    std::vector<std::unique_ptr<FrameCapture>> caps;
    Netns::open(lf_->name()).run([&] {
      for (const char* u : {"u1", "u2"})
        caps.push_back(std::make_unique<FrameCapture>(u, FrameCapture::Direction::Outgoing, 4789));
    });
    std::unique_ptr<FrameCapture> rx;
    Netns::open(fv_->name()).run([&] { rx = std::make_unique<FrameCapture>("vx100", FrameCapture::Direction::Incoming, 4791); });
    std::atomic<bool> done{false};
    std::thread side;
    if (during) side = std::thread([&] { during(done); });
    Netns::open(hv_->name()).run([&] {
      workload::RawSender tx("vx100");
      for (size_t i = 0; i < sent.size(); i++) {
        tx.send(sent[i]);
        if (i % 64 == 63) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    done = true;
    if (side.joinable()) side.join();
    o.sent = sent.size();
    const char* names[] = {"u1", "u2"};
    for (size_t i = 0; i < caps.size(); i++) {
      o.uplink_frames[names[i]] = 0;
      for (const auto& f : caps[i]->drain()) {
        auto v = workload::parse_vxlan_frame(f);
        if (!v || !v->inner_is_roce) continue;
        o.uplink_frames[names[i]]++;
        o.qp_uplinks[v->dest_qp].insert(names[i]);
        o.qp_sports[v->dest_qp].insert(v->outer_sport);
      }
    }
    Frames expected = sent;
    std::sort(expected.begin(), expected.end());
    for (const auto& f : rx->drain()) {
      if (!workload::parse_rocev2_qp_psn(f)) continue;
      o.received++;
      if (std::binary_search(expected.begin(), expected.end(), f)) o.received_identical++;
    }
    return o;
  }

  static size_t used(const Observed& o) {
    size_t n = 0;
    for (const auto& [_, f] : o.uplink_frames) n += f > 0;
    return n;
  }

  std::unique_ptr<ScopedNetns> hv_, lf_, s1_, s2_, fv_;
};

TEST_F(TransitTest, WithoutQpspreadEveryQpTakesOneSpine) {
  host_vtep(false);
  const Observed o = send(frames(50));
  EXPECT_EQ(used(o), 1u);
  EXPECT_EQ(o.received_identical, o.sent);
}

TEST_F(TransitTest, TransitSpreadsQpsOverTheSpinesAndTheFarVtepGetsEveryFrame) {
  for (bool udpcsum : {false, true}) {
    SCOPED_TRACE(udpcsum ? "host sends an outer UDP checksum" : "host sends no outer UDP checksum");
    if (udpcsum) hv_->ip({"link", "del", "vx100"});
    host_vtep(udpcsum);
    json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", lf_->name(), "--transit", "h0", "--vni", "100",
                                 "--uplink", "u1", "--uplink", "u2"}));
    ASSERT_EQ(a["transit"].size(), 1u);
    const uint16_t port_min = a["transit"][0]["sport_min"].get<uint16_t>();
    const uint16_t port_count = static_cast<uint16_t>(a["transit"][0]["sport_max"].get<uint16_t>() - port_min + 1);
    const Frames sent = frames(100);
    const Observed o = send(sent);
    EXPECT_EQ(used(o), 2u) << "16 QPs should use both spines";
    EXPECT_EQ(o.uplink_frames.at("u1") + o.uplink_frames.at("u2"), o.sent);
    EXPECT_EQ(o.received, o.sent);
    EXPECT_EQ(o.received_identical, o.sent);
    const __u32 addrs[2] = {htonl(0x0a640001), htonl(0x0a640002)};
    ASSERT_EQ(o.qp_sports.size(), 16u);
    for (const auto& [qpn, sports] : o.qp_sports) {
      EXPECT_EQ(o.qp_uplinks.at(qpn).size(), 1u) << "QP " << qpn;
      ASSERT_EQ(sports.size(), 1u) << "QP " << qpn;
      EXPECT_EQ(*sports.begin(), qps_port_for_hash(qps_qp_hash(addrs, 2, qpn), port_min, port_count)) << "QP " << qpn;
    }
    // The leaf's own counters: every QP on the uplink the wire shows, the transit rewrites counted.
    json st = json::parse(run_ok({QPSPREAD_BIN, "-j", "stats", "--netns", lf_->name()}));
    ASSERT_EQ(st["vnis"].size(), 1u);
    for (const auto& q : st["vnis"][0]["qps"]) {
      if (q["path"].is_null()) continue;
      EXPECT_EQ(o.qp_uplinks.at(q["qpn"].get<uint32_t>()).count(q["path"].get<std::string>()), 1u) << q.dump();
    }
    run_ok({QPSPREAD_BIN, "detach", "--netns", lf_->name()});
  }
}

// A leaf that only forwards VXLAN (no VXLAN device, no transit): attach --uplink counts, and stats
// lists the VNI its uplinks saw (no mode: not steered here), its paths, and per QP the uplink and
// outer source port the wire shows.
TEST_F(TransitTest, AnUplinkOnlyLeafListsEachQpsPathInStats) {
  host_vtep(false);
  json a = json::parse(run_ok({QPSPREAD_BIN, "-j", "attach", "--netns", lf_->name(), "--uplink", "u1", "--uplink", "u2"}));
  ASSERT_EQ(a["devices"].size(), 0u);
  ASSERT_EQ(a["uplinks"].size(), 2u);
  const Observed o = send(frames(20));
  json st = json::parse(run_ok({QPSPREAD_BIN, "-j", "stats", "--netns", lf_->name()}));
  ASSERT_EQ(st["vnis"].size(), 1u) << st.dump();
  const json& v = st["vnis"][0];
  EXPECT_EQ(v["vni"], kVni);
  EXPECT_TRUE(v["mode"].is_null());
  EXPECT_EQ(v["paths"].size(), 2u) << "u1 and u2 toward 10.2.2.2: " << v["paths"].dump();
  for (const auto& p : v["paths"]) EXPECT_EQ(p["remote_vtep"], "10.2.2.2");
  ASSERT_EQ(v["qps"].size(), o.qp_uplinks.size());
  for (const auto& q : v["qps"]) {
    const uint32_t qpn = q["qpn"].get<uint32_t>();
    ASSERT_TRUE(q["path"].is_string()) << q.dump();
    EXPECT_EQ(o.qp_uplinks.at(qpn).count(q["path"].get<std::string>()), 1u) << q.dump();
    EXPECT_EQ(o.qp_sports.at(qpn).count(q["path_sport"].get<uint16_t>()), 1u) << q.dump();
    EXPECT_EQ(q["moves"], 0) << q.dump();
  }
  const std::string plain = run_ok({QPSPREAD_BIN, "stats", "--netns", lf_->name()});
  EXPECT_NE(plain.find("VNI 100 (seen on the uplinks, not steered here)"), std::string::npos) << plain;
  EXPECT_NE(plain.find("u1"), std::string::npos) << plain;
}

// The mode flips every few milliseconds, on the host's VTEP program and on the leaf's transit
// program, while 16 QPs send: paths change under the traffic, and still every frame arrives.
TEST_F(TransitTest, TogglingTheModeUnderLoadLosesNoFrame) {
  host_vtep(true);
  run_ok({QPSPREAD_BIN, "attach", "--netns", hv_->name()});
  run_ok({QPSPREAD_BIN, "attach", "--netns", lf_->name(), "--transit", "h0", "--vni", "100"});
  const Netns hv = Netns::open(hv_->name()), lf = Netns::open(lf_->name());
  int toggles = 0;
  const Observed o = send(frames(400), [&](const std::atomic<bool>& done) {
    for (uint32_t mode = QPS_MODE_OFF; !done; mode ^= 1, toggles++) {
      set_mode(hv, kVni, {static_cast<qps_mode>(mode), QPS_DEFAULT_FLOWLET_GAP_US, 0});
      set_mode(lf, kVni, {static_cast<qps_mode>(mode ^ (toggles / 2 % 2)), QPS_DEFAULT_FLOWLET_GAP_US, 0});
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  EXPECT_GT(toggles, 20) << "the traffic ended before the mode changed often";
  EXPECT_EQ(used(o), 2u);
  EXPECT_EQ(o.received, o.sent);
  EXPECT_EQ(o.received_identical, o.sent);
}

}  // namespace
}  // namespace qpspread::test
