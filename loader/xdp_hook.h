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
// generic_on_veth: on a veth, generic mode straight away (for a program that only reads: there it
// costs less than native, see xdp_hook.cpp).
XdpAttachResult xdp_attach(int ifindex, const std::string& ifname, int prog_fd, uint32_t ours, bool generic_on_veth);
// The id of the XDP program on ifindex in either mode, 0 when there is none.
uint32_t xdp_query(int ifindex);
// Removes the program if it is still `prog_id`; returns whether it did.
bool xdp_detach(int ifindex, uint32_t prog_id);

}  // namespace qpspread
