// Packet fixtures for the tc program, run through BPF_PROG_TEST_RUN (Katran style): each has an
// input frame and the expected reason; every run must return TC_ACT_UNSPEC, leave every byte as it
// was, count exactly one reason, and, for steered frames, set the mark and pick the predicted port.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

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

struct Fixture {
  std::string name;
  FrameDesc frame;
  qps_reason reason;
};

class VxlanEgress : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
    skel_.reset(vxlan_egress__open());
    ASSERT_TRUE(skel_);
    skel_->rodata->qps_dev.vni = kVni;
    skel_->rodata->qps_dev.mark = kMark;
    skel_->rodata->qps_dev.port_min = kPortMin;
    skel_->rodata->qps_dev.port_count = kPortCount;
    ASSERT_EQ(vxlan_egress__load(skel_.get()), 0);
    set_mode(QPS_MODE_QP_HASH);
  }

  void set_mode(uint32_t mode) {
    qps_vni_cfg c{mode, 0};
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.vni_mode, &kVni, sizeof(kVni), &c, sizeof(c), BPF_ANY), 0);
  }

  uint64_t reason_count(uint32_t reason) {
    std::vector<qps_reason_stats> v(static_cast<size_t>(libbpf_num_possible_cpus()));
    EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel_->maps.reasons), &reason, v.data()), 0);
    uint64_t n = 0;
    for (const auto& s : v) n += s.packets;
    return n;
  }

  // Packets and the last outer port of a QP; packets 0 when the QP has no entry.
  qps_qp_stats qp(uint32_t qpn) {
    qps_qp_key key{kVni, qpn};
    std::vector<qps_qp_stats> v(static_cast<size_t>(libbpf_num_possible_cpus()));
    qps_qp_stats sum{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.qp_stats), &key, v.data()) != 0) return sum;
    for (const auto& s : v) {
      sum.packets += s.packets;
      if (s.sport) sum.sport = s.sport;
    }
    return sum;
  }

  // Runs one fixture and checks everything that must hold for it.
  void check(const Fixture& fx, uint32_t mark_in = 0) {
    SCOPED_TRACE(fx.name);
    const std::vector<uint8_t> in = make_frame(fx.frame);
    const uint64_t before = reason_count(fx.reason);
    const uint64_t qp_before = qp(fx.frame.qpn).packets;
    RunResult r = run_tc_prog(bpf_program__fd(skel_->progs.qps_vxlan_egress), in, mark_in);
    ASSERT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, static_cast<uint32_t>(TC_ACT_UNSPEC));
    EXPECT_EQ(r.out, in) << "packet changed\n in:\n" << hex(in) << "\nout:\n" << hex(r.out);
    EXPECT_EQ(reason_count(fx.reason), before + 1) << "reason " << reason_name(fx.reason);
    const bool steered = fx.reason == QPS_R_STEERED;
    const bool roce = steered || fx.reason == QPS_R_MODE_OFF;
    EXPECT_EQ(r.mark, steered && !mark_in ? kMark : mark_in);
    EXPECT_EQ(qp(fx.frame.qpn).packets, qp_before + (roce ? 1 : 0));
    if (steered) {
      EXPECT_EQ(qp(fx.frame.qpn).sport, predicted_port(fx.frame));
    }
  }

  static uint16_t predicted_port(const FrameDesc& d) {
    __u32 words[8];
    int n = d.ipv6 ? 8 : 2;
    if (d.ipv6) {
      std::memcpy(words, kSrc6, 16);
      std::memcpy(words + 4, kDst6, 16);
    } else {
      std::memcpy(words, kSrc4, 4);
      std::memcpy(words + 1, kDst4, 4);
    }
    return qps_port_for_hash(qps_qp_hash(words, n, d.qpn), kPortMin, kPortCount);
  }

  std::unique_ptr<vxlan_egress, decltype(&vxlan_egress__destroy)> skel_{nullptr, vxlan_egress__destroy};
};

FrameDesc roce() { return FrameDesc{}; }
FrameDesc with(FrameDesc d, const std::function<void(FrameDesc&)>& f) {
  f(d);
  return d;
}

TEST_F(VxlanEgress, ParsesAndClassifiesEveryFixture) {
  const std::vector<Fixture> fixtures = {
      {"IPv4 RoCEv2", roce(), QPS_R_STEERED},
      {"IPv6 RoCEv2", with(roce(), [](auto& d) { d.ipv6 = true; }), QPS_R_STEERED},
      {"802.1Q VLAN", with(roce(), [](auto& d) { d.vlan_tpids = {0x8100}; }), QPS_R_STEERED},
      {"QinQ 802.1ad + 802.1Q", with(roce(), [](auto& d) { d.vlan_tpids = {0x88a8, 0x8100}; }), QPS_R_STEERED},
      {"IPv6 in QinQ", with(roce(), [](auto& d) { d.vlan_tpids = {0x88a8, 0x8100}; d.ipv6 = true; }), QPS_R_STEERED},
      {"three VLAN tags", with(roce(), [](auto& d) { d.vlan_tpids = {0x88a8, 0x8100, 0x8100}; }), QPS_R_VLAN_DEPTH},
      {"IPv4 IHL 4", with(roce(), [](auto& d) { d.ihl = 4; }), QPS_R_BAD_IP_HEADER},
      {"IPv4 MF set", with(roce(), [](auto& d) { d.frag_off = 0x2000; }), QPS_R_FRAGMENT},
      {"IPv4 later fragment", with(roce(), [](auto& d) { d.frag_off = 0x00b9; }), QPS_R_FRAGMENT},
      {"IPv6 fragment header", with(roce(), [](auto& d) { d.ipv6 = true; d.ipv6_ext = 44; }), QPS_R_FRAGMENT},
      {"IPv6 hop-by-hop", with(roce(), [](auto& d) { d.ipv6 = true; d.ipv6_ext = 0; }), QPS_R_IPV6_EXT},
      {"IPv6 routing header", with(roce(), [](auto& d) { d.ipv6 = true; d.ipv6_ext = 43; }), QPS_R_IPV6_EXT},
      {"UDP to another port", with(roce(), [](auto& d) { d.dport = 53; }), QPS_R_NOT_ROCE},
      {"RoCEv2 port as source only", with(roce(), [](auto& d) { d.sport = 4791; d.dport = 9999; }), QPS_R_NOT_ROCE},
      {"TCP", with(roce(), [](auto& d) { d.l4_proto = 6; }), QPS_R_NOT_UDP},
      {"IPv6 ICMPv6", with(roce(), [](auto& d) { d.ipv6 = true; d.l4_proto = 58; }), QPS_R_NOT_UDP},
      {"ARP", with(roce(), [](auto& d) { d.ethertype = 0x0806; }), QPS_R_NOT_IP},
      {"LLDP", with(roce(), [](auto& d) { d.ethertype = 0x88cc; }), QPS_R_NOT_IP},
      {"large frame (3000 bytes)", with(roce(), [](auto& d) { d.payload = 2940; }), QPS_R_STEERED},
      {"QP 0xffffff", with(roce(), [](auto& d) { d.qpn = 0xffffff; }), QPS_R_STEERED},
  };
  for (const auto& fx : fixtures) check(fx);
  for (int opt = 1; opt <= 10; opt++)
    check({"IPv4 with " + std::to_string(opt) + " option words",
           with(roce(), [opt](auto& d) { d.ipv4_option_words = opt; }), QPS_R_STEERED});
}

TEST_F(VxlanEgress, BthCutShortAtEveryByteIsTruncated) {
  for (size_t k = 0; k < QPS_BTH_LEN; k++) {
    for (bool v6 : {false, true}) {
      const std::string fam = v6 ? "IPv6" : "IPv4";
      check({fam + " frame ends after " + std::to_string(k) + " BTH bytes",
             with(roce(), [&](auto& d) { d.ipv6 = v6; d.bth_bytes = k; }), QPS_R_TRUNCATED});
      check({fam + " lengths claim " + std::to_string(k) + " BTH bytes, padding follows",
             with(roce(), [&](auto& d) { d.ipv6 = v6; d.claimed_bth = k; }), QPS_R_TRUNCATED});
    }
  }
}

TEST_F(VxlanEgress, ModeOffCountsTheQpButLeavesHashAndMark) {
  set_mode(QPS_MODE_OFF);
  check({"IPv4 RoCEv2, mode off", roce(), QPS_R_MODE_OFF});
  EXPECT_EQ(qp(roce().qpn).sport, 0);
}

TEST_F(VxlanEgress, VniWithoutModeEntryIsOff) {
  ASSERT_EQ(bpf_map__delete_elem(skel_->maps.vni_mode, &kVni, sizeof(kVni), 0), 0);
  check({"IPv4 RoCEv2, no mode entry", roce(), QPS_R_MODE_OFF});
}

TEST_F(VxlanEgress, AnOperatorsMarkIsKept) {
  check({"IPv4 RoCEv2 with mark 7", roce(), QPS_R_STEERED}, 7);
}

TEST_F(VxlanEgress, ModeChangeTakesEffectOnTheNextPacket) {
  check({"qp-hash", roce(), QPS_R_STEERED});
  set_mode(QPS_MODE_OFF);
  check({"then off", roce(), QPS_R_MODE_OFF});
  set_mode(QPS_MODE_QP_HASH);
  check({"then qp-hash again", roce(), QPS_R_STEERED});
}

}  // namespace
}  // namespace qpspread::test
