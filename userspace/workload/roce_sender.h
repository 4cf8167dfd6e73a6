// Traffic of many queue pairs between two hosts, as frames ready to send.
#pragma once

#include <cstdint>
#include <vector>

#include "userspace/workload/roce_frame.h"

namespace qpspread::workload {

struct QpTraffic {
  int qps = 16;
  uint32_t first_qp = 0x100;
  int frames_per_qp = 100;
  int payload = 256;
  uint16_t src_port = 49152;  // one fixed inner source port for every QP
};

// Round-robin over the QPs, PSNs increasing per QP from 0; other fields from `base`.
std::vector<std::vector<uint8_t>> build_qp_frames(const RoceFrameSpec& base, const QpTraffic& traffic);

}  // namespace qpspread::workload
