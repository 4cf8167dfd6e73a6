// Traffic of many queue pairs between two hosts, as frames ready to send with RawSender and to
// compare, byte for byte, with what a FrameCapture receives.
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
  // One fixed inner source port for every QP, the habit of some NICs and the hardest case for
  // ECMP: the QP then differs only in the BTH, which no router hashes on.
  uint16_t src_port = 49152;
  // The first PSN of every QP: a run that follows another on the same QPs goes on from where it
  // ended, so a receiver tracking PSNs sees one sequence.
  uint32_t first_psn = 0;
};

// Frames round-robin over the QPs (QP first_qp .. first_qp+qps-1): frame i belongs to QP
// first_qp + i % qps, and each QP's PSNs count up from base.psn (24-bit wrap). Source port and
// payload length come from `traffic`, everything else from `base`. Throws qpspread::Error when
// the counts are negative, the payload does not fit, or a QP number exceeds 24 bits.
std::vector<std::vector<uint8_t>> build_qp_frames(const RoceFrameSpec& base, const QpTraffic& traffic);

}  // namespace qpspread::workload
