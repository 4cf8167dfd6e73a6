// AF_PACKET sockets for sending and capturing whole Ethernet frames on one interface.
//
// Namespaces: a socket belongs to the network namespace of the thread that creates it, and the
// interface name is looked up there too. Create these objects inside Netns::run(); they stay bound
// to that namespace's interface and can be used (sent on, drained) from any thread afterwards, for
// instance after Netns::run() has returned. One object must not be used by two threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace qpspread::workload {

// Sends frames exactly as given (no header is added) out of one interface. The socket is bound
// with protocol 0, so the kernel never queues received frames on it.
class RawSender {
 public:
  // Throws qpspread::Error naming the interface when it does not exist in the calling thread's
  // namespace or the socket cannot be opened (needs CAP_NET_RAW).
  explicit RawSender(const std::string& ifname);
  // Sends one frame; waits briefly while the device queue is full. Throws qpspread::Error.
  void send(std::span<const uint8_t> frame);
  // Sends all frames, as many per sendmmsg() call as the kernel takes (one system call per
  // batch is what lets one core fill a link); waits briefly while the queue is full.
  void send_batch(std::span<const std::span<const uint8_t>> frames);
  const std::string& ifname() const { return ifname_; }

 private:
  // Waits up to the deadline for room in the device queue after ENOBUFS/EAGAIN; throws
  // otherwise or once the deadline has passed.
  void wait_for_room(int err, size_t bytes, std::chrono::steady_clock::time_point deadline);
  std::string ifname_;
  UniqueFd fd_;
};

// Receive buffers for FrameCapture::receive: `slots` frames of up to `snap` bytes each.
class FrameBatch {
 public:
  explicit FrameBatch(size_t slots = 64, size_t snap = 9216)
      : snap_(snap), storage_(slots * snap), lens_(slots) {}
  size_t capacity() const { return lens_.size(); }
  size_t size() const { return count_; }
  std::span<const uint8_t> operator[](size_t i) const { return {&storage_[i * snap_], lens_[i]}; }

 private:
  friend class FrameCapture;
  size_t snap_;
  std::vector<uint8_t> storage_;
  std::vector<size_t> lens_;
  size_t count_ = 0;
};

// Captures the frames of one interface from construction on.
class FrameCapture {
 public:
  enum class Direction { Incoming, Outgoing, Both };
  // Direction is decided by the kernel's sll_pkttype (PACKET_OUTGOING means sent by this host).
  // udp_dport != 0: only untagged IPv4 UDP frames to that port are kept, so routing protocol
  // chatter (BGP, BFD, ARP) neither fills the buffer nor keeps drain() waiting. Both filters run
  // in the kernel (a socket filter installed before the socket is bound, so no frame slips in
  // unfiltered), with a receive buffer of 32 MiB so bursts are not dropped before drain().
  FrameCapture(const std::string& ifname, Direction dir, uint16_t udp_dport = 0);
  // Returns the frames captured so far and those that follow, until nothing has arrived for
  // `quiet` (or `max_wait` has passed in all); the next call continues where this one stopped.
  std::vector<std::vector<uint8_t>> drain(
      std::chrono::milliseconds quiet = std::chrono::milliseconds(300),
      std::chrono::milliseconds max_wait = std::chrono::milliseconds(5000));
  // Fills `batch` with the frames already queued, or else those arriving within `timeout`
  // (recvmmsg: one system call per batch); returns how many. Longer frames are truncated.
  size_t receive(FrameBatch& batch, std::chrono::nanoseconds timeout);
  const std::string& ifname() const { return ifname_; }

 private:
  std::string ifname_;
  Direction dir_;
  UniqueFd fd_;
};

}  // namespace qpspread::workload
