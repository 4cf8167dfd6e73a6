#include "tests/support/spread_probe.h"

#include <arpa/inet.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "common/interrupt.h"
#include "common/netns.h"
#include "userspace/workload/raw_socket.h"
#include "userspace/workload/roce_frame.h"

namespace qpspread::lab {
namespace {

using workload::FrameCapture;
using Frames = std::vector<std::vector<uint8_t>>;
constexpr uint16_t kVxlanPort = 4789;
constexpr uint16_t kRoceV2Port = 4791;

uint32_t ipv4(const std::string& text) {
  in_addr a{};
  inet_pton(AF_INET, text.c_str(), &a);
  return ntohl(a.s_addr);
}

void tally_uplink(const std::string& uplink, const Frames& frames, SpreadResult& res) {
  for (const auto& f : frames) {
    auto v = workload::parse_vxlan_frame(f);
    if (!v || !v->inner_is_roce) continue;  // BGP, BFD, ARP: not part of the experiment
    res.uplink_frames[uplink]++;
    QpPath& qp = res.qps[v->dest_qp];
    qp.uplinks.insert(uplink);
    qp.sports.insert(v->outer_sport);
    qp.frames++;
  }
}

}  // namespace

SpreadResult run_spread(const TestFabric& fabric, const workload::QpTraffic& traffic) {
  const HostInfo src = fabric.host(0), dst = fabric.host(1);
  workload::RoceFrameSpec spec;
  spec.src_mac = src.mac;
  spec.dst_mac = dst.mac;
  spec.src_ip = ipv4(src.ip);
  spec.dst_ip = ipv4(dst.ip);
  spec.src_port = traffic.src_port;
  spec.psn = traffic.first_psn;
  spec.payload_len = static_cast<size_t>(traffic.payload);
  const Frames sent = workload::build_qp_frames(spec, traffic);

  SpreadResult res;
  res.inner_src = spec.src_ip;
  res.inner_dst = spec.dst_ip;
  const std::vector<std::string> uplinks = fabric.leaf_uplinks(0);
  for (const auto& u : uplinks) res.uplink_frames[u] = 0;

  // Sockets belong to the namespace they were created in and can be read from here afterwards.
  std::vector<std::unique_ptr<FrameCapture>> caps;
  Netns::open(fabric.leaf_netns(0)).run([&] {
    for (const auto& u : uplinks)
      caps.push_back(std::make_unique<FrameCapture>(u, FrameCapture::Direction::Outgoing, kVxlanPort));
  });
  std::unique_ptr<FrameCapture> rx;
  Netns::open(dst.netns).run([&] {
    rx = std::make_unique<FrameCapture>(dst.ifname, FrameCapture::Direction::Incoming, kRoceV2Port);
  });
  Netns::open(src.netns).run([&] {
    workload::RawSender tx(src.ifname);
    for (size_t i = 0; i < sent.size(); i++) {
      tx.send(sent[i]);
      // Paced so no queue on the way (veth backlog, bridge) drops: the test counts every frame.
      if (i % 64 == 63) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        throw_if_interrupted();
      }
    }
  });
  res.sent = sent.size();

  for (size_t i = 0; i < uplinks.size(); i++) tally_uplink(uplinks[i], caps[i]->drain(), res);
  Frames got = rx->drain();
  Frames expected = sent;
  std::sort(expected.begin(), expected.end());
  for (const auto& f : got) {
    if (!workload::parse_rocev2_qp_psn(f)) continue;
    res.received++;
    if (std::binary_search(expected.begin(), expected.end(), f)) res.received_identical++;
  }
  return res;
}

std::vector<uint64_t> frame_counts(const SpreadResult& r) {
  std::vector<uint64_t> v;
  for (const auto& [_, n] : r.uplink_frames) v.push_back(n);
  return v;
}

}  // namespace qpspread::lab
