// The structs of include/qpspread/abi.h as the C++ compiler lays them out must be those the BPF
// object's BTF describes: same size, same member offsets, and the maps' key and value sizes.
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "qpspread/abi.h"

namespace {

struct Member {
  const char* name;
  size_t offset;
};
struct StructLayout {
  const char* name;
  size_t size;
  std::vector<Member> members;
};

#define M(type, field) Member{#field, offsetof(type, field)}

const std::vector<StructLayout>& layouts() {
  static const std::vector<StructLayout> l = {
      {"qps_dev_cfg", sizeof(qps_dev_cfg),
       {M(qps_dev_cfg, vni), M(qps_dev_cfg, mark), M(qps_dev_cfg, port_min), M(qps_dev_cfg, port_count), M(qps_dev_cfg, _pad)}},
      {"qps_path_key", sizeof(qps_path_key), {M(qps_path_key, ifindex), M(qps_path_key, vni), M(qps_path_key, remote)}},
      {"qps_path_stats", sizeof(qps_path_stats),
       {M(qps_path_stats, packets), M(qps_path_stats, bytes), M(qps_path_stats, roce_packets), M(qps_path_stats, roce_bytes)}},
      {"qps_qp_path", sizeof(qps_qp_path), {M(qps_qp_path, ifindex), M(qps_qp_path, sport), M(qps_qp_path, _pad), M(qps_qp_path, moves)}},
      {"qps_vni_cfg", sizeof(qps_vni_cfg), {M(qps_vni_cfg, mode), M(qps_vni_cfg, _pad)}},
      {"qps_qp_key", sizeof(qps_qp_key), {M(qps_qp_key, vni), M(qps_qp_key, qpn)}},
      {"qps_qp_stats", sizeof(qps_qp_stats),
       {M(qps_qp_stats, packets), M(qps_qp_stats, bytes), M(qps_qp_stats, sport), M(qps_qp_stats, _pad)}},
      {"qps_reason_stats", sizeof(qps_reason_stats), {M(qps_reason_stats, packets), M(qps_reason_stats, bytes)}},
      {"qps_attachment", sizeof(qps_attachment),
       {M(qps_attachment, ifindex), M(qps_attachment, vni), M(qps_attachment, prog_id), M(qps_attachment, handle),
        M(qps_attachment, priority), M(qps_attachment, created_qdisc), M(qps_attachment, kind), M(qps_attachment, _pad),
        M(qps_attachment, ifname), M(qps_attachment, cfg)}},
  };
  return l;
}

class Layout : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* obj : {QPS_VXLAN_EGRESS_OBJ, QPS_UPLINK_EGRESS_OBJ}) {
      btf* b = btf__parse_elf(obj, nullptr);
      ASSERT_NE(b, nullptr) << "cannot read BTF from " << obj;
      btfs_.push_back(b);
    }
  }
  void TearDown() override {
    for (btf* b : btfs_) btf__free(b);
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
      const btf_type* t = btf__type_by_id(b, static_cast<__u32>(id));
      EXPECT_EQ(t->size, s.size) << "sizeof(struct " << s.name << ")";
      ASSERT_EQ(btf_vlen(t), s.members.size()) << "member count";
      const btf_member* m = btf_members(t);
      for (size_t i = 0; i < s.members.size(); i++) {
        EXPECT_STREQ(btf__name_by_offset(b, m[i].name_off), s.members[i].name);
        EXPECT_EQ(btf_member_bit_offset(t, static_cast<__u32>(i)) / 8, s.members[i].offset)
            << s.name << "." << s.members[i].name;
      }
    }
    EXPECT_GT(found, 0) << "struct " << s.name << " is in no BPF object's BTF";
  }
}

TEST(LayoutMaps, KeyAndValueSizesMatch) {
  std::unique_ptr<bpf_object, decltype(&bpf_object__close)> obj(bpf_object__open_file(QPS_VXLAN_EGRESS_OBJ, nullptr),
                                                               bpf_object__close);
  ASSERT_TRUE(obj);
  struct Expect {
    const char* map;
    size_t key, value;
  };
  const Expect expects[] = {{"vni_mode", sizeof(__u32), sizeof(qps_vni_cfg)},
                            {"attachments", sizeof(__u32), sizeof(qps_attachment)},
                            {"reasons", sizeof(__u32), sizeof(qps_reason_stats)},
                            {"qp_stats", sizeof(qps_qp_key), sizeof(qps_qp_stats)}};
  for (const auto& e : expects) {
    bpf_map* m = bpf_object__find_map_by_name(obj.get(), e.map);
    ASSERT_NE(m, nullptr) << e.map;
    EXPECT_EQ(bpf_map__key_size(m), e.key) << e.map;
    EXPECT_EQ(bpf_map__value_size(m), e.value) << e.map;
  }
  // One counter per reason: the array is indexed by enum qps_reason (inlined away, so not in BTF).
  EXPECT_EQ(bpf_map__max_entries(bpf_object__find_map_by_name(obj.get(), "reasons")), QPS_R__MAX);
  bpf_map* rodata = bpf_object__find_map_by_name(obj.get(), ".rodata");
  ASSERT_NE(rodata, nullptr);
  EXPECT_EQ(bpf_map__value_size(rodata), sizeof(qps_dev_cfg));
}

}  // namespace
