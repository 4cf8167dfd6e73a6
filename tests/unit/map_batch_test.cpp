// loader/map_batch.h on maps made here with bpf_map_create: every key comes back exactly once with
// its exact value (per-CPU values summed), for every hash type and for sizes around the batch
// chunk, through the batch path and through the get_next_key fallback. Needs root (else skipped).
#include "loader/map_batch.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/unique_fd.h"
#include "loader/pinned_maps.h"
#include "qpspread/abi.h"

namespace qpspread {
namespace {

size_t ncpu() { return static_cast<size_t>(libbpf_num_possible_cpus()); }

UniqueFd make_map(bpf_map_type type, size_t key_size, size_t value_size, uint32_t max_entries) {
  const int fd = bpf_map_create(type, "qps_batch_test", static_cast<__u32>(key_size),
                                static_cast<__u32>(value_size), max_entries, nullptr);
  if (fd < 0) ADD_FAILURE() << "bpf_map_create(type " << type << "): " << std::strerror(errno);
  return UniqueFd(fd);
}

// Writes `values` (already laid out as the kernel wants: one slot per CPU for per-CPU maps).
void fill(int fd, const std::vector<qps_qp_key>& keys, const std::vector<uint8_t>& values) {
  if (keys.empty()) return;
  __u32 count = static_cast<__u32>(keys.size());
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  ASSERT_EQ(bpf_map_update_batch(fd, keys.data(), values.data(), &count, &opts), 0) << std::strerror(errno);
  ASSERT_EQ(count, keys.size());
}

std::vector<qps_qp_key> keys_for(uint32_t n) {
  std::vector<qps_qp_key> keys(n);
  for (uint32_t i = 0; i < n; i++) keys[i] = {100 + i % 7, i};  // several VNIs, distinct QPNs
  return keys;
}

// Per-CPU values chosen so that a lost or doubled CPU slot changes the sum: packets of QP i on
// CPU c are i * 1000 + c + 1, bytes i << 20 | c.
qps_qp_stats cpu_value(uint32_t qpn, size_t cpu) {
  qps_qp_stats v{};
  v.packets = qpn * 1000ull + cpu + 1;
  v.bytes = (static_cast<uint64_t>(qpn) << 20) | cpu;
  v.sport = cpu == 0 ? static_cast<__u16>(qpn % 60000 + 1) : 0;
  return v;
}

using Param = std::tuple<bpf_map_type, uint32_t>;  // map type, entries

class MapBatchTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (creates BPF maps)";
  }
  bpf_map_type type() const { return std::get<0>(GetParam()); }
  uint32_t entries() const { return std::get<1>(GetParam()); }
  // Room above the entries so that an LRU map never evicts while it is filled.
  uint32_t max_entries() const { return entries() + entries() / 4 + 1024; }
};

class PlainHashTest : public MapBatchTest {};
class PercpuHashTest : public MapBatchTest {};

TEST_P(PlainHashTest, EveryKeyOnceWithItsValue) {
  UniqueFd fd = make_map(type(), sizeof(qps_qp_key), sizeof(qps_qp_path), max_entries());
  ASSERT_TRUE(fd);
  const auto keys = keys_for(entries());
  std::vector<uint8_t> values(keys.size() * sizeof(qps_qp_path));
  for (uint32_t i = 0; i < entries(); i++) {
    const qps_qp_path p{i + 1, static_cast<__u16>(i % 65535), 0, i * 3ull, {}, i, i * 100ull};
    std::memcpy(values.data() + i * sizeof(p), &p, sizeof(p));
  }
  ASSERT_NO_FATAL_FAILURE(fill(fd.get(), keys, values));
  for (MapRead how : {MapRead::kBatch, MapRead::kIterate}) {
    std::map<uint32_t, int> seen;
    for (const auto& [k, p] : read_map<qps_qp_key, qps_qp_path>(fd.get(), how)) {
      ASSERT_EQ(k.vni, 100 + k.qpn % 7);
      ASSERT_EQ(p.ifindex, k.qpn + 1);
      ASSERT_EQ(p.sport, k.qpn % 65535);
      ASSERT_EQ(p.moves, k.qpn * 3ull);
      seen[k.qpn]++;
    }
    ASSERT_EQ(seen.size(), entries()) << (how == MapRead::kBatch ? "batch" : "iterate");
    for (const auto& [qpn, n] : seen) ASSERT_EQ(n, 1) << "QP " << qpn << " read " << n << " times";
  }
}

TEST_P(PercpuHashTest, EveryKeyOnceWithSummedValue) {
  UniqueFd fd = make_map(type(), sizeof(qps_qp_key), sizeof(qps_qp_stats), max_entries());
  ASSERT_TRUE(fd);
  const auto keys = keys_for(entries());
  std::vector<uint8_t> values(keys.size() * ncpu() * sizeof(qps_qp_stats));
  for (uint32_t i = 0; i < entries(); i++)
    for (size_t c = 0; c < ncpu(); c++) {
      const qps_qp_stats v = cpu_value(i, c);
      std::memcpy(values.data() + (i * ncpu() + c) * sizeof(v), &v, sizeof(v));
    }
  ASSERT_NO_FATAL_FAILURE(fill(fd.get(), keys, values));
  for (MapRead how : {MapRead::kBatch, MapRead::kIterate}) {
    std::map<uint32_t, int> seen;
    for (const auto& [k, s] : read_percpu_map<qps_qp_key, qps_qp_stats>(fd.get(), sum_cpus<qps_qp_stats>, how)) {
      std::vector<qps_qp_stats> cpus;
      for (size_t c = 0; c < ncpu(); c++) cpus.push_back(cpu_value(k.qpn, c));
      const auto want = sum_cpus<qps_qp_stats>(cpus);
      ASSERT_EQ(s.packets, want.packets) << "QP " << k.qpn;
      ASSERT_EQ(s.bytes, want.bytes) << "QP " << k.qpn;
      ASSERT_EQ(s.sport, want.sport) << "QP " << k.qpn;
      seen[k.qpn]++;
    }
    ASSERT_EQ(seen.size(), entries()) << (how == MapRead::kBatch ? "batch" : "iterate");
    for (const auto& [qpn, n] : seen) ASSERT_EQ(n, 1) << "QP " << qpn << " read " << n << " times";
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  static const std::map<bpf_map_type, std::string> names = {
      {BPF_MAP_TYPE_HASH, "Hash"}, {BPF_MAP_TYPE_LRU_HASH, "LruHash"},
      {BPF_MAP_TYPE_PERCPU_HASH, "PercpuHash"}, {BPF_MAP_TYPE_LRU_PERCPU_HASH, "LruPercpuHash"}};
  return names.at(std::get<0>(info.param)) + "_" + std::to_string(std::get<1>(info.param));
}

// Sizes around the batch chunk: an empty map, one entry, one chunk less one, exactly, plus one.
const auto kSizes = ::testing::Values(0u, 1u, kMapBatchChunk - 1, kMapBatchChunk, kMapBatchChunk + 1, 100000u);
INSTANTIATE_TEST_SUITE_P(MapBatch, PlainHashTest,
                         ::testing::Combine(::testing::Values(BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH), kSizes),
                         param_name);
INSTANTIATE_TEST_SUITE_P(MapBatch, PercpuHashTest,
                         ::testing::Combine(::testing::Values(BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH),
                                            kSizes),
                         param_name);

class MapBatchArrayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (creates BPF maps)";
  }
};

// Arrays go through the kernel's generic batch code, whose token is a key, not a bucket; a 4-byte
// value also makes the per-CPU slot (8 bytes) wider than the value.
TEST_F(MapBatchArrayTest, PercpuArrayWithNarrowValuesIsSummed) {
  const uint32_t n = kMapBatchChunk + 3;
  UniqueFd fd = make_map(BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(uint32_t), sizeof(uint32_t), n);
  ASSERT_TRUE(fd);
  std::vector<uint64_t> slots(ncpu());  // one 8-byte slot per CPU, the value in its first 4 bytes
  for (uint32_t i = 0; i < n; i++) {
    for (size_t c = 0; c < ncpu(); c++) slots[c] = i * 10 + c + 1;
    ASSERT_EQ(bpf_map_update_elem(fd.get(), &i, slots.data(), BPF_ANY), 0);
  }
  auto add = [](std::span<const uint32_t> cpus) {
    uint64_t s = 0;
    for (uint32_t v : cpus) s += v;
    return s;
  };
  for (MapRead how : {MapRead::kBatch, MapRead::kIterate}) {
    const auto got = read_percpu_map<uint32_t, uint32_t>(fd.get(), add, how);
    ASSERT_EQ(got.size(), n);
    for (uint32_t i = 0; i < n; i++) {
      ASSERT_EQ(got[i].first, i);
      ASSERT_EQ(got[i].second, ncpu() * (i * 10 + 1) + ncpu() * (ncpu() - 1) / 2) << "index " << i;
    }
  }
}

// Otherwise the tests above would pass on the fallback alone and say nothing of the batch path.
TEST_F(MapBatchArrayTest, KernelTakesTheBatchPathForEveryType) {
  for (bpf_map_type t : {BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_PERCPU_HASH,
                         BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY}) {
    UniqueFd fd = make_map(t, sizeof(uint32_t), sizeof(uint64_t), 16);
    ASSERT_TRUE(fd);
    const uint32_t key = 3;
    std::vector<uint64_t> value(ncpu(), 7);
    ASSERT_EQ(bpf_map_update_elem(fd.get(), &key, value.data(), BPF_ANY), 0);
    uint32_t seen = 0;
    const bool batch = map_batch_detail::batch_walk<uint32_t>(
        fd.get(), sizeof(uint64_t) * ncpu(), 4, [&](const uint32_t*, const uint8_t*, uint32_t n) { seen += n; });
    EXPECT_TRUE(batch) << "map type " << t << ": no batch lookup";
    EXPECT_EQ(seen, t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY ? 16u : 1u) << "map type " << t;
  }
}

TEST_F(MapBatchArrayTest, WrongValueTypeIsRefused) {
  UniqueFd fd = make_map(BPF_MAP_TYPE_HASH, sizeof(qps_qp_key), sizeof(qps_qp_path), 16);
  ASSERT_TRUE(fd);
  EXPECT_THROW((read_map<qps_qp_key, qps_qp_stats>(fd.get())), Error);
  EXPECT_THROW((read_percpu_map<qps_qp_key, qps_qp_path>(fd.get(), [](auto s) { return s[0]; })), Error);
}

}  // namespace
}  // namespace qpspread
