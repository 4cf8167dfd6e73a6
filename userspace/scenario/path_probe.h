// Path probes (mode balance's knowledge of the stages further on, as Clove learns them by
// traceroute): VXLAN frames of QPS_PROBE_VNI sent from a VTEP's address to a remote VTEP with
// chosen outer source ports, each carrying a RoCEv2 header whose QPN names the probe, so that a
// router on the way where qpspread counts the uplinks (a border's WAN links) records, per probe,
// the link it left by. The ECMP stages there hash the outer headers only, so a port's link is the
// link of every frame between the two VTEPs with that port, as long as the router's routes stay.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/netns.h"

namespace qpspread::scenario {

struct ProbeBatch {
  std::string local, remote;  // the VTEPs' addresses (one family)
  uint16_t dstport = 4789;
  uint32_t tag = 0;  // 8 bits: this controller's, in the QPNs, so two controllers' probes differ
  std::vector<uint16_t> ports;
};

// The QPN of the probe with this port: tag << 16 | port.
uint32_t probe_qpn(uint32_t tag, uint16_t port);

// Sends one probe per port from the calling thread's namespace (run it in the VTEP's): raw IP
// sockets, so the kernel routes them as it routes the VTEP's own frames to the remote. Throws
// qpspread::Error when the socket cannot be opened or a frame not sent.
void send_probes(const ProbeBatch& batch);

// What a router recorded of a batch: per port, the interface name the probe left by. Waits up to
// `wait_ms` for all of them (the probes cross the fabric); the ports missing then did not pass any
// of its attached uplinks. Only records with the batch's port and remote VTEP count.
std::map<uint16_t, std::string> read_probes(const Netns& router, const ProbeBatch& batch, int wait_ms);

}  // namespace qpspread::scenario
