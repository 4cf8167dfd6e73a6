// Packet fixtures for the tc program, run through BPF_PROG_TEST_RUN (Katran style): each has an
// input frame and the expected reason. Every run must return TC_ACT_UNSPEC, leave every byte as it
// was, count exactly one reason, and, for steered frames, set the mark and record the predicted
// outer port in qp_stats.
//
// The skb hash itself is not visible here: BPF_PROG_TEST_RUN does not copy it back, and this
// kernel refuses fentry/fexit programs (EPERM even for root), so a probe behind the program cannot
// read it. flow_hash_test checks the hash-to-port mapping against the kernel's formula, and the e2e
// spread test checks the outer ports a real VXLAN device sends.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loader/pinned_maps.h"
#include "qpspread/abi.h"
#include "qpspread/flow_hash.h"
#include "tests/bpf/prog_run.h"
#include "tests/bpf/test_frames.h"
#include "vxlan_egress.skel.h"

namespace qpspread::test {
namespace {

constexpr uint32_t kVni = 100, kMark = 0x5150;
constexpr uint16_t kPortMin = 32768, kPortCount = 28231;  // srcport 0 0: 32768..60998
// BPF_PROG_TEST_RUN takes tc frames of at most one page minus skb head- and tailroom: 3712 bytes
// with 4 KiB pages (Linux 6.18), so a 9000-byte jumbo frame cannot be a fixture.
constexpr size_t kLargestTestRunFrame = 3712;

struct Fixture {
  std::string name;
  FrameDesc frame;
  qps_reason reason;
  uint32_t mark_in = 0;  // skb->mark before the program (an operator's fwmark)
};

FrameDesc roce() { return FrameDesc{}; }
FrameDesc with(FrameDesc d, const std::function<void(FrameDesc&)>& f) {
  f(d);
  return d;
}

uint16_t predicted_port(const FrameDesc& d) { return qp_hash_port(d, kPortMin, kPortCount); }

class VxlanEgress : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
    load(kPortCount);
  }

  // A program instance as attach loads it for a device with this many source ports, its VNI in
  // this mode (the instance's read-only config; the vni_mode map is the transit program's), in a
  // namespace without uplink programs (so it counts per QP itself).
  void load(uint16_t port_count, qps_vni_cfg mode = {QPS_MODE_QP_HASH, QPS_DEFAULT_FLOWLET_GAP_US, 0},
            bool count_qps = true) {
    skel_.reset(vxlan_egress__open());
    ASSERT_TRUE(skel_);
    mode.coarse_res_ns = coarse_clock_res_ns();
    skel_->rodata->qps_dev = {kVni, kMark, kPortMin, port_count, count_qps, {}, mode};
    ASSERT_EQ(vxlan_egress__load(skel_.get()), 0);
  }

  int prog_fd() const { return bpf_program__fd(skel_->progs.qps_vxlan_egress); }

  // As `qpspread mode` does: a new instance loaded with the mode.
  void set_mode(qps_mode mode) { load(kPortCount, {mode, QPS_DEFAULT_FLOWLET_GAP_US, 0}); }
  void set_balance(uint32_t gap_us) { load(kPortCount, {QPS_MODE_BALANCE, gap_us, 0}); }

  void assign(uint32_t qpn, uint16_t port) {
    qps_qp_key key{kVni, qpn};
    qps_qp_assign a{port, {}};
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.qp_assign, &key, sizeof(key), &a, sizeof(a), BPF_ANY), 0);
    assignments_changed();
  }
  // Past a gap of 0: the coarse clock's resolution twice (the datapath waits the gap plus one).
  static void past_the_gap() { std::this_thread::sleep_for(std::chrono::nanoseconds(2 * coarse_clock_res_ns() + 1'000'000)); }
  // As userspace does after changing qp_assign (PinnedMaps::assignments_changed).
  void assignments_changed() {
    const uint32_t zero = 0;
    uint64_t gen = 0;
    ASSERT_EQ(bpf_map__lookup_elem(skel_->maps.qp_assign_gen, &zero, sizeof(zero), &gen, sizeof(gen), 0), 0);
    gen++;
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.qp_assign_gen, &zero, sizeof(zero), &gen, sizeof(gen), BPF_ANY), 0);
  }
  std::optional<qps_qp_flowlet> flowlet(uint32_t qpn) {
    qps_qp_key key{kVni, qpn};
    qps_qp_flowlet f{};
    if (bpf_map__lookup_elem(skel_->maps.qp_flowlet, &key, sizeof(key), &f, sizeof(f), 0) != 0) return std::nullopt;
    return f;
  }
  // One RoCEv2 frame of QP qpn through the program: the reason it was counted under and the outer
  // port it recorded for the QP (the port the driver derives from the hash it set).
  std::pair<qps_reason, uint16_t> send_qp(uint32_t qpn) {
    const std::vector<uint8_t> in = make_frame(with(roce(), [&](auto& d) { d.qpn = qpn; }));
    const auto before = reasons();
    forget_qp(qpn);
    RunResult r = run_tc_prog(prog_fd(), in, 0);
    EXPECT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, static_cast<uint32_t>(TC_ACT_UNSPEC));
    EXPECT_EQ(r.out, in) << "packet changed";
    EXPECT_EQ(r.mark, kMark) << "the route cache must be skipped for a chosen port too";
    const auto after = reasons();
    qps_reason reason = QPS_R__MAX;
    for (uint32_t i = 0; i < QPS_R__MAX; i++)
      if (after[i].packets != before[i].packets) reason = static_cast<qps_reason>(i);
    const auto q = qp(qpn);
    return {reason, q ? q->sport : 0};
  }

  // Every reason's counters, summed over CPUs.
  std::vector<qps_reason_stats> reasons() {
    std::vector<qps_reason_stats> sums(QPS_R__MAX);
    std::vector<qps_reason_stats> v(static_cast<size_t>(libbpf_num_possible_cpus()));
    for (uint32_t r = 0; r < QPS_R__MAX; r++) {
      EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel_->maps.reasons), &r, v.data()), 0);
      sums[r] = sum_cpus<qps_reason_stats>(v);
    }
    return sums;
  }

  // A QP's counters summed over CPUs, as `qpspread stats` shows them.
  std::optional<qps_qp_stats> qp(uint32_t qpn) {
    qps_qp_key key{kVni, qpn};
    std::vector<qps_qp_stats> v(static_cast<size_t>(libbpf_num_possible_cpus()));
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.qp_stats), &key, v.data()) != 0) return std::nullopt;
    return sum_cpus<qps_qp_stats>(v);
  }

  void forget_qp(uint32_t qpn) {
    qps_qp_key key{kVni, qpn};
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.qp_stats), &key);
  }

  // Runs one fixture and checks everything that must hold for it.
  void check(const Fixture& fx) {
    SCOPED_TRACE(fx.name);
    const std::vector<uint8_t> in = make_frame(fx.frame);
    const auto before = reasons();
    forget_qp(fx.frame.qpn);  // so the entry afterwards is this run's alone

    RunResult r = run_tc_prog(prog_fd(), in, fx.mark_in);
    ASSERT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN refused a " << in.size() << "-byte frame";
    EXPECT_EQ(r.retval, static_cast<uint32_t>(TC_ACT_UNSPEC));
    EXPECT_EQ(r.out, in) << "packet changed\n in:\n" << hex(in) << "\nout:\n" << hex(r.out);

    const auto after = reasons();
    for (uint32_t i = 0; i < QPS_R__MAX; i++) {
      const bool ours = i == static_cast<uint32_t>(fx.reason);
      EXPECT_EQ(after[i].packets - before[i].packets, ours ? 1u : 0u) << "packets of reason " << reason_name(i);
      EXPECT_EQ(after[i].bytes - before[i].bytes, ours ? in.size() : 0u) << "bytes of reason " << reason_name(i);
    }

    const bool steered = fx.reason == QPS_R_STEERED;
    const bool roce = steered || fx.reason == QPS_R_MODE_OFF;
    const uint16_t port = steered ? predicted_port(fx.frame) : 0;
    EXPECT_EQ(r.mark, steered && !fx.mark_in ? kMark : fx.mark_in) << "skb mark";
    const auto q = qp(fx.frame.qpn);
    if (roce) {
      ASSERT_TRUE(q) << "no qp_stats entry for QP " << fx.frame.qpn;
      EXPECT_EQ(q->packets, 1u);
      EXPECT_EQ(q->bytes, in.size());
      EXPECT_EQ(q->sport, port) << "outer port recorded for QP " << fx.frame.qpn;
    } else {
      EXPECT_FALSE(q) << "a frame that is not RoCEv2 created a qp_stats entry";
    }
  }

  void check_all(const std::vector<Fixture>& fixtures) {
    for (const auto& fx : fixtures) check(fx);
  }

  std::unique_ptr<vxlan_egress, decltype(&vxlan_egress__destroy)> skel_{nullptr, vxlan_egress__destroy};
};

TEST_F(VxlanEgress, SteersRoceV2InEveryEncapsulation) {
  check_all({
      {"IPv4 RoCEv2", roce(), QPS_R_STEERED},
      {"IPv6 RoCEv2", with(roce(), [](auto& d) { d.ipv6 = true; }), QPS_R_STEERED},
      {"802.1Q VLAN", with(roce(), [](auto& d) { d.vlan_tpids = {0x8100}; }), QPS_R_STEERED},
      {"IPv6 in 802.1Q", with(roce(), [](auto& d) { d.vlan_tpids = {0x8100}; d.ipv6 = true; }), QPS_R_STEERED},
      {"QinQ 802.1ad + 802.1Q", with(roce(), [](auto& d) { d.vlan_tpids = {0x88a8, 0x8100}; }), QPS_R_STEERED},
      {"IPv6 in QinQ", with(roce(), [](auto& d) { d.vlan_tpids = {0x88a8, 0x8100}; d.ipv6 = true; }), QPS_R_STEERED},
      {"two 802.1Q tags", with(roce(), [](auto& d) { d.vlan_tpids = {0x8100, 0x8100}; }), QPS_R_STEERED},
      {"IPv4 options in QinQ", with(roce(), [](auto& d) { d.vlan_tpids = {0x88a8, 0x8100}; d.ipv4_option_words = 10; }),
       QPS_R_STEERED},
      {"QP 0", with(roce(), [](auto& d) { d.qpn = 0; }), QPS_R_STEERED},
      {"QP 0xffffff", with(roce(), [](auto& d) { d.qpn = 0xffffff; }), QPS_R_STEERED},
      {"no payload, BTH only", with(roce(), [](auto& d) { d.payload = 0; }), QPS_R_STEERED},
      {"largest frame the test run takes", with(roce(), [](auto& d) { d.payload = kLargestTestRunFrame - 14 - 20 - 8 - 12; }),
       QPS_R_STEERED},
      {"largest IPv6 frame", with(roce(), [](auto& d) { d.ipv6 = true; d.payload = kLargestTestRunFrame - 14 - 40 - 8 - 12; }),
       QPS_R_STEERED},
  });
}

TEST_F(VxlanEgress, SteersIpv4WithEveryOptionLength) {
  for (int words = 1; words <= 10; words++)  // IHL 6 .. 15
    check({"IPv4 IHL " + std::to_string(5 + words), with(roce(), [words](auto& d) { d.ipv4_option_words = words; }),
           QPS_R_STEERED});
}

TEST_F(VxlanEgress, CountsWhatItDoesNotSteerUnderItsReason) {
  check_all({
      {"three VLAN tags", with(roce(), [](auto& d) { d.vlan_tpids = {0x88a8, 0x8100, 0x8100}; }), QPS_R_VLAN_DEPTH},
      {"IPv4 IHL 4", with(roce(), [](auto& d) { d.ihl = 4; }), QPS_R_BAD_IP_HEADER},
      {"IPv4 IHL 0", with(roce(), [](auto& d) { d.ihl = 0; }), QPS_R_BAD_IP_HEADER},
      {"IPv4 total length below IHL", with(roce(), [](auto& d) { d.ipv4_tot_len = 19; }), QPS_R_BAD_IP_HEADER},
      {"IPv4 first fragment (MF)", with(roce(), [](auto& d) { d.frag_off = 0x2000; }), QPS_R_FRAGMENT},
      {"IPv4 middle fragment", with(roce(), [](auto& d) { d.frag_off = 0x2000 | 0x00b9; }), QPS_R_FRAGMENT},
      {"IPv4 last fragment", with(roce(), [](auto& d) { d.frag_off = 0x00b9; }), QPS_R_FRAGMENT},
      {"IPv6 fragment header", with(roce(), [](auto& d) { d.ipv6 = true; d.ipv6_ext = 44; }), QPS_R_FRAGMENT},
      {"IPv6 hop-by-hop", with(roce(), [](auto& d) { d.ipv6 = true; d.ipv6_ext = 0; }), QPS_R_IPV6_EXT},
      {"IPv6 routing header", with(roce(), [](auto& d) { d.ipv6 = true; d.ipv6_ext = 43; }), QPS_R_IPV6_EXT},
      {"IPv6 destination options", with(roce(), [](auto& d) { d.ipv6 = true; d.ipv6_ext = 60; }), QPS_R_IPV6_EXT},
      {"UDP to another port", with(roce(), [](auto& d) { d.dport = 53; }), QPS_R_NOT_ROCE},
      {"RoCEv2 port as source only", with(roce(), [](auto& d) { d.sport = 4791; d.dport = 9999; }), QPS_R_NOT_ROCE},
      {"IPv6 UDP to another port", with(roce(), [](auto& d) { d.ipv6 = true; d.dport = 4789; }), QPS_R_NOT_ROCE},
      {"TCP", with(roce(), [](auto& d) { d.l4_proto = 6; }), QPS_R_NOT_UDP},
      {"IPv6 ICMPv6", with(roce(), [](auto& d) { d.ipv6 = true; d.l4_proto = 58; }), QPS_R_NOT_UDP},
      {"ARP", with(roce(), [](auto& d) { d.ethertype = 0x0806; }), QPS_R_NOT_IP},
      {"LLDP", with(roce(), [](auto& d) { d.ethertype = 0x88cc; }), QPS_R_NOT_IP},
      {"ARP in 802.1Q", with(roce(), [](auto& d) { d.vlan_tpids = {0x8100}; d.ethertype = 0x0806; }), QPS_R_NOT_IP},
  });
}

// The kernel checks the IP header of an untagged test frame itself (IPv4 under 34 bytes and IPv6
// under 54 are refused), so headers cut short are reached behind a VLAN tag.
TEST_F(VxlanEgress, HeadersCutShortAreTruncated) {
  const FrameDesc tagged = with(roce(), [](auto& d) { d.vlan_tpids = {0x8100}; });
  check_all({
      {"Ethernet header only, VLAN TPID", with(tagged, [](auto& d) { d.cut_at = 14; }), QPS_R_TRUNCATED},
      {"VLAN tag cut", with(tagged, [](auto& d) { d.cut_at = 16; }), QPS_R_TRUNCATED},
      {"second VLAN tag cut", with(roce(), [](auto& d) { d.vlan_tpids = {0x88a8, 0x8100}; d.cut_at = 20; }),
       QPS_R_TRUNCATED},
      {"Ethernet + VLAN, no IPv4 header", with(tagged, [](auto& d) { d.cut_at = 18; }), QPS_R_TRUNCATED},
      {"IPv4 header cut after 19 bytes", with(tagged, [](auto& d) { d.cut_at = 18 + 19; }), QPS_R_TRUNCATED},
      {"IPv6 header cut after 39 bytes", with(tagged, [](auto& d) { d.ipv6 = true; d.cut_at = 18 + 39; }),
       QPS_R_TRUNCATED},
      {"IPv4 options cut", with(tagged, [](auto& d) { d.ipv4_option_words = 4; d.cut_at = 18 + 30; }), QPS_R_TRUNCATED},
      {"UDP header cut after 7 bytes", with(roce(), [](auto& d) { d.cut_at = 14 + 20 + 7; }), QPS_R_TRUNCATED},
      {"IPv6 UDP header cut", with(roce(), [](auto& d) { d.ipv6 = true; d.cut_at = 14 + 40 + 4; }), QPS_R_TRUNCATED},
      {"IPv4 length leaves no room for UDP", with(roce(), [](auto& d) { d.ipv4_tot_len = 20 + 7; }), QPS_R_TRUNCATED},
  });
}

// Twelve cut points, each reached three ways: the frame ends there, or the IP and/or UDP length
// fields say the datagram ends there while Ethernet padding follows (a short frame padded to 60
// bytes must not pass its padding off as the rest of a BTH).
TEST_F(VxlanEgress, BthCutShortAtEveryByteIsTruncated) {
  using Claim = FrameDesc::Claim;
  const std::pair<Claim, const char*> claims[] = {{Claim::both, "IP and UDP lengths"},
                                                  {Claim::ip, "IP length"},
                                                  {Claim::udp, "UDP length"}};
  for (size_t k = 0; k < QPS_BTH_LEN; k++) {
    for (bool v6 : {false, true}) {
      const std::string fam = v6 ? "IPv6 " : "IPv4 ";
      check({fam + "frame ends after " + std::to_string(k) + " BTH bytes",
             with(roce(), [&](auto& d) { d.ipv6 = v6; d.bth_bytes = k; }), QPS_R_TRUNCATED});
      for (const auto& claim : claims) {
        const auto by = claim.first;  // a plain variable: clang 14 cannot capture a binding
        check({fam + claim.second + " claim " + std::to_string(k) + " BTH bytes, padding follows",
               with(roce(), [&](auto& d) { d.ipv6 = v6; d.claimed_bth = k; d.claimed_by = by; }), QPS_R_TRUNCATED});
      }
    }
  }
}

TEST_F(VxlanEgress, ModeOffCountsTheQpButLeavesHashAndMark) {
  set_mode(QPS_MODE_OFF);
  check({"IPv4 RoCEv2, mode off", roce(), QPS_R_MODE_OFF});
  check({"IPv6 RoCEv2, mode off", with(roce(), [](auto& d) { d.ipv6 = true; }), QPS_R_MODE_OFF});
}

// The VTEP program's mode is its instance's: it never reads the vni_mode map (one lookup less per
// frame), whatever that map says for its VNI.
TEST_F(VxlanEgress, TheModeIsTheInstancesNotTheMapEntrys) {
  set_mode(QPS_MODE_OFF);
  const qps_vni_cfg on{QPS_MODE_QP_HASH, 0, 0};
  ASSERT_EQ(bpf_map__update_elem(skel_->maps.vni_mode, &kVni, sizeof(kVni), &on, sizeof(on), BPF_ANY), 0);
  check({"IPv4 RoCEv2, instance off, map entry qp-hash", roce(), QPS_R_MODE_OFF});
  set_mode(QPS_MODE_QP_HASH);
  check({"IPv4 RoCEv2, instance qp-hash, no map entry", roce(), QPS_R_STEERED});
}

// Where uplink programs count the QPs, the VTEP program steers just the same and counts the frame
// under its reason, but leaves the QP's counters to them.
TEST_F(VxlanEgress, WithUplinkProgramsItCountsNoQp) {
  load(kPortCount, {QPS_MODE_QP_HASH, QPS_DEFAULT_FLOWLET_GAP_US, 0}, false);
  const std::vector<uint8_t> in = make_frame(roce());
  const RunResult r = run_tc_prog(prog_fd(), in, 0);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, static_cast<uint32_t>(TC_ACT_UNSPEC));
  EXPECT_EQ(r.out, in);
  EXPECT_EQ(r.mark, kMark);
  EXPECT_EQ(reasons()[QPS_R_STEERED].packets, 1u);
  EXPECT_FALSE(qp(FrameDesc{}.qpn)) << "the QP has no entry";
}

// An instance loaded without a port range (no device config) must not steer into port_min + 0.
TEST_F(VxlanEgress, InstanceWithoutPortRangeDoesNotSteer) {
  load(0);
  check({"IPv4 RoCEv2, port_count 0", roce(), QPS_R_MODE_OFF});
}

TEST_F(VxlanEgress, AnOperatorsMarkIsKept) {
  check({"IPv4 RoCEv2 with mark 7", roce(), QPS_R_STEERED, 7});
  check({"UDP:53 with mark 7", with(roce(), [](auto& d) { d.dport = 53; }), QPS_R_NOT_ROCE, 7});
  set_mode(QPS_MODE_OFF);
  check({"IPv4 RoCEv2 with mark 7, mode off", roce(), QPS_R_MODE_OFF, 7});
}

// ---- mode balance ----

// A QP without an assigned port keeps the port qp-hash gives it, from its first frame on.
TEST_F(VxlanEgress, BalanceWithoutAnAssignmentUsesTheQpHashPort) {
  set_balance(50'000);
  const uint32_t qpn = 0x000123;
  const auto [reason, port] = send_qp(qpn);
  EXPECT_EQ(reason, QPS_R_BALANCED);
  EXPECT_EQ(port, predicted_port(with(roce(), [&](auto& d) { d.qpn = qpn; })));
  ASSERT_TRUE(flowlet(qpn));
  EXPECT_EQ(flowlet(qpn)->sport, port);
  EXPECT_EQ(flowlet(qpn)->moves, 0u);
}

// A new QP that already has an assignment leaves with it from its first frame.
TEST_F(VxlanEgress, ANewQpTakesItsAssignedPortAtOnce) {
  set_balance(50'000);
  assign(0x000200, 40000);
  EXPECT_EQ(send_qp(0x000200), std::make_pair(QPS_R_BALANCED, uint16_t{40000}));
}

// A changed assignment waits until the QP has been idle for the gap: frames sent meanwhile keep the
// old port (and each restarts the wait), so none can overtake another on a faster path.
TEST_F(VxlanEgress, AnAssignedPortIsTakenOnlyAfterTheIdleGap) {
  set_balance(100'000);  // 100 ms
  const uint32_t qpn = 0x000124;
  const uint16_t first = send_qp(qpn).second;
  const uint16_t next = first == 40000 ? 40001 : 40000;
  assign(qpn, next);
  EXPECT_EQ(send_qp(qpn), std::make_pair(QPS_R_MOVE_HELD, first)) << "sent at once: held";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(send_qp(qpn), std::make_pair(QPS_R_MOVE_HELD, first)) << "50 ms after the last frame: still held";
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(send_qp(qpn), std::make_pair(QPS_R_BALANCED, next)) << "idle 150 ms: moved";
  EXPECT_EQ(send_qp(qpn), std::make_pair(QPS_R_BALANCED, next));
  EXPECT_EQ(flowlet(qpn)->moves, 1u);
}

// A port outside the device's source-port range is never sent (the driver could not produce it):
// the QP keeps its qp-hash port. Taking the assignment back returns the QP to that port too.
TEST_F(VxlanEgress, AnAssignmentOutsideTheRangeOrRemovedFallsBackToTheQpHashPort) {
  set_balance(0);
  const uint32_t qpn = 0x000125;
  const uint16_t hash_port = predicted_port(with(roce(), [&](auto& d) { d.qpn = qpn; }));
  assign(qpn, kPortMin - 1);
  EXPECT_EQ(send_qp(qpn), std::make_pair(QPS_R_BALANCED, hash_port));
  assign(qpn, 50000);
  past_the_gap();
  EXPECT_EQ(send_qp(qpn), std::make_pair(QPS_R_BALANCED, uint16_t{50000}));
  qps_qp_key key{kVni, qpn};
  ASSERT_EQ(bpf_map__delete_elem(skel_->maps.qp_assign, &key, sizeof(key), 0), 0);
  assignments_changed();
  past_the_gap();
  EXPECT_EQ(send_qp(qpn), std::make_pair(QPS_R_BALANCED, hash_port));
  EXPECT_EQ(flowlet(qpn)->moves, 2u);
}

// The gap is timed with the coarse clock and widened by its resolution: a move is held while the
// QP sends (10 ms gap), and taken once it was idle for the gap plus two ticks.
TEST_F(VxlanEgress, AMoveWaitsTheGapPlusTheCoarseClocksResolution) {
  set_balance(10'000);
  ASSERT_GT(coarse_clock_res_ns(), 0u);
  const uint32_t qpn = 0x000127;
  const uint16_t first = send_qp(qpn).second;
  const uint16_t next = first == 40000 ? 40001 : 40000;
  assign(qpn, next);
  EXPECT_EQ(send_qp(qpn), std::make_pair(QPS_R_MOVE_HELD, first)) << "sent at once";
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  past_the_gap();
  EXPECT_EQ(send_qp(qpn), std::make_pair(QPS_R_BALANCED, next));
}

// The assignment is read again only when qp_assign_gen moved: a change written without moving it
// is not seen, one after it is (userspace's assign_ports always moves it after its writes).
TEST_F(VxlanEgress, AnAssignmentIsReadAgainOnlyWhenTheGenerationMoves) {
  set_balance(0);
  const uint32_t qpn = 0x000126;
  assign(qpn, 40000);
  EXPECT_EQ(send_qp(qpn).second, 40000);
  qps_qp_key key{kVni, qpn};
  qps_qp_assign a{40001, {}};
  ASSERT_EQ(bpf_map__update_elem(skel_->maps.qp_assign, &key, sizeof(key), &a, sizeof(a), BPF_ANY), 0);
  EXPECT_EQ(send_qp(qpn).second, 40000) << "the generation did not move";
  past_the_gap();
  EXPECT_EQ(send_qp(qpn).second, 40000) << "the generation did not move";
  assignments_changed();
  past_the_gap();
  EXPECT_EQ(send_qp(qpn).second, 40001);
  EXPECT_EQ(flowlet(qpn)->hash, qps_hash_for_port(40001, kPortMin, kPortCount)) << "the steering hash kept with the port";
}

// The program hashes the same words as the C++ side for every QP (address word order, the 24 QP
// bits), so sequential QPs get the predicted, and mostly different, ports.
TEST_F(VxlanEgress, EverySequentialQpGetsItsPredictedPort) {
  std::set<uint16_t> ports;
  for (uint32_t qpn = 0x100; qpn < 0x100 + 256; qpn++) {
    for (bool v6 : {false, true}) {
      const FrameDesc d = with(roce(), [&](auto& f) { f.qpn = qpn; f.ipv6 = v6; });
      check({(v6 ? "IPv6 QP " : "IPv4 QP ") + std::to_string(qpn), d, QPS_R_STEERED});
      ports.insert(predicted_port(d));
      if (HasFailure()) return;
    }
  }
  EXPECT_GT(ports.size(), 500u) << "512 flows should land on (nearly) 512 different ports";
}

// Frames the test run cannot deliver are not fixtures; should a kernel deliver them, they must
// still be classified right.
TEST_F(VxlanEgress, FramesOutsideTheTestRunLimitsAreRefusedOrClassified) {
  struct Case {
    std::string name;
    std::vector<uint8_t> frame;
    qps_reason reason;
  };
  const std::vector<Case> cases = {
      {"13 bytes, shorter than Ethernet", std::vector<uint8_t>(13, 0), QPS_R_TRUNCATED},
      {"IPv4 header cut after 10 bytes", make_frame(with(roce(), [](auto& d) { d.cut_at = 24; })), QPS_R_TRUNCATED},
      {"9000-byte jumbo RoCEv2", make_frame(with(roce(), [](auto& d) { d.payload = 9000 - 14 - 20 - 8 - 12; })),
       QPS_R_STEERED},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto before = reasons();
    RunResult r = run_tc_prog(prog_fd(), c.frame);
    if (r.err == -EINVAL) {
      EXPECT_EQ(reasons()[c.reason].packets, before[c.reason].packets);
      continue;
    }
    ASSERT_EQ(r.err, 0);
    EXPECT_EQ(r.out, c.frame);
    EXPECT_EQ(reasons()[c.reason].packets, before[c.reason].packets + 1);
  }
}

// The frames themselves: valid IPv4 header and UDP checksums, as a host would send them.
TEST(TestFrames, CarryValidChecksums) {
  auto sum = [](const std::vector<uint8_t>& f, size_t at, size_t n, uint32_t s) {
    for (size_t i = 0; i < n; i += 2) s += static_cast<uint32_t>(f[at + i] << 8 | (i + 1 < n ? f[at + i + 1] : 0));
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s;
  };
  for (bool v6 : {false, true}) {
    for (int opt : {0, 3}) {
      const auto f = make_frame(with(roce(), [&](auto& d) { d.ipv6 = v6; d.ipv4_option_words = v6 ? 0 : opt; }));
      const size_t ip = 14, hl = v6 ? 40 : 20 + 4 * static_cast<size_t>(opt), udp = ip + hl;
      const size_t udp_len = static_cast<size_t>(f[udp + 4] << 8 | f[udp + 5]);
      if (!v6) {
        EXPECT_EQ(sum(f, ip, hl, 0), 0xffffu) << "IPv4 header checksum";
      }
      uint32_t pseudo = v6 ? sum(f, ip + 8, 32, 0) : sum(f, ip + 12, 8, 0);
      pseudo += 17 + static_cast<uint32_t>(udp_len);
      EXPECT_EQ(sum(f, udp, udp_len, pseudo), 0xffffu) << (v6 ? "IPv6" : "IPv4") << " UDP checksum";
    }
  }
}

}  // namespace
}  // namespace qpspread::test
