// qpspread's XDP program on an interface. Call inside the interface's namespace. An interface
// holds one XDP program: qpspread never replaces or removes one it did not attach.
#pragma once

#include <cstdint>
#include <string>

namespace qpspread {

struct XdpAttachResult {
  uint32_t prog_id = 0;
  uint32_t flags = 0;  // XDP_FLAGS_DRV_MODE (native) or XDP_FLAGS_SKB_MODE (generic)
  bool generic_fallback = false;  // native was refused: generic mode, slower, works everywhere
};

// Attaches prog_fd natively, or in generic mode if the driver refuses. `ours` is the id of the
// program qpspread attached before (0: none); any other program already there is an error.
XdpAttachResult xdp_attach(int ifindex, const std::string& ifname, int prog_fd, uint32_t ours);
// The id of the XDP program on ifindex in either mode, 0 when there is none.
uint32_t xdp_query(int ifindex);
// Removes the program if it is still `prog_id`; returns whether it did.
bool xdp_detach(int ifindex, uint32_t prog_id);
// Whether a program that only reads frames costs less on the interface's tc ingress hook than in
// XDP (see xdp_hook.cpp): true for a veth.
bool xdp_costs_more_than_tc(const std::string& ifname);

}  // namespace qpspread
