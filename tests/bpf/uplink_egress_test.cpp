// Packet fixtures for the uplink program: which frames count on which path, RoCEv2 inside apart,
// per-QP uplink and outer port, moves; everything else under its reason; no byte ever changes.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "qpspread/abi.h"
#include "tests/bpf/percpu_read.h"
#include "tests/bpf/prog_run.h"
#include "tests/bpf/test_frames.h"
#include "uplink_egress.skel.h"

namespace qpspread::test {
namespace {

constexpr uint32_t kLo = 1;  // BPF_PROG_TEST_RUN runs tc programs on lo

class UplinkEgress : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
    skel_.reset(uplink_egress__open_and_load());
    ASSERT_TRUE(skel_);
  }

  void run_ok(const std::vector<uint8_t>& frame) {
    RunResult r = run_tc_prog(bpf_program__fd(skel_->progs.qps_uplink_egress), frame);
    ASSERT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, static_cast<uint32_t>(TC_ACT_UNSPEC));
    EXPECT_EQ(r.out, frame) << "packet changed\n in:\n" << hex(frame) << "\nout:\n" << hex(r.out);
  }

  qps_path_stats path(uint32_t vni, bool ipv6) {
    qps_path_key key{};
    key.ifindex = kLo;
    key.vni = vni;
    const auto dst = outer_dst(ipv6);
    std::memcpy(key.remote, dst.data(), 16);
    return sum_path(bpf_map__fd(skel_->maps.path_stats), key);
  }

  std::optional<qps_qp_path> qp(uint32_t vni, uint32_t qpn) {
    qps_qp_key key{vni, qpn};
    qps_qp_path p{};
    if (bpf_map__lookup_elem(skel_->maps.qp_paths, &key, sizeof(key), &p, sizeof(p), 0) != 0) return std::nullopt;
    return p;
  }

  uint64_t reason_count(uint32_t reason) { return reason_packets(bpf_map__fd(skel_->maps.uplink_reasons), reason); }

  std::unique_ptr<uplink_egress, decltype(&uplink_egress__destroy)> skel_{nullptr, uplink_egress__destroy};
};

TEST_F(UplinkEgress, RoceInVxlanCountsOnItsPathAndRecordsTheQp) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "IPv6 underlay" : "IPv4 underlay");
    const auto frame = wrap_vxlan(make_frame({}), OuterDesc{.ipv6 = v6, .sport = 51000});
    run_ok(frame);
    const qps_path_stats p = path(100, v6);
    EXPECT_EQ(p.packets, 1u);
    EXPECT_EQ(p.bytes, frame.size());
    EXPECT_EQ(p.roce_packets, 1u);
    auto q = qp(100, FrameDesc{}.qpn);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->ifindex, kLo);
    EXPECT_EQ(q->sport, 51000);
    const uint64_t frames = v6 ? 2 : 1;  // the same QP, over each underlay in turn
    EXPECT_EQ(q->packets, frames);
    EXPECT_EQ(q->bytes, frames * make_frame({}).size()) << "the inner frames, as the VTEP program counts them";
    const auto dst = outer_dst(v6);
    EXPECT_EQ(std::memcmp(q->remote, dst.data(), 16), 0) << "the remote VTEP, as in the path key";
  }
}

TEST_F(UplinkEgress, UnderlayVlanAndInnerVariantsAreParsed) {
  run_ok(wrap_vxlan(make_frame({}), OuterDesc{.vlan = true}));
  run_ok(wrap_vxlan(make_frame({.vlan_tpids = {0x88a8, 0x8100}, .ipv6 = true}), OuterDesc{}));
  EXPECT_EQ(path(100, false).roce_packets, 2u);
}

TEST_F(UplinkEgress, OtherFramesInVxlanCountOnThePathButNotAsRoce) {
  run_ok(wrap_vxlan(make_frame({.ethertype = 0x0806}), OuterDesc{.vni = 200}));  // ARP
  run_ok(wrap_vxlan(make_frame({.dport = 53}), OuterDesc{.vni = 200}));         // other UDP
  const qps_path_stats p = path(200, false);
  EXPECT_EQ(p.packets, 2u);
  EXPECT_EQ(p.roce_packets, 0u);
}

// ... and per interface under QPS_VNI_OTHER, so every frame the uplink sends is in path_stats once.
TEST_F(UplinkEgress, NonVxlanFramesAreCountedUnderTheirReasonAndAsOther) {
  const uint64_t not_vxlan = reason_count(QPS_R_NOT_VXLAN), not_ip = reason_count(QPS_R_NOT_IP);
  const auto udp = wrap_vxlan(make_frame({}), OuterDesc{.dport = 53});  // UDP, not VXLAN
  const auto tcp = wrap_vxlan(make_frame({}), OuterDesc{.proto = 6});   // TCP
  const auto arp = make_frame({.ethertype = 0x0806});                   // ARP on the uplink
  for (const auto* f : {&udp, &tcp, &arp}) run_ok(*f);
  EXPECT_EQ(reason_count(QPS_R_NOT_VXLAN), not_vxlan + 2);
  EXPECT_EQ(reason_count(QPS_R_NOT_IP), not_ip + 1);
  EXPECT_EQ(path(100, false).packets, 0u);
  const qps_path_stats other = sum_path(bpf_map__fd(skel_->maps.path_stats), qps_path_key{kLo, QPS_VNI_OTHER, {}});
  EXPECT_EQ(other.packets, 3u);
  EXPECT_EQ(other.bytes, udp.size() + tcp.size() + arp.size());
  EXPECT_EQ(other.roce_packets, 0u);
}

TEST_F(UplinkEgress, AQpThatChangesUplinkCountsAMove) {
  const uint32_t qpn = FrameDesc{}.qpn;
  qps_qp_key key{100, qpn};
  qps_qp_path before{7, 40000, 0, 0};  // last seen on ifindex 7
  ASSERT_EQ(bpf_map__update_elem(skel_->maps.qp_paths, &key, sizeof(key), &before, sizeof(before), BPF_ANY), 0);
  run_ok(wrap_vxlan(make_frame({}), OuterDesc{}));
  auto q = qp(100, qpn);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->moves, 1u);
  EXPECT_EQ(q->ifindex, kLo);
  run_ok(wrap_vxlan(make_frame({}), OuterDesc{}));
  EXPECT_EQ(qp(100, qpn)->moves, 1u) << "same uplink again is not a move";
  EXPECT_EQ(qp(100, qpn)->packets, 2u) << "counted on the entry it found";
}

}  // namespace
}  // namespace qpspread::test
