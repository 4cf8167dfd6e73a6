// Reading a whole BPF hash or array map in a few syscalls: BPF_MAP_LOOKUP_BATCH chunk by chunk,
// and get_next_key + lookup per entry where the kernel has no batch op for the map type.
//
//   auto entries = read_map<qps_qp_key, qps_qp_path>(fd);
//   auto sums = read_percpu_map<qps_qp_key, qps_qp_stats>(fd, [](std::span<const qps_qp_stats> cpus) {...});
//
// Per-CPU maps store one value per possible CPU, each in an 8-byte-aligned slot; the caller's sum
// folds them into one result of any type. Entries come in the map's own order (bucket order for
// hashes). Maps that change during the read may show an entry twice or miss one, as with any
// walk of a live map; the batch walk at least never restarts from the first bucket.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/error.h"

namespace qpspread {

// Entries asked for per batch call: 25 calls for 100 000 entries, and buffers of a few hundred KiB.
inline constexpr uint32_t kMapBatchChunk = 4096;

namespace map_batch_detail {

// The kernel answers ENOTSUPP (524, not a userspace errno) for map types without batch ops, and
// kernels before 5.6 answer EINVAL for the unknown command.
inline bool batch_unsupported(int err) { return err == EINVAL || err == EOPNOTSUPP || err == 524; }

inline bool is_percpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

// The kernel copies key_size and value_size bytes per entry: a type that does not match them
// would overflow the buffers, so the sizes are checked against the map rather than trusted.
inline bpf_map_info checked_info(int fd, size_t key_size, size_t value_size, bool percpu) {
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) throw Error(errno_text("cannot query BPF map", errno));
  const std::string name = info.name;
  if (info.key_size != key_size || info.value_size != value_size)
    throw Error("BPF map " + name + " has key/value sizes " + std::to_string(info.key_size) + "/" +
                std::to_string(info.value_size) + ", expected " + std::to_string(key_size) + "/" +
                std::to_string(value_size) + "; are the pins from another qpspread version? Detach with that version");
  if (is_percpu(info.type) != percpu)
    throw Error("BPF map " + name + (percpu ? " is not" : " is") + " a per-CPU map");
  return info;
}

inline size_t possible_cpus() {
  const int n = libbpf_num_possible_cpus();
  if (n <= 0) throw Error(errno_text("cannot count possible CPUs", n));
  return static_cast<size_t>(n);
}

// Calls take(keys, values, n) for every chunk. `stride` is the bytes per entry's value as the
// kernel lays it out. Returns false, having called take for nothing, when the map has no batch op.
template <class K>
bool batch_walk(int fd, size_t stride, uint32_t chunk,
                const std::function<void(const K*, const uint8_t*, uint32_t)>& take) {
  // Hash maps use a 4-byte bucket index as the token, array maps (the generic batch code) a
  // key; the buffer fits either, and in and out may share it since the kernel reads in first.
  uint64_t token[(std::max(sizeof(K), sizeof(uint64_t)) + 7) / 8] = {};
  std::vector<K> keys(chunk);
  std::vector<uint8_t> values(chunk * stride);
  bool first = true;
  for (;;) {
    __u32 count = static_cast<__u32>(keys.size());
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    const int rc = bpf_map_lookup_batch(fd, first ? nullptr : token, token, keys.data(), values.data(), &count, &opts);
    const int err = rc == 0 ? 0 : errno;
    if (err && first && batch_unsupported(err)) return false;
    // A hash bucket holding more entries than fit in the buffer: ENOSPC with nothing copied.
    if (err == ENOSPC && count == 0) {
      keys.resize(keys.size() * 2);
      values.resize(keys.size() * stride);
      continue;
    }
    if (err && err != ENOENT) throw Error(errno_text("cannot read BPF map (batch lookup)", err));
    if (count) take(keys.data(), values.data(), count);
    if (err == ENOENT) return true;  // the end; the last chunk may still have had entries
    first = false;
  }
}

// The fallback: one get_next_key and one lookup per entry.
template <class K>
void iterate_walk(int fd, size_t stride, const std::function<void(const K*, const uint8_t*, uint32_t)>& take) {
  K key{}, next{};
  std::vector<uint8_t> value(stride);
  const K* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    // An entry deleted between the two calls (an LRU eviction) is skipped, not an error.
    if (bpf_map_lookup_elem(fd, &next, value.data()) == 0) take(&next, value.data(), 1);
    key = next;
    prev = &key;
  }
}

template <class K>
void walk(int fd, size_t stride, uint32_t max_entries, bool use_batch,
          const std::function<void(const K*, const uint8_t*, uint32_t)>& take) {
  const uint32_t chunk = std::max<uint32_t>(1, std::min(kMapBatchChunk, max_entries));
  if (!use_batch || !batch_walk<K>(fd, stride, chunk, take)) iterate_walk<K>(fd, stride, take);
}

}  // namespace map_batch_detail

// How to read: batch ops when the kernel has them (the default), or always one entry at a time
// (what the batch path falls back to; tests compare the two).
enum class MapRead { kBatch, kIterate };

// Every entry of a hash or array map whose values are not per-CPU.
template <class K, class V>
std::vector<std::pair<K, V>> read_map(int fd, MapRead how = MapRead::kBatch) {
  static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);
  const bpf_map_info info = map_batch_detail::checked_info(fd, sizeof(K), sizeof(V), false);
  std::vector<std::pair<K, V>> out;
  out.reserve(info.max_entries < 1u << 20 ? info.max_entries : 0);
  map_batch_detail::walk<K>(fd, sizeof(V), info.max_entries, how == MapRead::kBatch,
                            [&](const K* keys, const uint8_t* values, uint32_t n) {
                              for (uint32_t i = 0; i < n; i++) {
                                V v;
                                std::memcpy(&v, values + i * sizeof(V), sizeof(V));
                                out.emplace_back(keys[i], v);
                              }
                            });
  return out;
}

// Every entry of a per-CPU hash or array map, each folded by sum(std::span<const V> per_cpu) into
// one result (usually a V with the counters added up).
template <class K, class V, class Sum>
auto read_percpu_map(int fd, Sum sum, MapRead how = MapRead::kBatch) {
  static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);
  using R = std::decay_t<std::invoke_result_t<Sum, std::span<const V>>>;
  const bpf_map_info info = map_batch_detail::checked_info(fd, sizeof(K), sizeof(V), true);
  const size_t ncpu = map_batch_detail::possible_cpus();
  const size_t slot = (sizeof(V) + 7) / 8 * 8;
  std::vector<std::pair<K, R>> out;
  out.reserve(info.max_entries < 1u << 20 ? info.max_entries : 0);
  std::vector<V> cpus(ncpu);
  map_batch_detail::walk<K>(fd, slot * ncpu, info.max_entries, how == MapRead::kBatch,
                            [&](const K* keys, const uint8_t* values, uint32_t n) {
                              for (uint32_t i = 0; i < n; i++) {
                                const uint8_t* entry = values + i * slot * ncpu;
                                for (size_t c = 0; c < ncpu; c++) std::memcpy(&cpus[c], entry + c * slot, sizeof(V));
                                out.emplace_back(keys[i], sum(std::span<const V>(cpus)));
                              }
                            });
  return out;
}

}  // namespace qpspread
