// qpspread-bench-workload: frames per second one sender thread pushes into a veth pair with
// sendmmsg, at 256-byte frames (goal: at least 300 000). Two figures: "prebuilt" sends ready
// frames (the socket path alone); "rc" has an RC queue pair build every frame (timestamp,
// headers, ICRC, UDP checksum) as the workload generator does. Needs root (a private netns).
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "common/command.h"
#include "common/netns.h"
#include "userspace/workload/raw_socket.h"
#include "userspace/workload/rc_transport.h"

namespace {

using namespace qpspread::workload;
using qpspread::mono_ns;

constexpr double kGoal = 300'000;
constexpr size_t kFrameBytes = 256;
// Ethernet 14 + IPv4 20 + UDP 8 + BTH 12 + ICRC 4 around the RoCE payload.
constexpr uint32_t kPayload = kFrameBytes - 58;

// A namespace with a veth pair, deleted on every way out.
struct BenchNetns {
  std::string name = "qpsb-wl-" + std::to_string(::getpid());
  BenchNetns() {
    qpspread::run_checked({"ip", "netns", "add", name});
    qpspread::run_checked({"ip", "-n", name, "link", "add", "btx0", "type", "veth", "peer", "name", "brx0"});
    qpspread::run_checked({"ip", "-n", name, "link", "set", "btx0", "up"});
    qpspread::run_checked({"ip", "-n", name, "link", "set", "brx0", "up"});
  }
  ~BenchNetns() { qpspread::run_command({"ip", "netns", "del", name}); }
};

RcQpConfig qp_config() {
  RcQpConfig c;
  c.local_qpn = 0x100;
  c.remote_qpn = 0x200;
  c.local_ip = 0x0a630001;
  c.remote_ip = 0x0a630002;
  c.remote_mac = {0x02, 0, 0, 0, 0x63, 0x02};  // not brx0's: the peer drops frames early
  c.mtu = kPayload;
  c.window = 0x3fffff;  // nobody ACKs: the window must not stop the sender
  c.ack_timeout_ns = INT64_MAX / 2;
  return c;
}

// Frames per second over `seconds`, sending batches of `batch`; `build` fills a batch.
template <typename Build>
double measure(RawSender& tx, double seconds, size_t batch, Build build) {
  std::vector<std::vector<uint8_t>> bufs(batch);
  std::vector<std::span<const uint8_t>> spans(batch);
  uint64_t frames = 0;
  const int64_t start = mono_ns(), end = start + static_cast<int64_t>(seconds * 1e9);
  int64_t now = start;
  while (now < end) {
    build(bufs, now);
    for (size_t i = 0; i < batch; i++) spans[i] = bufs[i];
    tx.send_batch(spans);
    frames += batch;
    now = mono_ns();
  }
  return static_cast<double>(frames) / (static_cast<double>(now - start) / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"frames per second of one sender thread into a veth pair (sendmmsg, 256-byte frames)"};
  double seconds = 2;
  size_t batch = 32;
  bool json = false;
  app.add_option("--seconds", seconds, "seconds per measurement")->capture_default_str();
  app.add_option("--batch", batch, "frames per sendmmsg")->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_flag("-j,--json", json, "JSON output");
  CLI11_PARSE(app, argc, argv);
  if (::geteuid() != 0) {
    std::cerr << "run as root (creates a network namespace, AF_PACKET)\n";
    return 1;
  }
  double prebuilt = 0, rc = 0;
  try {
    BenchNetns ns;
    qpspread::Netns::open(ns.name).run([&] {
      RawSender tx("btx0");
      RcQp qp(qp_config());
      std::vector<uint8_t> one;
      qp.post_send(std::vector<uint8_t>(kPayload - kTimestampLen, 1));
      qp.next_data(mono_ns(), one);
      prebuilt = measure(tx, seconds, batch, [&](auto& bufs, int64_t) {
        for (auto& b : bufs)
          if (b.empty()) b = one;
      });
      // Each batch is one posted message, acknowledged after it is sent (as a responder would)
      // so the QP's memory stays bounded; posting and the ACK are counted, once per batch.
      const std::vector<uint8_t> msg(batch * (kPayload - kTimestampLen), 2);
      RoceFrameSpec ack;
      ack.opcode = static_cast<uint8_t>(RcOpcode::Acknowledge);
      ack.dest_qp = 0x100;
      uint8_t aeth[kAethLen];
      put_aeth(aeth, Aeth{});
      ack.payload_data = aeth;
      ack.payload_len = sizeof(aeth);
      rc = measure(tx, seconds, batch, [&](auto& bufs, int64_t now) {
        if (ack.psn) qp.on_frame(*parse_rocev2(build_rocev2_frame(ack)), now);
        qp.post_send(msg);
        for (auto& b : bufs) qp.next_data(now, b);
        ack.psn = parse_rocev2(bufs.back())->psn;
      });
    });
  } catch (const std::exception& e) {
    std::cerr << "qpspread-bench-workload: " << e.what() << "\n";
    return 1;
  }
  if (json) {
    std::cout << nlohmann::json{{"frame_bytes", kFrameBytes}, {"batch", batch}, {"seconds", seconds},
                                {"prebuilt_fps", prebuilt}, {"rc_fps", rc}, {"goal_fps", kGoal},
                                {"goal_met", rc >= kGoal}}
                     .dump()
              << "\n";
  } else {
    std::printf("one sender thread, %zu-byte frames, sendmmsg batches of %zu, veth:\n", kFrameBytes, batch);
    std::printf("  prebuilt frames  %10.0f frames/s\n", prebuilt);
    std::printf("  rc queue pair    %10.0f frames/s  (goal >= %.0f: %s)\n", rc, kGoal,
                rc >= kGoal ? "met" : "NOT met");
  }
  return 0;
}
