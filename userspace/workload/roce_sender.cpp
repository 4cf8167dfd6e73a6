#include "userspace/workload/roce_sender.h"

namespace qpspread::workload {

std::vector<std::vector<uint8_t>> build_qp_frames(const RoceFrameSpec& base, const QpTraffic& t) {
  std::vector<std::vector<uint8_t>> frames;
  frames.reserve(static_cast<size_t>(t.qps) * static_cast<size_t>(t.frames_per_qp));
  for (int psn = 0; psn < t.frames_per_qp; psn++) {
    for (int q = 0; q < t.qps; q++) {
      RoceFrameSpec s = base;
      s.dest_qp = t.first_qp + static_cast<uint32_t>(q);
      s.psn = static_cast<uint32_t>(psn);
      s.src_port = t.src_port;
      s.payload_len = static_cast<size_t>(t.payload);
      frames.push_back(build_rocev2_frame(s));
    }
  }
  return frames;
}

}  // namespace qpspread::workload
