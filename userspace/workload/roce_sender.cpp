#include "userspace/workload/roce_sender.h"

#include <string>

#include "common/error.h"

namespace qpspread::workload {

std::vector<std::vector<uint8_t>> build_qp_frames(const RoceFrameSpec& base, const QpTraffic& t) {
  if (t.qps < 0 || t.frames_per_qp < 0 || t.payload < 0)
    throw Error("QP traffic needs non-negative counts (qps " + std::to_string(t.qps) +
                ", frames per QP " + std::to_string(t.frames_per_qp) + ", payload " +
                std::to_string(t.payload) + ")");
  // A QP number wider than the BTH's 24 bits would be truncated into another QP's number.
  if (t.qps > 0 && uint64_t{t.first_qp} + static_cast<uint64_t>(t.qps) - 1 > 0xffffff)
    throw Error("QPs " + std::to_string(t.first_qp) + ".. (" + std::to_string(t.qps) +
                " of them) exceed the 24-bit QP number");
  std::vector<std::vector<uint8_t>> frames;
  frames.reserve(static_cast<size_t>(t.qps) * static_cast<size_t>(t.frames_per_qp));
  for (int i = 0; i < t.frames_per_qp; i++) {
    for (int q = 0; q < t.qps; q++) {
      RoceFrameSpec s = base;
      s.dest_qp = t.first_qp + static_cast<uint32_t>(q);
      s.psn = (base.psn + static_cast<uint32_t>(i)) & 0xffffff;
      s.src_port = t.src_port;
      s.payload_len = static_cast<size_t>(t.payload);
      frames.push_back(build_rocev2_frame(s));
    }
  }
  return frames;
}

}  // namespace qpspread::workload
