// One BPF_PROG_TEST_RUN of a tc or XDP program on a frame, and a hex dump for mismatch messages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qpspread::test {

struct RunResult {
  int err = 0;
  uint32_t retval = 0;
  uint32_t mark = 0;         // skb->mark after the run
  std::vector<uint8_t> out;  // the frame after the run
};

RunResult run_tc_prog(int prog_fd, const std::vector<uint8_t>& frame, uint32_t mark_in = 0);
// XDP: the frame arrives on lo (ingress_ifindex 1), as BPF_PROG_TEST_RUN does without a context.
RunResult run_xdp_prog(int prog_fd, const std::vector<uint8_t>& frame);
std::string hex(const std::vector<uint8_t>& bytes);

}  // namespace qpspread::test
