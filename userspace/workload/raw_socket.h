// AF_PACKET sockets for sending and capturing whole frames on one interface. A socket belongs to
// the network namespace of the thread that creates it (create it inside Netns::run) and can be
// used from any thread afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "loader/unique_fd.h"

namespace qpspread::workload {

class RawSender {
 public:
  explicit RawSender(const std::string& ifname);
  void send(std::span<const uint8_t> frame);

 private:
  std::string ifname_;
  int ifindex_ = 0;
  UniqueFd fd_;
};

class FrameCapture {
 public:
  enum class Direction { Incoming, Outgoing, Both };
  // udp_dport != 0: only IPv4 UDP frames to that port reach the socket (a kernel socket filter),
  // so routing protocol chatter (BGP, BFD) neither fills the buffer nor delays drain().
  FrameCapture(const std::string& ifname, Direction dir, uint16_t udp_dport = 0);
  // The frames seen so far, reading until nothing has arrived for `quiet`, `max_wait` at most.
  std::vector<std::vector<uint8_t>> drain(std::chrono::milliseconds quiet = std::chrono::milliseconds(300),
                                          std::chrono::milliseconds max_wait = std::chrono::milliseconds(5000));

 private:
  std::string ifname_;
  Direction dir_;
  UniqueFd fd_;
};

}  // namespace qpspread::workload
