// libFuzzer: the workload's frame parsers (RoCEv2, RoCEv2 in VXLAN, BTH QPN/PSN, AETH) on a buffer
// exactly as long as the input.
#include <cstdint>
#include <vector>

#include "userspace/workload/rc_wire.h"
#include "userspace/workload/roce_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> frame(data, data + size);
  using namespace qpspread::workload;
  if (auto v = parse_rocev2(frame)) (void)parse_aeth(v->payload);
  (void)parse_vxlan_frame(frame);
  (void)parse_rocev2_qp_psn(frame);
  (void)parse_aeth(frame);
  return 0;
}
