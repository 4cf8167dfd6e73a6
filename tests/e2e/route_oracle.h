// A router's own answer to "which link does this VXLAN frame leave by?", asked of its kernel.
//
// The kernel hashes a flow two ways (net/ipv4/route.c fib_multipath_hash): a packet the node
// sends itself (a VTEP's VXLAN output) from the flow (fl4), a forwarded packet from the skb.
// Under hash policy 3 the two differ (the skb hash is jhash_2words(outer, inner, 0), the flow
// hash is the outer hash alone), so each case has its own oracle:
// - local_choice: bpf_fib_lookup() run in the node's namespace (the product's FibProbe,
//   loader/fib_probe.h, which mode balance maps ports to paths with); the helper selects the path
//   from a flow, without a skb, exactly like udp_tunnel_dst_lookup().
// - forwarded_choice: `ip route get ... iif IF ipproto udp sport P dport 4789`; the kernel builds a
//   skb with those headers and routes it as input, through the same skb hash as forwarding.
#pragma once

#include <cstdint>
#include <string>

#include "loader/fib_probe.h"

namespace qpspread::test {

// The outer header of a VXLAN frame (addresses dotted quad).
struct OuterFlow {
  std::string src, dst;
  uint16_t sport = 0, dport = 4789;
};

// The interface the node `netns` picks for `f` as a packet it sends itself (UDP). Throws
// qpspread::Error when the lookup fails (the helper's BPF_FIB_LKUP_RET_* code is named).
std::string local_choice(const FibProbe& probe, const std::string& netns, const OuterFlow& f);

// The interface the node `netns` picks for `f` (UDP) arriving on `iif`. Throws qpspread::Error.
std::string forwarded_choice(const std::string& netns, const std::string& iif, const OuterFlow& f);

}  // namespace qpspread::test
