// qpspread-bench-path: frames per second over the whole path, from a host through its VTEP, a
// spine and the far VTEP to the far host, on a real FRR EVPN-VXLAN fabric of namespaces (2 leaves,
// 2 spines: the test fabric), with qpspread unattached and attached to both leaves as `qpspread
// attach` does, the VNI in mode off, qp-hash or balance (every QP given a port, as the controller
// would); --settings adds the same with the VXLAN devices' program alone (-vtep: uplinks none),
// `empty`: an empty program on each of qpspread's hooks, what the hooks alone cost; and -clsact:
// the same through clsact filters instead of tcx.
// One sender thread on one CPU sends 256-byte RoCEv2 frames over 64 QPs as fast as it can; the
// whole path runs in that CPU's softirq, so the far host's frame rate is the path's cost. The
// settings are interleaved round by round (each round in another order), so a slow stretch of the
// VM hits them all; a figure is the median (and min-max) of the rounds, a ratio the median of the
// rounds' ratios to the same round's unattached figure. Root, FRR.
#include <bpf/libbpf.h>
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "common/clock.h"
#include "common/command.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/netns.h"
#include "loader/attach.h"
#include "loader/log.h"
#include "loader/skeleton.h"
#include "loader/tc_hook.h"
#include "bench_empty.skel.h"
#include "tests/support/test_fabric.h"
#include "userspace/workload/raw_socket.h"
#include "userspace/workload/roce_sender.h"

namespace {

using namespace qpspread;
using nlohmann::json;

constexpr size_t kFrameBytes = 256;
constexpr int kRoceOverhead = 58;  // Ethernet 14, IPv4 20, UDP 8, BTH 12, ICRC 4
constexpr double kGoalQpHash = 0.98, kGoalOff = 0.99;

// What the leaves run for one point of the benchmark: nothing, or qpspread attached as `qpspread
// attach` does (every VXLAN device; uplinks discovered, or none: the VTEP program alone) in a mode,
// through tcx where the kernel has it (attach's default) or, for -clsact, through clsact filters.
// `empty`: attached, then every program of qpspread's replaced by an empty one on the same hook:
// what the hooks alone cost, the floor under any program there.
struct Setting {
  const char* name;
  bool attached;
  qps_mode mode;
  bool uplinks;
  bool empty = false;
  std::optional<TcApi> api = std::nullopt;  // none: attach's default
};
constexpr Setting kSettings[] = {
    {"unattached", false, QPS_MODE_OFF, false},
    {"off", true, QPS_MODE_OFF, true},
    {"qp-hash", true, QPS_MODE_QP_HASH, true},
    {"balance", true, QPS_MODE_BALANCE, true},
    {"off-vtep", true, QPS_MODE_OFF, false},
    {"qp-hash-vtep", true, QPS_MODE_QP_HASH, false},
    {"balance-vtep", true, QPS_MODE_BALANCE, false},
    {"empty", true, QPS_MODE_OFF, true, true},
    {"empty-vtep", true, QPS_MODE_OFF, false, true},
    {"off-clsact", true, QPS_MODE_OFF, true, false, TcApi::clsact},
    {"qp-hash-clsact", true, QPS_MODE_QP_HASH, true, false, TcApi::clsact},
    {"balance-clsact", true, QPS_MODE_BALANCE, true, false, TcApi::clsact},
    {"empty-clsact", true, QPS_MODE_OFF, true, true, TcApi::clsact},
    {"empty-clsact-vtep", true, QPS_MODE_OFF, false, true, TcApi::clsact},
};

const Setting& setting_named(const std::string& name) {
  for (const auto& s : kSettings)
    if (name == s.name) return s;
  std::string known;
  for (const auto& s : kSettings) known += std::string(known.empty() ? "" : ", ") + s.name;
  throw Error("unknown setting '" + name + "'; known: " + known);
}

uint32_t ipv4_of(const std::string& cidr) {
  unsigned a, b, c, d;
  if (std::sscanf(cidr.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) != 4) throw Error("bad address " + cidr);
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// The interface's received frames, as the kernel counts them (ip -s -j link).
uint64_t rx_packets(const std::string& netns, const std::string& ifname) {
  const json j = json::parse(run_checked({"ip", "-n", netns, "-s", "-j", "link", "show", "dev", ifname}));
  return j.at(0).at("stats64").at("rx").at("packets").get<uint64_t>();
}

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    throw Error("cannot run on CPU " + std::to_string(cpu) + ": " + std::strerror(errno));
}

class PathBench {
 public:
  PathBench(lab::TestFabric& fabric, int qps, int cpu) : fabric_(fabric), cpu_(cpu) {
    const lab::HostInfo src = fabric.host(0), dst = fabric.host(1);
    workload::RoceFrameSpec spec;
    spec.src_mac = src.mac;
    spec.dst_mac = dst.mac;
    spec.src_ip = ipv4_of(src.ip);
    spec.dst_ip = ipv4_of(dst.ip);
    workload::QpTraffic t;
    t.qps = qps;
    t.frames_per_qp = 32;
    t.payload = static_cast<int>(kFrameBytes) - kRoceOverhead;
    frames_ = workload::build_qp_frames(spec, t);
    for (const auto& f : frames_) spans_.emplace_back(f);
    for (int i = 0; i < qps; i++) qpns_.push_back(t.first_qp + static_cast<uint32_t>(i));
  }
  ~PathBench() {
    for (int i = 0; i < 2; i++) {
      try {
        const Netns ns = Netns::open(fabric_.leaf_netns(i));
        detach(ns);
      } catch (const std::exception&) {
      }
    }
  }

  void apply(const Setting& s) {
    for (int i = 0; i < 2; i++) {
      const Netns ns = Netns::open(fabric_.leaf_netns(i));
      // Detached first: attach keeps what is attached, and a setting may have fewer uplinks.
      detach(ns);
      if (!s.attached) continue;
      AttachOptions o;
      o.initial_mode.mode = QPS_MODE_OFF;
      o.discover_uplinks = s.uplinks;
      o.tc_api = s.api;
      const AttachReport r = attach(ns, o);
      if (s.empty) {
        empty_programs(ns, r);
        continue;
      }
      set_mode(ns, fabric_.vni(), {s.mode, QPS_DEFAULT_FLOWLET_GAP_US, 0});
      if (s.mode == QPS_MODE_BALANCE && i == 0) {
        // Every QP its own port, spread over the device's range, as the balance controller assigns.
        const DeviceState& dev = r.devices.at(0);
        std::map<uint32_t, uint16_t> ports;
        for (size_t q = 0; q < qpns_.size(); q++)
          ports[qpns_[q]] = static_cast<uint16_t>(dev.port_min + (q * dev.port_count) / qpns_.size());
        assign_ports(ns, fabric_.vni(), ports);
      }
    }
  }

  // Frames per second the far host received while the near one sent for `seconds`.
  double measure(double seconds) {
    const lab::HostInfo src = fabric_.host(0), dst = fabric_.host(1);
    send_for(src, 0.3);  // warm-up: caches, neighbour entries, the QPs' map entries
    const uint64_t before = rx_packets(dst.netns, dst.ifname);
    const int64_t t0 = mono_ns();
    send_for(src, seconds);
    const double elapsed = static_cast<double>(mono_ns() - t0) / 1e9;
    // Frames still queued on the way arrive within milliseconds.
    ::usleep(50000);
    return static_cast<double>(rx_packets(dst.netns, dst.ifname) - before) / elapsed;
  }

 private:
  // The empty tc program on each of the hooks attach used, in place of qpspread's.
  void empty_programs(const Netns& ns, const AttachReport& r) {
    const int fd = bpf_program__fd(empty_->progs.qps_empty);
    ns.run([&] {
      for (const auto& d : r.devices) tc_attach(d.tc_api, d.ifindex, TcDir::egress, fd);
      for (const auto& u : r.uplinks) {
        if (!u.rx_on_tc) throw Error("uplink " + u.ifname + " receives in XDP: the empty setting replaces tc programs only");
        tc_attach(u.tc_api, u.ifindex, TcDir::egress, fd);
        tc_attach(u.tc_api, u.ifindex, TcDir::ingress, fd);
      }
    });
  }

  void send_for(const lab::HostInfo& src, double seconds) {
    Netns::open(src.netns).run([&] {
      pin_to_cpu(cpu_);
      workload::RawSender tx(src.ifname);
      constexpr size_t kBatch = 32;
      const int64_t end = mono_ns() + static_cast<int64_t>(seconds * 1e9);
      size_t next = 0;
      while (mono_ns() < end) {
        throw_if_interrupted();
        const size_t n = std::min(kBatch, spans_.size() - next);
        tx.send_batch(std::span(spans_).subspan(next, n));
        next = (next + n) % spans_.size();
      }
    });
  }

  lab::TestFabric& fabric_;
  int cpu_;
  std::vector<std::vector<uint8_t>> frames_;
  std::vector<std::span<const uint8_t>> spans_;
  std::vector<uint32_t> qpns_;
  LoadedSkel<bench_empty> empty_ =
      load_skeleton(SkeletonOps<bench_empty>{bench_empty__open, bench_empty__load, bench_empty__destroy, "empty programs"}, "");
};

int run(int argc, char** argv) {
  double seconds = 1;
  int rounds = 15, qps = 64, cpu = 0;
  bool as_json = false;
  std::vector<std::string> setting_names{"unattached", "off", "qp-hash", "balance"};
  CLI::App app{"qpspread-bench-path: frames/s host -> VTEP -> spine -> VTEP -> host, unattached vs attached (root, FRR)"};
  app.add_option("--seconds", seconds, "seconds per point")->check(CLI::Range(0.2, 60.0))->capture_default_str();
  app.add_option("--rounds", rounds, "rounds; each measures every setting once")->check(CLI::Range(1, 100))->capture_default_str();
  app.add_option("--qps", qps, "queue pairs the frames are spread over")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--cpu", cpu, "the CPU the sender (and so the whole path) runs on")->capture_default_str();
  app.add_option("--settings", setting_names,
                 "settings to compare (unattached is always measured): off, qp-hash, balance; with -vtep: "
                 "the VXLAN devices' program alone (uplinks none); empty, empty-vtep: an empty program in "
                 "each of those hooks (the hooks' own cost); -clsact: through clsact filters instead of tcx")
      ->delimiter(',')
      ->capture_default_str();
  app.add_flag("-j,--json", as_json, "JSON output");
  CLI11_PARSE(app, argc, argv);
  if (::geteuid() != 0) throw Error("run as root (namespaces, FRR, BPF)");
  if (::access("/usr/lib/frr/zebra", X_OK) != 0) throw Error("needs FRR (/usr/lib/frr/zebra): apt-get install frr");
  if (cpu < 0 || cpu >= ::sysconf(_SC_NPROCESSORS_ONLN))
    throw Error("--cpu " + std::to_string(cpu) + ": this machine has CPUs 0.." + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN) - 1));
  std::vector<const Setting*> settings{&setting_named("unattached")};
  for (const auto& name : setting_names)
    if (std::find(settings.begin(), settings.end(), &setting_named(name)) == settings.end())
      settings.push_back(&setting_named(name));
  install_interrupt_handler();
  set_libbpf_verbose(false);  // as the CLI: libbpf's notes (an existing clsact qdisc) are not errors

  lab::FabricSpec spec;
  spec.tag = "bp" + std::to_string(::getpid() % 100000);
  spec.spines = 2;
  spec.progress = [&](const std::string& line) { std::fprintf(stderr, "  %s\n", line.c_str()); };
  std::fprintf(stderr, "bringing up a fabric of 2 leaves, 2 spines, 2 hosts (FRR)...\n");
  lab::TestFabric fabric(spec);
  PathBench bench(fabric, qps, cpu);

  // A few seconds of traffic first: FRR settles after convergence, caches and maps warm up.
  bench.apply(*settings[0]);
  bench.measure(3);
  // Per setting (by name): frames/s, and the ratio to the same round's unattached figure.
  std::map<std::string, std::vector<double>> fps, ratio;
  for (int r = 0; r < rounds; r++) {
    std::map<std::string, double> round;
    for (size_t k = 0; k < settings.size(); k++) {
      const Setting& s = *settings[(k + static_cast<size_t>(r)) % settings.size()];  // another order each round
      bench.apply(s);
      round[s.name] = bench.measure(seconds);
      fps[s.name].push_back(round[s.name]);
      std::fprintf(stderr, "  round %d/%d %-12s %10.0f frames/s\n", r + 1, rounds, s.name, round[s.name]);
    }
    for (const Setting* s : settings) ratio[s->name].push_back(round[s->name] / round["unattached"]);
  }
  json j = {{"cpu_model", bench::cpu_model()}, {"frame_bytes", kFrameBytes}, {"qps", qps}, {"seconds", seconds},
            {"rounds", rounds}, {"cpu", cpu}, {"settings", json::array()}};
  for (const Setting* sp : settings) {
    const std::string s = sp->name;
    const bench::Summary m = bench::summary_of(fps[s]), q = bench::summary_of(ratio[s]);
    j["settings"].push_back({{"setting", s}, {"median_fps", m.median()}, {"min_fps", m.min()},
                             {"max_fps", m.max()}, {"fps", fps[s]}, {"ratio_median", q.median()},
                             {"ratio_min", q.min()}, {"ratio_max", q.max()}});
  }
  // The goals, for the settings measured.
  j["goals"] = json::object();
  for (const auto& [name, goal] : {std::pair{"off", kGoalOff}, std::pair{"qp-hash", kGoalQpHash}})
    if (ratio.count(name)) {
      const double got = bench::summary_of(ratio[name]).median();
      j["goals"][name] = {{"min_ratio", goal}, {"ratio", got}, {"met", got >= goal}};
    }
  if (as_json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("CPU model: %s\n", j["cpu_model"].get<std::string>().c_str());
  std::printf("host -> VTEP -> spine -> VTEP -> host, %zu-byte RoCEv2 frames over %d QPs, one sender on CPU %d,\n"
              "%.1f s per point, %d rounds interleaved; frames/s the far host received\n",
              kFrameBytes, qps, cpu, seconds, rounds);
  std::printf("%-13s %10s %10s %10s   %s\n", "SETTING", "MEDIAN/s", "MIN/s", "MAX/s",
              "/ UNATTACHED (same round): MEDIAN [MIN-MAX]");
  for (const auto& s : j["settings"])
    std::printf("%-13s %10.0f %10.0f %10.0f   %.3f [%.3f-%.3f]\n", s["setting"].get<std::string>().c_str(),
                s["median_fps"].get<double>(), s["min_fps"].get<double>(), s["max_fps"].get<double>(),
                s["ratio_median"].get<double>(), s["ratio_min"].get<double>(), s["ratio_max"].get<double>());
  for (const auto& [name, g] : j["goals"].items())
    std::printf("goal: %s at least %.2f of unattached: %.3f, %s\n", name.c_str(), g["min_ratio"].get<double>(),
                g["ratio"].get<double>(), g["met"].get<bool>() ? "met" : "NOT met");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "qpspread-bench-path: " << e.what() << "\n";
    return 1;
  }
}
