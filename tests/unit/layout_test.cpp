// The structs of include/qpspread/abi.h as the C++ compiler lays them out must be those the BPF
// objects' BTF describes: same size, same members in the same order at the same offsets with the
// same sizes; the maps' key and value sizes; the enums' values where the BTF has them.
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qpspread/abi.h"

namespace {

struct Member {
  const char* name;
  size_t offset, size;
};
struct StructLayout {
  const char* name;
  size_t size;
  std::vector<Member> members;
};

#define M(type, field) Member{#field, offsetof(type, field), sizeof(((type*)nullptr)->field)}

const std::vector<StructLayout>& layouts() {
  static const std::vector<StructLayout> l = {
      {"qps_dev_cfg", sizeof(qps_dev_cfg),
       {M(qps_dev_cfg, vni), M(qps_dev_cfg, mark), M(qps_dev_cfg, port_min), M(qps_dev_cfg, port_count), M(qps_dev_cfg, count_qps),
        M(qps_dev_cfg, _pad), M(qps_dev_cfg, vni_cfg)}},
      {"qps_vni_cfg", sizeof(qps_vni_cfg), {M(qps_vni_cfg, mode), M(qps_vni_cfg, flowlet_gap_us), M(qps_vni_cfg, coarse_res_ns)}},
      {"qps_qp_assign", sizeof(qps_qp_assign), {M(qps_qp_assign, sport), M(qps_qp_assign, _pad)}},
      {"qps_qp_flowlet", sizeof(qps_qp_flowlet),
       {M(qps_qp_flowlet, last_ns), M(qps_qp_flowlet, moves), M(qps_qp_flowlet, sport), M(qps_qp_flowlet, want),
        M(qps_qp_flowlet, gen), M(qps_qp_flowlet, hash), M(qps_qp_flowlet, _pad)}},
      {"qps_qp_key", sizeof(qps_qp_key), {M(qps_qp_key, vni), M(qps_qp_key, qpn)}},
      {"qps_qp_stats", sizeof(qps_qp_stats),
       {M(qps_qp_stats, packets), M(qps_qp_stats, bytes), M(qps_qp_stats, sport), M(qps_qp_stats, _pad)}},
      {"qps_reason_stats", sizeof(qps_reason_stats), {M(qps_reason_stats, packets), M(qps_reason_stats, bytes)}},
      {"qps_attachment", sizeof(qps_attachment),
       {M(qps_attachment, ifindex), M(qps_attachment, vni), M(qps_attachment, prog_id), M(qps_attachment, handle),
        M(qps_attachment, priority), M(qps_attachment, created_qdisc), M(qps_attachment, kind), M(qps_attachment, tc_api),
        M(qps_attachment, _pad),
        M(qps_attachment, ifname), M(qps_attachment, cfg), M(qps_attachment, xdp_prog_id),
        M(qps_attachment, xdp_flags), M(qps_attachment, xdp), M(qps_attachment, rx_prog_id)}},
      {"qps_path_key", sizeof(qps_path_key), {M(qps_path_key, ifindex), M(qps_path_key, vni), M(qps_path_key, remote)}},
      {"qps_path_stats", sizeof(qps_path_stats),
       {M(qps_path_stats, packets), M(qps_path_stats, bytes), M(qps_path_stats, roce_packets), M(qps_path_stats, roce_bytes),
        M(qps_path_stats, ecn_ce), M(qps_path_stats, cnp)}},
      {"qps_qp_path", sizeof(qps_qp_path), {M(qps_qp_path, ifindex), M(qps_qp_path, sport), M(qps_qp_path, _pad), M(qps_qp_path, moves), M(qps_qp_path, remote),
        M(qps_qp_path, packets), M(qps_qp_path, bytes)}},
      {"qps_uplink_cfg", sizeof(qps_uplink_cfg), {M(qps_uplink_cfg, vxlan_port), M(qps_uplink_cfg, _pad)}},
      {"qps_xdp_cfg", sizeof(qps_xdp_cfg),
       {M(qps_xdp_cfg, vxlan_port), M(qps_xdp_cfg, port_min), M(qps_xdp_cfg, port_count), M(qps_xdp_cfg, roles),
        M(qps_xdp_cfg, _pad)}},
      {"qps_qp_rx", sizeof(qps_qp_rx),
       {M(qps_qp_rx, packets), M(qps_qp_rx, bytes), M(qps_qp_rx, reordered), M(qps_qp_rx, gaps), M(qps_qp_rx, ecn_ce),
        M(qps_qp_rx, cnp), M(qps_qp_rx, next_psn), M(qps_qp_rx, ifindex)}},
  };
  return l;
}

#undef M

// The enums as C++ sees them, enumerator name to value.
std::map<std::string, long long> reason_enumerators() {
  std::map<std::string, long long> e;
#define QPS_REASON_ENTRY(name, str) e["QPS_R_" #name] = QPS_R_##name;
  QPS_REASONS(QPS_REASON_ENTRY)
#undef QPS_REASON_ENTRY
  e["QPS_R__MAX"] = QPS_R__MAX;
  return e;
}

std::map<std::string, long long> mode_enumerators() {
  return {{"QPS_MODE_OFF", QPS_MODE_OFF}, {"QPS_MODE_QP_HASH", QPS_MODE_QP_HASH},
          {"QPS_MODE_BALANCE", QPS_MODE_BALANCE}, {"QPS_MODE__MAX", QPS_MODE__MAX}};
}

const char* const kObjects[] = {QPS_VXLAN_EGRESS_OBJ, QPS_UPLINK_EGRESS_OBJ, QPS_UNDERLAY_XDP_OBJ};

class Layout : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* obj : kObjects) {
      btf* b = btf__parse_elf(obj, nullptr);
      ASSERT_NE(b, nullptr) << "cannot read BTF from " << obj << "; was it built with clang -g?";
      btfs_.push_back(b);
    }
  }
  void TearDown() override {
    for (btf* b : btfs_) btf__free(b);
  }

  void compare(btf* b, const btf_type* t, const StructLayout& s) {
    EXPECT_EQ(t->size, s.size) << "sizeof(struct " << s.name << ")";
    ASSERT_EQ(btf_vlen(t), s.members.size()) << "member count of struct " << s.name;
    const btf_member* m = btf_members(t);
    for (size_t i = 0; i < s.members.size(); i++) {
      const std::string field = std::string(s.name) + "." + s.members[i].name;
      EXPECT_STREQ(btf__name_by_offset(b, m[i].name_off), s.members[i].name) << "member " << i << " of " << s.name;
      EXPECT_EQ(btf_member_bit_offset(t, static_cast<__u32>(i)) / 8, s.members[i].offset) << "offset of " << field;
      EXPECT_EQ(btf_member_bitfield_size(t, static_cast<__u32>(i)), 0u) << field << " is a bitfield";
      EXPECT_EQ(btf__resolve_size(b, m[i].type), static_cast<__s64>(s.members[i].size)) << "size of " << field;
    }
  }

  // Compares a BTF enum with C++'s; returns false when no object's BTF has the enum.
  bool compare_enum(const char* name, const std::map<std::string, long long>& expected) {
    bool found = false;
    for (btf* b : btfs_) {
      const int id = btf__find_by_name_kind(b, name, BTF_KIND_ENUM);
      if (id <= 0) continue;
      found = true;
      const btf_type* t = btf__type_by_id(b, static_cast<__u32>(id));
      std::map<std::string, long long> actual;
      const struct btf_enum* e = btf_enum(t);
      for (int i = 0; i < btf_vlen(t); i++) actual[btf__name_by_offset(b, e[i].name_off)] = e[i].val;
      EXPECT_EQ(actual, expected) << "enum " << name;
    }
    return found;
  }

  std::vector<btf*> btfs_;
};

// Each struct is compared in every object that has it, and must be in at least one.
TEST_F(Layout, AbiStructsMatchTheObjectsBtf) {
  for (const auto& s : layouts()) {
    SCOPED_TRACE(s.name);
    int found = 0;
    for (btf* b : btfs_) {
      const int id = btf__find_by_name_kind(b, s.name, BTF_KIND_STRUCT);
      if (id <= 0) continue;
      found++;
      compare(b, btf__type_by_id(b, static_cast<__u32>(id)), s);
    }
    EXPECT_GT(found, 0) << "struct " << s.name << " is in no BPF object's BTF";
  }
}

// clang emits an enum into BTF only when a global, a map or a non-inlined function uses its type:
// the reasons maps are keyed by enum qps_reason and struct qps_vni_cfg holds an enum qps_mode so
// that both are there to compare.
TEST_F(Layout, EnumsMatchTheObjectsBtf) {
  EXPECT_TRUE(compare_enum("qps_reason", reason_enumerators())) << "enum qps_reason is in no object's BTF";
  EXPECT_TRUE(compare_enum("qps_mode", mode_enumerators())) << "enum qps_mode is in no object's BTF";
}

struct MapExpect {
  const char* map;
  size_t key, value;
};

void check_maps(const char* path, const std::vector<MapExpect>& expects, size_t rodata_size) {
  SCOPED_TRACE(path);
  std::unique_ptr<bpf_object, decltype(&bpf_object__close)> obj(bpf_object__open_file(path, nullptr), bpf_object__close);
  ASSERT_TRUE(obj) << "cannot open " << path;
  for (const auto& e : expects) {
    bpf_map* m = bpf_object__find_map_by_name(obj.get(), e.map);
    ASSERT_NE(m, nullptr) << "no map " << e.map;
    EXPECT_EQ(bpf_map__key_size(m), e.key) << "key size of " << e.map;
    EXPECT_EQ(bpf_map__value_size(m), e.value) << "value size of " << e.map;
  }
  // The read-only config is exactly the config struct: the loader writes it whole.
  bpf_map* rodata = bpf_object__find_map_by_name(obj.get(), ".rodata");
  ASSERT_NE(rodata, nullptr) << "no .rodata (const volatile config) in " << path;
  EXPECT_EQ(bpf_map__value_size(rodata), rodata_size) << ".rodata size";
}

TEST(LayoutMaps, VxlanEgressKeyAndValueSizesMatch) {
  check_maps(QPS_VXLAN_EGRESS_OBJ,
             {{"vni_mode", sizeof(__u32), sizeof(qps_vni_cfg)},
              {"attachments", sizeof(__u32), sizeof(qps_attachment)},
              {"reasons", sizeof(__u32), sizeof(qps_reason_stats)},
              {"qp_stats", sizeof(qps_qp_key), sizeof(qps_qp_stats)},
              {"qp_assign", sizeof(qps_qp_key), sizeof(qps_qp_assign)},
              {"qp_assign_gen", sizeof(__u32), sizeof(__u64)},
              {"qp_flowlet", sizeof(qps_qp_key), sizeof(qps_qp_flowlet)}},
             sizeof(qps_dev_cfg));
}

TEST(LayoutMaps, UplinkEgressKeyAndValueSizesMatch) {
  check_maps(QPS_UPLINK_EGRESS_OBJ,
             {{"path_stats", sizeof(qps_path_key), sizeof(qps_path_stats)},
              {"qp_paths", sizeof(qps_qp_key), sizeof(qps_qp_path)},
              {"uplink_reasons", sizeof(__u32), sizeof(qps_reason_stats)}},
             sizeof(qps_uplink_cfg));
}

TEST(LayoutMaps, UnderlayXdpKeyAndValueSizesMatch) {
  check_maps(QPS_UNDERLAY_XDP_OBJ,
             {{"rx_paths", sizeof(qps_path_key), sizeof(qps_path_stats)},
              {"qp_rx", sizeof(qps_qp_key), sizeof(qps_qp_rx)},
              {"vni_mode", sizeof(__u32), sizeof(qps_vni_cfg)},
              {"qp_assign", sizeof(qps_qp_key), sizeof(qps_qp_assign)},
              {"qp_assign_gen", sizeof(__u32), sizeof(__u64)},
              {"qp_flowlet", sizeof(qps_qp_key), sizeof(qps_qp_flowlet)},
              {"xdp_reasons", sizeof(__u32), sizeof(qps_reason_stats)}},
             sizeof(qps_xdp_cfg));
}

TEST(LayoutMaps, TransitIngressConfigMatches) {
  check_maps(QPS_TRANSIT_INGRESS_OBJ, {{"attachments", sizeof(__u32), sizeof(qps_attachment)},
                                      {"vni_mode", sizeof(__u32), sizeof(qps_vni_cfg)}},
             sizeof(qps_uplink_cfg));
}

// One counter per reason: the arrays are indexed by enum qps_reason.
TEST(LayoutMaps, ReasonArraysHaveOneEntryPerReason) {
  const std::pair<const char*, const char*> arrays[] = {{QPS_VXLAN_EGRESS_OBJ, "reasons"},
                                                        {QPS_UPLINK_EGRESS_OBJ, "uplink_reasons"},
                                                        {QPS_UNDERLAY_XDP_OBJ, "xdp_reasons"}};
  for (const auto& [path, name] : arrays) {
    std::unique_ptr<bpf_object, decltype(&bpf_object__close)> obj(bpf_object__open_file(path, nullptr),
                                                                 bpf_object__close);
    ASSERT_TRUE(obj) << "cannot open " << path;
    bpf_map* m = bpf_object__find_map_by_name(obj.get(), name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ(bpf_map__max_entries(m), static_cast<__u32>(QPS_R__MAX)) << name;
  }
}

}  // namespace
