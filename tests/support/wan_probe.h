// Measuring a WAN link as the relay sees it: a two-node link wired the way the lab runner wires
// one (node A wan0 <-> a [wire] b <-> wan0 node B, 10.77.0.1 and 10.77.0.2 with static neighbours
// so no ARP crosses the impaired link), and UDP traffic between the nodes from C++ sockets on
// threads inside their namespaces. Used by the end-to-end test and by qpspread-bench-wan.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace qpspread::wan {

struct WanLinkNamespaces {
  std::string node_a, wire, node_b;  // existing namespaces
};

// Creates the veths and addresses; the relay's interfaces in `wire` are named a and b.
void wire_wan_link(const WanLinkNamespaces& ns);

constexpr size_t kUdpFrameOverhead = 14 + 20 + 8;  // Ethernet, IPv4, UDP headers

struct ProbeSpec {
  int count = 200;
  std::chrono::microseconds interval{1000};
  size_t payload = 64;  // bytes of UDP payload, at least 16
  bool echo = false;    // node B sends each probe back: round trips are measured too
  std::chrono::milliseconds wait{1000};  // after the last probe, for stragglers
};

struct ProbeResult {
  int sent = 0;
  std::vector<double> one_way_ms;  // per probe that reached B, in arrival order
  std::vector<double> rtt_ms;      // per echo that came back to A (echo only)
  bool in_order = true;            // B saw the sequence numbers only grow
};

// Probes from A to B (both on this host's CLOCK_MONOTONIC, so one-way times are exact).
ProbeResult udp_probe(const WanLinkNamespaces& ns, const ProbeSpec& spec);

struct BlastResult {
  uint64_t sent = 0, received = 0;
  double seconds = 0;        // first to last arrival at B
  double received_bps = 0;   // frame bits (Ethernet header on) per second at B
  double received_fps = 0;   // frames per second at B
};

// Fixed-size UDP datagrams from A to B for `duration`, paced at offered_bps (frame bits; 0: as
// fast as the sender goes), counted at B; `tos`: their IPv4 ToS byte (2: ECT(0)).
BlastResult udp_blast(const WanLinkNamespaces& ns, size_t frame_bytes, uint64_t offered_bps,
                      std::chrono::milliseconds duration, int tos = 0);


}  // namespace qpspread::wan
