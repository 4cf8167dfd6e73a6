// qpspread-bench-wan: what the netem fallback (WanRelay) delivers on this machine (root).
//  - throughput without impairment: a UDP blast of 64, 512 and 1500-byte frames (as fast as one
//    sender thread goes) through the relay; the relay's forwarded frames per second and bits per
//    second. Sender, relay and receiver share the machine's cores, as they do in the lab.
//  - delay accuracy: one-way times of UDP probes (1 per ms, same CLOCK_MONOTONIC at both ends)
//    minus the configured delay, at 0 (the processing cost alone), 1, 10 and 50 ms.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include "common/clock.h"
#include "common/command.h"
#include "common/netns.h"
#include "common/percentile.h"
#include "tests/support/wan_probe.h"
#include "userspace/wan/wan_relay.h"

using nlohmann::json;
using namespace qpspread;

namespace {

// The three namespaces of one link, removed however the benchmark ends.
struct BenchLink {
  wan::WanLinkNamespaces ns;
  BenchLink() {
    const std::string tag = std::to_string(::getpid());
    ns = {"qps-wb-a-" + tag, "qps-wb-w-" + tag, "qps-wb-b-" + tag};
    for (const auto& n : {ns.node_a, ns.wire, ns.node_b}) run_checked({"ip", "netns", "add", n});
    wan::wire_wan_link(ns);
  }
  ~BenchLink() {
    for (const auto& n : {ns.node_a, ns.wire, ns.node_b}) run_command({"ip", "netns", "del", n});
  }
};

// Until the relay has sent everything a blast left queued (nothing forwarded for 300 ms).
void wait_drained(const wan::WanRelay& relay) {
  uint64_t last = UINT64_MAX;
  for (;;) {
    const uint64_t now = relay.counters(wan::WanDirection::AtoB).forwarded;
    if (now == last) return;
    last = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

json throughput(wan::WanRelay& relay, const wan::WanLinkNamespaces& ns, size_t frame, double seconds) {
  relay.set_impairment(wan::Impairment{});
  const wan::WanCounters before = relay.counters(wan::WanDirection::AtoB);
  const int64_t t0 = mono_ns();
  const wan::BlastResult b = wan::udp_blast(ns, frame, 0, std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
  const double elapsed = static_cast<double>(mono_ns() - t0) / 1e9 - 0.5;  // less the receiver's quiet wait
  const wan::WanCounters after = relay.counters(wan::WanDirection::AtoB);
  wait_drained(relay);
  const double fwd = static_cast<double>(after.forwarded - before.forwarded);
  return {{"frame_bytes", frame}, {"offered_fps", static_cast<double>(b.sent) / seconds},
          {"relay_fps", fwd / elapsed}, {"relay_bps", fwd * static_cast<double>(frame) * 8 / elapsed},
          {"delivered_fps", b.received_fps}, {"delivered_bps", b.received_bps},
          {"relay_rx_share", b.sent ? static_cast<double>(after.received - before.received) / static_cast<double>(b.sent) : 0.0}};
}

json delay_accuracy(wan::WanRelay& relay, const wan::WanLinkNamespaces& ns, int delay_ms, int probes) {
  wan::Impairment imp;
  imp.delay_us = static_cast<uint64_t>(delay_ms) * 1000;
  relay.set_impairment(imp);
  wan::ProbeSpec spec;
  spec.count = probes;
  const wan::ProbeResult r = wan::udp_probe(ns, spec);
  std::vector<double> err_us;
  for (double ms : r.one_way_ms) err_us.push_back((ms - delay_ms) * 1000);
  return {{"delay_ms", delay_ms}, {"probes", r.sent}, {"received", r.one_way_ms.size()},
          {"median_error_us", percentile(err_us, 50)}, {"p99_error_us", percentile(err_us, 99)},
          {"max_error_us", percentile(err_us, 100)}, {"min_error_us", percentile(err_us, 0)}};
}

void print_text(const json& j) {
  std::printf("WanRelay throughput, no impairment (UDP blast %.1f s per size, 2 cores shared by sender, relay, receiver)\n",
              j["seconds"].get<double>());
  std::printf("%6s %12s %12s %14s %12s\n", "FRAME", "OFFERED/s", "RELAY/s", "RELAY Mbit/s", "RX-SHARE");
  for (const auto& t : j["throughput"])
    std::printf("%6zu %12.0f %12.0f %14.1f %11.1f%%\n", t["frame_bytes"].get<size_t>(), t["offered_fps"].get<double>(),
                t["relay_fps"].get<double>(), t["relay_bps"].get<double>() / 1e6, 100 * t["relay_rx_share"].get<double>());
  std::printf("\nOne-way delay error (relay threads SCHED_FIFO %d) vs configured (%d probes, 1 per ms, 64-byte payload), microseconds\n",
              j["rt_priority"].get<int>(), j["probes"].get<int>());
  std::printf("%8s %10s %10s %10s %10s\n", "DELAY", "MEDIAN", "P99", "MAX", "MIN");
  for (const auto& d : j["delay"])
    std::printf("%6dms %10.1f %10.1f %10.1f %10.1f\n", d["delay_ms"].get<int>(), d["median_error_us"].get<double>(),
                d["p99_error_us"].get<double>(), d["max_error_us"].get<double>(), d["min_error_us"].get<double>());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qpspread-bench-wan: WanRelay throughput and delay accuracy (root)"};
  bool as_json = false;
  double seconds = 2;
  int probes = 1000, rt = 10;
  app.add_flag("--json", as_json, "JSON output");
  app.add_option("--seconds", seconds, "blast length per frame size")->capture_default_str();
  app.add_option("--probes", probes, "delay probes per setting")->capture_default_str();
  app.add_option("--rt", rt, "SCHED_FIFO priority of the relay threads (0: normal), as qpspread wan-relay uses")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    BenchLink link;
    std::unique_ptr<wan::WanRelay> relay;
    wan::WanRelayOptions opts;
    opts.a = "a";
    opts.b = "b";
    opts.realtime_priority = rt;
    Netns::open(link.ns.wire).run([&] { relay = std::make_unique<wan::WanRelay>(opts); });
    std::atomic<bool> stop{false};
    std::thread runner([&] { relay->run(stop); });
    json j = {{"seconds", seconds}, {"probes", probes}, {"rt_priority", rt}, {"throughput", json::array()}, {"delay", json::array()}};
    try {
      for (size_t frame : {64, 512, 1500}) j["throughput"].push_back(throughput(*relay, link.ns, frame, seconds));
      for (int ms : {0, 1, 10, 50}) j["delay"].push_back(delay_accuracy(*relay, link.ns, ms, probes));
    } catch (...) {
      stop = true;
      runner.join();
      throw;
    }
    stop = true;
    runner.join();
    if (as_json)
      std::cout << j.dump(2) << "\n";
    else
      print_text(j);
  } catch (const std::exception& e) {
    std::cerr << "qpspread-bench-wan: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
