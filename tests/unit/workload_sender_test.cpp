// Frames of many QPs: order, PSN sequence, source port, and refusal of impossible traffic.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "common/error.h"
#include "userspace/workload/roce_sender.h"

namespace qpspread::workload {
namespace {

TEST(QpFrames, RoundRobinOverQpsWithIncreasingPsn) {
  RoceFrameSpec base;
  base.src_ip = 0x0a000001;
  base.dst_ip = 0x0a000002;
  base.src_port = 1;  // overridden by the traffic's port
  base.psn = 1000;
  QpTraffic t;
  t.qps = 4;
  t.first_qp = 0x200;
  t.frames_per_qp = 5;
  t.payload = 64;
  t.src_port = 50000;
  const auto frames = build_qp_frames(base, t);
  ASSERT_EQ(frames.size(), 20u);
  std::set<std::vector<uint8_t>> distinct(frames.begin(), frames.end());
  EXPECT_EQ(distinct.size(), frames.size());
  for (size_t i = 0; i < frames.size(); i++) {
    const auto qp_psn = parse_rocev2_qp_psn(frames[i]);
    ASSERT_TRUE(qp_psn);
    EXPECT_EQ(qp_psn->first, 0x200u + i % 4) << "frame " << i;
    EXPECT_EQ(qp_psn->second, 1000u + i / 4) << "frame " << i;
    EXPECT_EQ(frames[i][34] << 8 | frames[i][35], 50000) << "frame " << i;
    EXPECT_EQ(frames[i].size(), 14u + 20 + 8 + 12 + 64 + 4);
  }
}

TEST(QpFrames, DefaultsAndPsnWrap) {
  RoceFrameSpec base;
  base.psn = 0xfffffe;
  QpTraffic t;  // 16 QPs from 0x100, 100 frames each, 256 bytes, port 49152
  const auto frames = build_qp_frames(base, t);
  ASSERT_EQ(frames.size(), 1600u);
  EXPECT_EQ(parse_rocev2_qp_psn(frames[15])->first, 0x10fu);
  EXPECT_EQ(parse_rocev2_qp_psn(frames[16])->second, 0xffffffu);
  EXPECT_EQ(parse_rocev2_qp_psn(frames[32])->second, 0u);  // 24-bit PSN wraps
}

TEST(QpFrames, ImpossibleTrafficThrows) {
  QpTraffic t;
  t.qps = -1;
  EXPECT_THROW(build_qp_frames({}, t), Error);
  t = QpTraffic{};
  t.first_qp = 0xfffff0;
  t.qps = 17;  // the last QP would be 0x1000000
  EXPECT_THROW(build_qp_frames({}, t), Error);
  t.qps = 16;
  t.frames_per_qp = 1;
  EXPECT_EQ(build_qp_frames({}, t).size(), 16u);
  t.qps = 0;
  EXPECT_TRUE(build_qp_frames({}, t).empty());
}

}  // namespace
}  // namespace qpspread::workload
