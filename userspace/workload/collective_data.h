// Float vectors as messages, and the test data of the collectives: small integers, so float
// sums are exact in any order and a result can be compared for equality.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace qpspread::workload {

inline std::vector<uint8_t> floats_to_bytes(std::span<const float> v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Copies as many floats as both hold; false when the sizes differ.
inline bool bytes_to_floats(const std::vector<uint8_t>& b, std::span<float> out) {
  if (b.size() != out.size() * sizeof(float)) return false;
  if (!b.empty()) std::memcpy(out.data(), b.data(), b.size());
  return true;
}

// Element i of rank r's contribution in iteration it: below 1024, so N ranks sum exactly.
inline float contribution(int rank, int iteration, size_t i) {
  return static_cast<float>((static_cast<size_t>(rank) * 131 + i + static_cast<size_t>(iteration) * 7) % 1024);
}

// [begin, end) of chunk c when n elements are cut into `chunks` nearly equal parts.
inline std::pair<size_t, size_t> chunk_range(size_t n, int chunks, int c) {
  const auto k = static_cast<size_t>(chunks), i = static_cast<size_t>(c);
  return {n * i / k, n * (i + 1) / k};
}

}  // namespace qpspread::workload
