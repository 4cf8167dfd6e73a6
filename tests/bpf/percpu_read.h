// Reading the programs' per-CPU counters in fixtures: one entry, summed over the CPUs.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdint>
#include <vector>

#include "loader/pinned_maps.h"
#include "qpspread/abi.h"

namespace qpspread::test {

// A per-path entry (zeros when the path has none).
inline qps_path_stats sum_path(int map_fd, const qps_path_key& key) {
  std::vector<qps_path_stats> v(static_cast<size_t>(libbpf_num_possible_cpus()));
  if (bpf_map_lookup_elem(map_fd, &key, v.data()) != 0) return {};
  return sum_cpus<qps_path_stats>(v);
}

// Packets counted under one reason.
inline uint64_t reason_packets(int map_fd, uint32_t reason) {
  std::vector<qps_reason_stats> v(static_cast<size_t>(libbpf_num_possible_cpus()));
  if (bpf_map_lookup_elem(map_fd, &reason, v.data()) != 0) return ~0ull;
  return sum_cpus<qps_reason_stats>(v).packets;
}

}  // namespace qpspread::test
