// One experiment on a TestFabric: RoCEv2 frames from host 1 to host 2 over the fabric, observed
// on every uplink of leaf 1 and at host 2. The demo prints it; the end-to-end test asserts on it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_fabric.h"
#include "userspace/workload/roce_sender.h"

namespace qpspread::lab {

struct QpPath {
  std::set<std::string> uplinks;  // the uplinks this QP's frames left by
  std::set<uint16_t> sports;      // the outer UDP source ports they carried
  uint64_t frames = 0;
};

struct SpreadResult {
  std::map<std::string, uint64_t> uplink_frames;  // RoCEv2-in-VXLAN frames per leaf-1 uplink
  std::map<uint32_t, QpPath> qps;                 // by destination QP
  size_t sent = 0;
  size_t received = 0;            // RoCEv2 frames host 2 received
  size_t received_identical = 0;  // ... that are byte-identical to a frame host 1 sent
  uint32_t inner_src = 0, inner_dst = 0;  // host order, for predicting ports
};

// Sends traffic.qps x traffic.frames_per_qp frames and collects what was seen.
SpreadResult run_spread(const TestFabric& fabric, const workload::QpTraffic& traffic);

// Frames per uplink as a list, in uplink order, for metrics::imbalance() and jain_index().
std::vector<uint64_t> frame_counts(const SpreadResult& r);

}  // namespace qpspread::lab
