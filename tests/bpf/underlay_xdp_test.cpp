// Packet fixtures for the XDP program on underlay interfaces. Receive role (through its XDP entry
// and its tc ingress one): per-path counters keyed by the sending VTEP, per-QP PSN tracking (in
// order, reordered, gaps, the 2^24 wrap).
// Transit role: the outer source port becomes the QP's, the checksum stays valid (recomputed here
// from scratch), a zero checksum stays zero, and no other byte changes. Always XDP_PASS.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include "qpspread/abi.h"
#include "loader/pinned_maps.h"
#include "tests/bpf/percpu_read.h"
#include "tests/bpf/prog_run.h"
#include "tests/bpf/test_frames.h"
#include "underlay_xdp.skel.h"

namespace qpspread::test {
namespace {

constexpr uint32_t kLo = 1;  // BPF_PROG_TEST_RUN's XDP frames arrive on lo
constexpr uint32_t kVni = 100;
constexpr uint16_t kPortMin = 32768;
constexpr uint16_t kPortCount = 28231;  // Linux's default ip_local_port_range, 32768-60999

using Skel = std::unique_ptr<underlay_xdp, decltype(&underlay_xdp__destroy)>;

Skel load(uint8_t roles) {
  Skel s(underlay_xdp__open(), underlay_xdp__destroy);
  if (!s) return s;
  s->rodata->qps_xdp.roles = roles;
  s->rodata->qps_xdp.port_min = kPortMin;
  s->rodata->qps_xdp.port_count = kPortCount;
  if (underlay_xdp__load(s.get()) != 0) s.reset();
  return s;
}

// The sending VTEP of wrap_vxlan's frames (the outer source address), as paths key it.
std::array<uint8_t, 16> outer_src(bool ipv6) {
  std::array<uint8_t, 16> a{};
  if (ipv6) {
    a[0] = 0xfd;
    a[1] = 0xaa;
    a[15] = 0x11;
  } else {
    a[10] = a[11] = 0xff;
    a[12] = 10;
    a[15] = 11;
  }
  return a;
}

class UnderlayXdp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  }

  void use(uint8_t roles) {
    skel_ = load(roles);
    ASSERT_TRUE(skel_) << "cannot load underlay_xdp with roles " << int(roles);
  }

  // Through the XDP entry, or (tc_) the tc ingress one a veth uplink gets.
  RunResult pass(const std::vector<uint8_t>& frame) {
    if (tc_) {
      RunResult r = run_tc_prog(bpf_program__fd(skel_->progs.qps_underlay_tc), frame);
      EXPECT_EQ(r.err, 0);
      EXPECT_EQ(r.retval, static_cast<uint32_t>(TC_ACT_UNSPEC));
      return r;
    }
    RunResult r = run_xdp_prog(bpf_program__fd(skel_->progs.qps_underlay_xdp), frame);
    EXPECT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, static_cast<uint32_t>(XDP_PASS));
    return r;
  }
  void pass_unchanged(const std::vector<uint8_t>& frame) {
    RunResult r = pass(frame);
    EXPECT_EQ(r.out, frame) << "packet changed\n in:\n" << hex(frame) << "\nout:\n" << hex(r.out);
  }
  // One RoCEv2 frame of QP qpn with this PSN (and opcode), in VXLAN over IPv4.
  void receive(uint32_t qpn, uint32_t psn, uint8_t opcode = 0x04) {
    pass_unchanged(wrap_vxlan(make_frame({.qpn = qpn, .psn = psn, .opcode = opcode}), {}));
  }

  void set_mode(qps_mode mode) {
    qps_vni_cfg c{mode, 0};
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.vni_mode, &kVni, sizeof(kVni), &c, sizeof(c), BPF_ANY), 0);
  }

  qps_path_stats rx_path(bool ipv6, uint32_t vni = kVni) {
    qps_path_key key{};
    key.ifindex = kLo;
    key.vni = vni;
    const auto src = outer_src(ipv6);
    std::memcpy(key.remote, src.data(), 16);
    return sum_path(bpf_map__fd(skel_->maps.rx_paths), key);
  }

  std::optional<qps_qp_rx> qp(uint32_t qpn) {
    qps_qp_key key{kVni, qpn};
    qps_qp_rx q{};
    if (bpf_map__lookup_elem(skel_->maps.qp_rx, &key, sizeof(key), &q, sizeof(q), 0) != 0) return std::nullopt;
    return q;
  }

  uint64_t reason_count(uint32_t reason) { return reason_packets(bpf_map__fd(skel_->maps.xdp_reasons), reason); }

  Skel skel_{nullptr, underlay_xdp__destroy};
  bool tc_ = false;
};

// The receive role's fixtures run through both entries: XDP (an uplink NIC) and tc ingress (a
// veth uplink), which must count the same frames the same way (in a test run both arrive on lo).
class UnderlayRx : public UnderlayXdp, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    UnderlayXdp::SetUp();
    tc_ = GetParam();
  }
};

// ---- receive role ----

TEST_P(UnderlayRx, RxCountsEachVxlanFrameOnThePathFromItsVtep) {
  use(QPS_XDP_RX);
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "IPv6 underlay" : "IPv4 underlay");
    const auto roce = wrap_vxlan(make_frame({}), {.ipv6 = v6});
    const auto arp = wrap_vxlan(make_frame({.ethertype = 0x0806}), {.ipv6 = v6});
    pass_unchanged(roce);
    pass_unchanged(arp);
    const qps_path_stats p = rx_path(v6);
    EXPECT_EQ(p.packets, 2u);
    EXPECT_EQ(p.bytes, roce.size() + arp.size());
    EXPECT_EQ(p.roce_packets, 1u);
    EXPECT_EQ(p.roce_bytes, roce.size());
  }
  EXPECT_EQ(reason_count(QPS_R_RECEIVED), 2u);
  EXPECT_EQ(reason_count(QPS_R_NOT_IP), 2u);  // the inner ARP frames
}

// Frames that are not VXLAN count under their reason and on the interface's "other" path only.
TEST_P(UnderlayRx, RxCountsFramesThatAreNotVxlanAsOther) {
  use(QPS_XDP_RX);
  pass_unchanged(make_frame({}));                                   // RoCEv2 not in VXLAN
  pass_unchanged(wrap_vxlan(make_frame({}), {.dport = 4790}));      // UDP, not the VXLAN port
  pass_unchanged(wrap_vxlan(make_frame({}), {.proto = 6}));         // TCP
  pass_unchanged(make_frame({.ethertype = 0x0806}));                // ARP on the underlay
  pass_unchanged(wrap_vxlan(make_frame({}), {.vlan = true}));       // tagged underlay: counted
  EXPECT_EQ(rx_path(false).packets, 1u);
  EXPECT_EQ(reason_count(QPS_R_NOT_VXLAN), 3u);
  EXPECT_EQ(reason_count(QPS_R_NOT_IP), 1u);
  EXPECT_FALSE(qp(0x123) == std::nullopt);
  const qps_path_stats other = sum_path(bpf_map__fd(skel_->maps.rx_paths), qps_path_key{kLo, QPS_VNI_OTHER, {}});
  EXPECT_EQ(other.packets, 4u);
  EXPECT_EQ(other.roce_packets, 0u);
}

TEST_F(UnderlayXdp, TransitAloneCountsNoPaths) {
  use(QPS_XDP_TRANSIT);
  pass_unchanged(make_frame({.ethertype = 0x0806}));
  pass_unchanged(wrap_vxlan(make_frame({}), {}));
  qps_path_key k{};
  EXPECT_NE(bpf_map_get_next_key(bpf_map__fd(skel_->maps.rx_paths), nullptr, &k), 0) << "rx_paths is not empty";
}

TEST_P(UnderlayRx, PsnsInOrderCountNeitherReorderNorGaps) {
  use(QPS_XDP_RX);
  for (uint32_t psn = 100; psn < 164; psn++) receive(0x42, psn);
  const auto q = qp(0x42);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->packets, 64u);
  EXPECT_EQ(q->reordered, 0u);
  EXPECT_EQ(q->gaps, 0u);
  EXPECT_EQ(q->next_psn, 164u);
  EXPECT_EQ(q->ifindex, kLo);
}

TEST_P(UnderlayRx, ALateFrameIsReorderedAndTheJumpBeforeItAGap) {
  use(QPS_XDP_RX);
  for (uint32_t psn : {0u, 1u, 3u, 2u, 4u}) receive(0x42, psn);
  const auto q = qp(0x42);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->gaps, 1u);       // 3 came when 2 was expected
  EXPECT_EQ(q->reordered, 1u);  // 2 came when 4 was expected
  EXPECT_EQ(q->next_psn, 5u);
}

TEST_P(UnderlayRx, AJumpAheadIsOneGapWhateverItsSize) {
  use(QPS_XDP_RX);
  for (uint32_t psn : {10u, 11u, 500u, 501u, 502u}) receive(0x42, psn);
  const auto q = qp(0x42);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->gaps, 1u);
  EXPECT_EQ(q->reordered, 0u);
  EXPECT_EQ(q->next_psn, 503u);
}

TEST_P(UnderlayRx, PsnsWrapAt2To24InOrder) {
  use(QPS_XDP_RX);
  for (uint32_t psn : {0xfffffdu, 0xfffffeu, 0xffffffu, 0u, 1u}) receive(0x42, psn);
  auto q = qp(0x42);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->reordered, 0u);
  EXPECT_EQ(q->gaps, 0u);
  EXPECT_EQ(q->next_psn, 2u);
  // Across the wrap, a frame from before it is late and one past it is a gap.
  receive(0x43, 0xfffffe);
  receive(0x43, 0x000001);  // 0xffffff and 0 skipped
  receive(0x43, 0xffffff);  // late
  q = qp(0x43);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->gaps, 1u);
  EXPECT_EQ(q->reordered, 1u);
  EXPECT_EQ(q->next_psn, 2u);
}

// Half the PSN space splits "ahead" from "behind": 2^23 - 1 ahead is a gap, 2^23 is behind.
TEST_P(UnderlayRx, HalfThePsnSpaceSeparatesAheadFromBehind) {
  use(QPS_XDP_RX);
  receive(0x42, 0);
  receive(0x42, 0x7fffff + 1);  // exactly 2^23 - 1 ahead of the expected 1
  receive(0x44, 0);
  receive(0x44, 0x800001);      // 2^23 ahead of the expected 1: read as behind
  EXPECT_EQ(qp(0x42)->gaps, 1u);
  EXPECT_EQ(qp(0x42)->reordered, 0u);
  EXPECT_EQ(qp(0x44)->gaps, 0u);
  EXPECT_EQ(qp(0x44)->reordered, 1u);
}

TEST_P(UnderlayRx, AcknowledgementsDoNotMoveTheExpectedPsn) {
  use(QPS_XDP_RX);
  receive(0x42, 5);
  receive(0x42, 900, 0x11);  // RC Acknowledge: its PSN is the acknowledged one
  receive(0x42, 2, 0x81);    // CNP
  receive(0x42, 6);
  const auto q = qp(0x42);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->packets, 4u);
  EXPECT_EQ(q->gaps, 0u);
  EXPECT_EQ(q->reordered, 0u);
}

// Congestion as the fabric signals it: frames a queue marked CE (outer header, IPv4 and IPv6) and
// CNPs, counted per path and per QP, each exactly once.
TEST_P(UnderlayRx, RxCountsCeMarkedFramesAndCnpsPerPathAndQp) {
  use(QPS_XDP_RX);
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "IPv6 underlay" : "IPv4 underlay");
    const uint32_t qpn = v6 ? 0x66 : 0x44;
    pass_unchanged(wrap_vxlan(make_frame({.qpn = qpn, .psn = 1}), {.ipv6 = v6, .ecn = 3}));
    pass_unchanged(wrap_vxlan(make_frame({.qpn = qpn, .psn = 2}), {.ipv6 = v6, .ecn = 2}));  // ECT(0): not marked
    pass_unchanged(wrap_vxlan(make_frame({.qpn = qpn, .psn = 3}), {.ipv6 = v6, .ecn = 3}));
    pass_unchanged(wrap_vxlan(make_frame({.qpn = qpn, .psn = 0, .opcode = 0x81}), {.ipv6 = v6}));
    pass_unchanged(wrap_vxlan(make_frame({.ethertype = 0x0806}), {.ipv6 = v6, .ecn = 3}));  // not RoCE, still CE
    const qps_path_stats p = rx_path(v6);
    EXPECT_EQ(p.packets, 5u);
    EXPECT_EQ(p.ecn_ce, 3u);
    EXPECT_EQ(p.cnp, 1u);
    const auto q = qp(qpn);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->ecn_ce, 2u);
    EXPECT_EQ(q->cnp, 1u);
    EXPECT_EQ(q->gaps, 0u) << "a CNP does not move the PSN";
  }
}

TEST_P(UnderlayRx, RxRoleAloneNeverRewrites) {
  use(QPS_XDP_RX);
  set_mode(QPS_MODE_QP_HASH);
  pass_unchanged(wrap_vxlan(make_frame({}), {.udp_csum = true}));
}

INSTANTIATE_TEST_SUITE_P(Entries, UnderlayRx, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Tc" : "Xdp"; });

// ---- transit role ----

struct TransitCase {
  const char* name;
  OuterDesc outer;
};

TEST_F(UnderlayXdp, TransitSetsTheQpsPortAndKeepsTheChecksumValid) {
  use(QPS_XDP_TRANSIT);
  set_mode(QPS_MODE_QP_HASH);
  const TransitCase cases[] = {{"IPv4, checksum", {.udp_csum = true}},
                               {"IPv6, checksum", {.ipv6 = true, .udp_csum = true}},
                               {"IPv4 tagged, checksum", {.vlan = true, .udp_csum = true}},
                               {"IPv4, zero checksum", {}},
                               {"IPv6, zero checksum", {.ipv6 = true}}};
  for (const auto& c : cases) {
    for (bool inner_v6 : {false, true}) {
      SCOPED_TRACE(std::string(c.name) + (inner_v6 ? ", inner IPv6" : ", inner IPv4"));
      const FrameDesc inner{.ipv6 = inner_v6, .qpn = 0x0abcde};
      const auto in = wrap_vxlan(make_frame(inner), c.outer);
      const RunResult r = pass(in);
      ASSERT_EQ(r.out.size(), in.size());
      const size_t udp = outer_udp_offset(c.outer);
      const uint16_t want = qp_hash_port(inner, kPortMin, kPortCount);
      EXPECT_EQ(r.out[udp] << 8 | r.out[udp + 1], want);
      for (size_t i = 0; i < in.size(); i++) {
        if (i == udp || i == udp + 1 || i == udp + 6 || i == udp + 7) continue;
        ASSERT_EQ(r.out[i], in[i]) << "byte " << i << " changed";
      }
      if (c.outer.udp_csum) {
        EXPECT_EQ(outer_udp_csum_ok(r.out, c.outer), std::optional<bool>(true));
      } else {
        EXPECT_EQ(r.out[udp + 6], 0);
        EXPECT_EQ(r.out[udp + 7], 0);
      }
    }
  }
  EXPECT_EQ(reason_count(QPS_R_STEERED), 10u);
}

// Mode balance at a transit node: the outer port becomes the QP's assigned one (after the idle
// gap), the checksum stays valid, nothing else changes.
TEST_F(UnderlayXdp, TransitInBalanceSetsTheAssignedPortAfterTheGap) {
  use(QPS_XDP_TRANSIT);
  qps_vni_cfg c{QPS_MODE_BALANCE, 100'000, coarse_clock_res_ns()};
  ASSERT_EQ(bpf_map__update_elem(skel_->maps.vni_mode, &kVni, sizeof(kVni), &c, sizeof(c), BPF_ANY), 0);
  const FrameDesc inner{.qpn = 0x0abcde};
  const OuterDesc outer{.udp_csum = true};
  const size_t udp = outer_udp_offset(outer);
  auto port_of = [&](const RunResult& r) { return static_cast<uint16_t>(r.out[udp] << 8 | r.out[udp + 1]); };
  const auto in = wrap_vxlan(make_frame(inner), outer);
  const uint16_t hash_port = qp_hash_port(inner, kPortMin, kPortCount);
  EXPECT_EQ(port_of(pass(in)), hash_port) << "no assignment: the qp-hash port";
  qps_qp_key key{kVni, inner.qpn};
  qps_qp_assign a{static_cast<uint16_t>(hash_port == 40000 ? 40001 : 40000), {}};
  ASSERT_EQ(bpf_map__update_elem(skel_->maps.qp_assign, &key, sizeof(key), &a, sizeof(a), BPF_ANY), 0);
  const uint32_t zero = 0;
  const uint64_t gen = 1;  // as userspace moves it after its writes
  ASSERT_EQ(bpf_map__update_elem(skel_->maps.qp_assign_gen, &zero, sizeof(zero), &gen, sizeof(gen), BPF_ANY), 0);
  EXPECT_EQ(port_of(pass(in)), hash_port) << "at once: held for the gap";
  EXPECT_EQ(reason_count(QPS_R_MOVE_HELD), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const RunResult r = pass(in);
  EXPECT_EQ(port_of(r), a.sport) << "idle 150 ms: the assigned port";
  EXPECT_EQ(outer_udp_csum_ok(r.out, outer), std::optional<bool>(true));
  for (size_t i = 0; i < in.size(); i++) {
    if (i == udp || i == udp + 1 || i == udp + 6 || i == udp + 7) continue;
    ASSERT_EQ(r.out[i], in[i]) << "byte " << i << " changed";
  }
  EXPECT_EQ(reason_count(QPS_R_BALANCED), 2u);
}

// 65 536 frames whose outer data sums differ (the VXLAN-GBP group varies; the inner UDP checksum
// would cancel any inner change) and whose original ports differ, so the
// update meets every checksum value, including the one where the arithmetic yields 0x0000 and UDP
// must send 0xffff instead.
TEST_F(UnderlayXdp, TransitChecksumIsValidForEverySum) {
  use(QPS_XDP_TRANSIT);
  set_mode(QPS_MODE_QP_HASH);
  const OuterDesc base{.udp_csum = true};
  const size_t udp = outer_udp_offset(base);
  int bad = 0, all_ones = 0;
  const auto inner = make_frame({.qpn = 0x000777});
  for (uint32_t group = 0; group <= 0xffff; group++) {
    OuterDesc o = base;
    o.group_policy_id = static_cast<uint16_t>(group);
    o.sport = static_cast<uint16_t>(group * 7919u);
    const RunResult r = pass(wrap_vxlan(inner, o));
    if (outer_udp_csum_ok(r.out, o) != std::optional<bool>(true)) bad++;
    if (r.out[udp + 6] == 0xff && r.out[udp + 7] == 0xff) all_ones++;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_GT(all_ones, 0) << "no frame led to the all-ones checksum";
}

TEST_F(UnderlayXdp, TransitLeavesFramesAloneWhenModeIsOffOrNotRoce) {
  use(QPS_XDP_TRANSIT);
  const OuterDesc o{.udp_csum = true};
  pass_unchanged(wrap_vxlan(make_frame({}), o));  // no mode entry: off
  set_mode(QPS_MODE_OFF);
  pass_unchanged(wrap_vxlan(make_frame({}), o));
  EXPECT_EQ(reason_count(QPS_R_MODE_OFF), 2u);
  set_mode(QPS_MODE_QP_HASH);
  pass_unchanged(wrap_vxlan(make_frame({.dport = 4792}), o));        // UDP, not RoCEv2
  pass_unchanged(wrap_vxlan(make_frame({.ethertype = 0x0806}), o));  // ARP
  pass_unchanged(wrap_vxlan(make_frame({}), {.vni = 200, .udp_csum = true}));  // another VNI: off
  pass_unchanged(make_frame({}));                                    // not VXLAN
  EXPECT_EQ(reason_count(QPS_R_NOT_ROCE), 1u);
  EXPECT_EQ(reason_count(QPS_R_STEERED), 0u);
}

TEST_F(UnderlayXdp, TransitKeepsAPortThatIsAlreadyTheQps) {
  use(QPS_XDP_TRANSIT);
  set_mode(QPS_MODE_QP_HASH);
  const FrameDesc inner{};
  pass_unchanged(wrap_vxlan(make_frame(inner), {.sport = qp_hash_port(inner, kPortMin, kPortCount), .udp_csum = true}));
  EXPECT_EQ(reason_count(QPS_R_PORT_KEPT), 1u);
}

TEST_F(UnderlayXdp, BothRolesRewriteAndCount) {
  use(QPS_XDP_RX | QPS_XDP_TRANSIT);
  set_mode(QPS_MODE_QP_HASH);
  const RunResult r = pass(wrap_vxlan(make_frame({}), {.udp_csum = true}));
  EXPECT_EQ(outer_udp_csum_ok(r.out, {.udp_csum = true}), std::optional<bool>(true));
  EXPECT_EQ(rx_path(false).roce_packets, 1u);
  ASSERT_TRUE(qp(0x123));
}

}  // namespace
}  // namespace qpspread::test
