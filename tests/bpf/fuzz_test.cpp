// Every BPF program under random and mutated frames, through BPF_PROG_TEST_RUN: the seeds are the
// fixtures' frames (RoCEv2 over IPv4/IPv6, VLAN and QinQ, options, extension headers, fragments,
// cut frames; each also inside VXLAN over IPv4/IPv6, with and without a tag, a checksum, CE, GBP),
// mutated (bits flipped, bytes set, fields set to telling values, cut, grown, bytes inserted or
// removed) or drawn at random. Every run must succeed with the program's one verdict
// (TC_ACT_UNSPEC, XDP_PASS) and hand the frame back unchanged, except the transit rewrite, which may
// change only the outer UDP source port and checksum: a valid checksum stays valid, a zero one zero.
//
// QPS_FUZZ_FRAMES frames per program (default 20 000: seconds), QPS_FUZZ_SEED the seed (default
// 1; every failure prints it with the frame). The long run (docs/benchmarks.md):
//   QPS_FUZZ_FRAMES=1000000 build/tests/bpf/bpf_fuzz_test
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "loader/pinned_maps.h"
#include "qpspread/abi.h"
#include "tests/bpf/prog_run.h"
#include "tests/bpf/test_frames.h"
#include "transit_ingress.skel.h"
#include "underlay_xdp.skel.h"
#include "uplink_egress.skel.h"
#include "vxlan_egress.skel.h"

namespace qpspread::test {
namespace {

constexpr uint32_t kVni = 100, kMark = 0x5150;
constexpr uint16_t kPortMin = 32768, kPortCount = 28231;
constexpr size_t kMaxFrame = 2048;  // under BPF_PROG_TEST_RUN's page limit for tc and XDP

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::vector<std::vector<uint8_t>> seeds() {
  std::vector<FrameDesc> inner(12);
  inner[1].ipv6 = true;
  inner[2].vlan_tpids = {0x8100};
  inner[3].vlan_tpids = {0x88a8, 0x8100};
  inner[4].ipv4_option_words = 3;
  inner[5].ipv6 = true, inner[5].ipv6_ext = 0;
  inner[6].frag_off = 0x2000;
  inner[7].dport = 53;
  inner[8].bth_bytes = 6;
  inner[9].payload = 0, inner[9].opcode = 0x81;  // a CNP
  inner[10].cut_at = 30;
  inner[11].l4_proto = 6;
  std::vector<OuterDesc> outer(6);
  outer[1].ipv6 = true;
  outer[2].vlan = true;
  outer[3].udp_csum = true;
  outer[4].ecn = 3, outer[4].ipv6 = true, outer[4].udp_csum = true;
  outer[5].group_policy_id = 7;
  std::vector<std::vector<uint8_t>> out;
  for (const auto& d : inner) {
    out.push_back(make_frame(d));
    for (const auto& o : outer) out.push_back(wrap_vxlan(make_frame(d), o));
  }
  return out;
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed), seeds_(seeds()) {}
  std::vector<uint8_t> next() {
    if (pick(20) == 0) {  // 5 %: random bytes
      std::vector<uint8_t> f(14 + pick(200));
      for (auto& b : f) b = static_cast<uint8_t>(rng_());
      return f;
    }
    std::vector<uint8_t> f = seeds_[pick(seeds_.size())];
    for (size_t n = 1 + pick(4); n > 0; n--) mutate(f);
    if (f.size() < 14) f.resize(14);  // BPF_PROG_TEST_RUN takes nothing shorter than Ethernet
    if (f.size() > kMaxFrame) f.resize(kMaxFrame);
    return f;
  }

 private:
  size_t pick(size_t n) { return static_cast<size_t>(rng_() % n); }
  void mutate(std::vector<uint8_t>& f) {
    static const uint16_t telling[] = {0x0800, 0x86dd, 0x8100, 0x88a8, 4789, 4791, 0, 0xffff, 0x4500, 0x6000, 0x1100};
    const size_t at = f.empty() ? 0 : pick(f.size());
    switch (pick(7)) {
      case 0:
        if (!f.empty()) f[at] ^= static_cast<uint8_t>(1u << pick(8));
        break;
      case 1:
        if (!f.empty()) f[at] = static_cast<uint8_t>(rng_());
        break;
      case 2:
        if (f.size() >= 2) {
          const uint16_t v = telling[pick(std::size(telling))];
          const size_t p = std::min(at, f.size() - 2);
          f[p] = static_cast<uint8_t>(v >> 8);
          f[p + 1] = static_cast<uint8_t>(v);
        }
        break;
      case 3:
        f.resize(pick(f.size() + 1));
        break;
      case 4:
        f.resize(f.size() + pick(64), static_cast<uint8_t>(rng_()));
        break;
      case 5:
        f.insert(f.begin() + static_cast<long>(at), static_cast<uint8_t>(rng_()));
        break;
      default:
        if (!f.empty()) f.erase(f.begin() + static_cast<long>(at));
    }
  }
  std::mt19937_64 rng_;
  std::vector<std::vector<uint8_t>> seeds_;
};

uint16_t be16(const std::vector<uint8_t>& f, size_t at) { return static_cast<uint16_t>(f[at] << 8 | f[at + 1]); }

// Where a receiver finds the outer UDP header of an underlay frame (one optional tag, IPv4 with
// options or IPv6 without extensions), and whether its checksum verifies; nullopt when the frame
// is not UDP that far or the datagram does not fit.
struct OuterUdp {
  size_t udp = 0;
  bool csum_ok = false;
};
std::optional<OuterUdp> outer_udp(const std::vector<uint8_t>& f) {
  size_t l3 = 14;
  if (f.size() < 14) return std::nullopt;
  uint16_t type = be16(f, 12);
  if (type == 0x8100 || type == 0x88a8) {
    if (f.size() < 18) return std::nullopt;
    type = be16(f, 16);
    l3 = 18;
  }
  uint32_t sum = 0;
  size_t udp = 0;
  if (type == 0x0800) {
    if (f.size() < l3 + 20 || f[l3 + 9] != 17) return std::nullopt;
    udp = l3 + (f[l3] & 0x0f) * 4u;
    for (size_t i = l3 + 12; i < l3 + 20; i += 2) sum += be16(f, i);
  } else if (type == 0x86dd) {
    if (f.size() < l3 + 40 || f[l3 + 6] != 17) return std::nullopt;
    udp = l3 + 40;
    for (size_t i = l3 + 8; i < l3 + 40; i += 2) sum += be16(f, i);
  } else {
    return std::nullopt;
  }
  if (f.size() < udp + 8) return std::nullopt;
  const size_t len = be16(f, udp + 4);
  if (len < 8 || udp + len > f.size()) return OuterUdp{udp, false};
  sum += 17 + static_cast<uint32_t>(len);
  for (size_t i = udp; i + 1 < udp + len; i += 2) sum += be16(f, i);
  if (len % 2) sum += static_cast<uint32_t>(f[udp + len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return OuterUdp{udp, sum == 0xffff};
}

struct Program {
  std::string name;
  int fd = -1;
  bool xdp = false;
  bool rewrites_outer_port = false;  // the transit rewrite
};

class BpfFuzz : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
    frames_ = env_or("QPS_FUZZ_FRAMES", 20000);
    seed_ = env_or("QPS_FUZZ_SEED", 1);
  }

  // Runs frames_ frames through the program; stops at the first broken invariant.
  void fuzz(const Program& p) {
    Mutator m(seed_);
    const auto t0 = std::chrono::steady_clock::now();
    const uint32_t verdict = p.xdp ? static_cast<uint32_t>(XDP_PASS) : static_cast<uint32_t>(TC_ACT_UNSPEC);
    for (uint64_t i = 0; i < frames_; i++) {
      const std::vector<uint8_t> in = m.next();
      const RunResult r = p.xdp ? run_xdp_prog(p.fd, in) : run_tc_prog(p.fd, in, 0);
      const std::string where = p.name + ", seed " + std::to_string(seed_) + ", frame " + std::to_string(i) + ":\n" + hex(in);
      // The kernel's tc test harness itself refuses some malformed frames (EINVAL before the
      // program runs, e.g. an IPv4 ethertype with less than an IPv4 header behind it); the XDP
      // harness takes every frame.
      if (!p.xdp && r.err == -EINVAL) {
        refused_++;
        continue;
      }
      ASSERT_EQ(r.err, 0) << where;
      ASSERT_EQ(r.retval, verdict) << where;
      ASSERT_EQ(r.out.size(), in.size()) << where;
      if (r.out == in) continue;
      ASSERT_TRUE(p.rewrites_outer_port) << "the frame changed\n" << where << "\nout:\n" << hex(r.out);
      const auto u = outer_udp(in);
      ASSERT_TRUE(u.has_value()) << "changed a frame that is not UDP\n" << where;
      for (size_t k = 0; k < in.size(); k++) {
        if (in[k] == r.out[k]) continue;
        ASSERT_TRUE(k == u->udp || k == u->udp + 1 || k == u->udp + 6 || k == u->udp + 7)
            << "byte " << k << " changed, outer UDP at " << u->udp << "\n" << where << "\nout:\n" << hex(r.out);
      }
      if (be16(in, u->udp + 6) == 0) {
        ASSERT_EQ(be16(r.out, u->udp + 6), 0) << "a zero checksum stays zero\n" << where;
      } else if (u->csum_ok) {
        ASSERT_TRUE(outer_udp(r.out)->csum_ok) << "the checksum no longer verifies\n" << where << "\nout:\n" << hex(r.out);
      }
      rewritten_++;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-28s %8llu frames in %6.2f s (%.0f/s), %llu refused by the harness, %llu rewritten, seed %llu\n",
                p.name.c_str(), static_cast<unsigned long long>(frames_), s, frames_ / s,
                static_cast<unsigned long long>(refused_), static_cast<unsigned long long>(rewritten_),
                static_cast<unsigned long long>(seed_));
    EXPECT_LT(refused_, frames_ / 4) << "most frames must reach the program";
  }

  uint64_t frames_ = 0, seed_ = 0, rewritten_ = 0, refused_ = 0;
};

template <class Skel>
using Owned = std::unique_ptr<Skel, void (*)(Skel*)>;

void set_mode(bpf_map* m, qps_mode mode) {
  const qps_vni_cfg c{mode, 1000, coarse_clock_res_ns()};
  ASSERT_EQ(bpf_map__update_elem(m, &kVni, sizeof(kVni), &c, sizeof(c), BPF_ANY), 0);
}

class VxlanEgressFuzz : public BpfFuzz, public ::testing::WithParamInterface<qps_mode> {};

TEST_P(VxlanEgressFuzz, NeverDropsNorChangesAFrame) {
  Owned<vxlan_egress> s(vxlan_egress__open(), vxlan_egress__destroy);
  ASSERT_TRUE(s);
  s->rodata->qps_dev = {kVni, kMark, kPortMin, kPortCount, 1, {}, {GetParam(), 1000, coarse_clock_res_ns()}};
  ASSERT_EQ(vxlan_egress__load(s.get()), 0);
  if (GetParam() == QPS_MODE_BALANCE) {  // the seeds' QP has a port to move to
    const qps_qp_key key{kVni, 0x123};
    const qps_qp_assign a{40000, {}};
    ASSERT_EQ(bpf_map__update_elem(s->maps.qp_assign, &key, sizeof(key), &a, sizeof(a), BPF_ANY), 0);
  }
  fuzz({std::string("vxlan_egress mode ") + mode_name(GetParam()), bpf_program__fd(s->progs.qps_vxlan_egress)});
}

INSTANTIATE_TEST_SUITE_P(Modes, VxlanEgressFuzz, ::testing::Values(QPS_MODE_OFF, QPS_MODE_QP_HASH, QPS_MODE_BALANCE),
                         [](const auto& info) { return std::string(info.param == QPS_MODE_OFF ? "off" : info.param == QPS_MODE_QP_HASH ? "qphash" : "balance"); });

TEST_F(BpfFuzz, UplinkEgressNeverDropsNorChangesAFrame) {
  Owned<uplink_egress> s(uplink_egress__open_and_load(), uplink_egress__destroy);
  ASSERT_TRUE(s);
  fuzz({"uplink_egress", bpf_program__fd(s->progs.qps_uplink_egress)});
}

TEST_F(BpfFuzz, TransitIngressNeverDropsNorChangesAFrame) {
  Owned<transit_ingress> s(transit_ingress__open_and_load(), transit_ingress__destroy);
  ASSERT_TRUE(s);
  fuzz({"transit_ingress", bpf_program__fd(s->progs.qps_transit_ingress)});
}

class UnderlayXdpFuzz : public BpfFuzz, public ::testing::WithParamInterface<uint8_t> {};

TEST_P(UnderlayXdpFuzz, PassesEveryFrameAndRewritesOnlyTheOuterPort) {
  Owned<underlay_xdp> s(underlay_xdp__open(), underlay_xdp__destroy);
  ASSERT_TRUE(s);
  s->rodata->qps_xdp.roles = GetParam();
  s->rodata->qps_xdp.port_min = kPortMin;
  s->rodata->qps_xdp.port_count = kPortCount;
  ASSERT_EQ(underlay_xdp__load(s.get()), 0);
  set_mode(s->maps.vni_mode, QPS_MODE_QP_HASH);
  const bool transit = GetParam() & QPS_XDP_TRANSIT;
  fuzz({transit ? "underlay_xdp transit" : "underlay_xdp receive", bpf_program__fd(s->progs.qps_underlay_xdp), true,
        transit});
  if (transit) {
    EXPECT_GT(rewritten_, 0u) << "the seeds steer: some frames must have been rewritten";
  }
}

// The receive role's tc ingress entry (a veth uplink's).
TEST_F(BpfFuzz, UnderlayRxOnTcNeverDropsNorChangesAFrame) {
  Owned<underlay_xdp> s(underlay_xdp__open(), underlay_xdp__destroy);
  ASSERT_TRUE(s);
  s->rodata->qps_xdp.roles = QPS_XDP_RX;
  ASSERT_EQ(underlay_xdp__load(s.get()), 0);
  fuzz({"underlay_xdp receive (tc)", bpf_program__fd(s->progs.qps_underlay_tc)});
}

INSTANTIATE_TEST_SUITE_P(Roles, UnderlayXdpFuzz, ::testing::Values(uint8_t{QPS_XDP_RX}, uint8_t{QPS_XDP_TRANSIT}),
                         [](const auto& info) { return std::string(info.param == QPS_XDP_RX ? "receive" : "transit"); });

}  // namespace
}  // namespace qpspread::test
