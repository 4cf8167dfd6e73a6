// qpspread-bench-tc: ns per packet of every qpspread program, measured by BPF_PROG_TEST_RUN with a
// large repeat, next to an empty program of the same hook (tc or XDP) timed in the same run:
//  - vxlan_egress (tc, VXLAN device) on a RoCEv2 frame in mode qp-hash, balance (the QP's port
//    assigned) and off, and on a non-RoCE UDP frame;
//  - uplink_egress (tc, uplink) on a VXLAN frame carrying RoCEv2;
//  - underlay_xdp on that VXLAN frame, in role rx (a VTEP's uplink; also its tc ingress entry, a
//    veth's) and transit (qp-hash; after the first packet of a run the port is already the QP's, as
//    for a VTEP's frames passing a spine),
//    and transit_ingress (tc), the transit interface's other half.
// Each run times every case once, in turn, so a slow stretch of the VM hits them all; a figure is
// the median of --runs runs, a ratio the median of the runs' ratios to the empty program.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "bench_empty.skel.h"
#include "loader/pinned_maps.h"
#include "loader/skeleton.h"
#include "qpspread/abi.h"
#include "tests/bpf/test_frames.h"
#include "transit_ingress.skel.h"
#include "underlay_xdp.skel.h"
#include "uplink_egress.skel.h"
#include "vxlan_egress.skel.h"

namespace {

using qpspread::test::FrameDesc;
using qpspread::test::OuterDesc;

constexpr double kGoalRatio = 2.0;  // the VTEP program on a RoCEv2 frame may cost at most 2x the empty one
constexpr uint16_t kPortMin = 32768, kPortCount = 28231;
constexpr uint32_t kVni = 100;

// One thing timed: a program on a frame, and the empty program of its hook it is compared with.
struct Case {
  std::string name;
  int prog_fd;
  std::vector<uint8_t> frame;
  std::string baseline;  // "" for an empty program itself
};

uint32_t time_ns(const Case& c, int repeat) {
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = c.frame.data(), .data_size_in = static_cast<__u32>(c.frame.size()),
              .repeat = repeat);
  if (bpf_prog_test_run_opts(c.prog_fd, &opts) != 0)
    throw std::runtime_error("BPF_PROG_TEST_RUN (" + c.name + "): " + std::strerror(errno));
  return opts.duration;
}

struct CpuFigures {
  int cpu;
  std::map<std::string, uint32_t> ns;    // median per case
  std::map<std::string, double> ratio;   // median of the runs' case / baseline
};

CpuFigures measure_on(int cpu, const std::vector<Case>& cases, int repeat, int runs) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    throw std::runtime_error("cannot run on CPU " + std::to_string(cpu) + ": " + std::strerror(errno));
  std::map<std::string, std::vector<double>> ns, ratio;
  for (int r = 0; r < runs; r++) {
    std::map<std::string, uint32_t> run;
    for (const auto& c : cases) run[c.name] = time_ns(c, repeat);
    for (const auto& c : cases) {
      ns[c.name].push_back(run[c.name]);
      if (!c.baseline.empty() && run[c.baseline]) ratio[c.name].push_back(double(run[c.name]) / run[c.baseline]);
    }
  }
  CpuFigures f{cpu, {}, {}};
  for (auto& [name, v] : ns) f.ns[name] = static_cast<uint32_t>(qpspread::bench::summary_of(v).median());
  for (auto& [name, v] : ratio) f.ratio[name] = qpspread::bench::summary_of(v).median();
  return f;
}

// In JSON mode errors go to stdout as {"error": ...}, so stdout always parses.
int fail(bool json, const std::string& msg) {
  if (json)
    std::cout << nlohmann::json{{"error", msg}}.dump() << "\n";
  else
    std::cerr << "qpspread-bench-tc: " << msg << "\n";
  return 1;
}

template <typename Skel>
qpspread::LoadedSkel<Skel> load(qpspread::SkeletonOps<Skel> ops, std::function<void(Skel&)> configure = [](Skel&) {}) {
  return qpspread::load_skeleton(ops, "", configure);
}

int run(int argc, char** argv) {
  int repeat = 1000000, runs = 15, cpu = -1;
  bool json = false, verbose = false;
  CLI::App app{"ns per packet of every qpspread program next to an empty one (BPF_PROG_TEST_RUN)"};
  app.add_option("--repeat", repeat, "packets per run")->capture_default_str();
  app.add_option("--runs", runs, "runs per figure; the median is reported")->capture_default_str();
  app.add_option("--cpu", cpu, "only this CPU (default: each CPU in turn)");
  app.add_flag("-j,--json", json, "JSON output");
  app.add_flag("-v,--verbose", verbose, "show libbpf's messages");
  CLI11_PARSE(app, argc, argv);
  if (repeat < 1 || runs < 1) return fail(json, "--repeat and --runs must be at least 1");
  if (::geteuid() != 0) return fail(json, "run as root (loads BPF programs)");
  if (!verbose) libbpf_set_print(nullptr);
  const int ncpu = libbpf_num_possible_cpus();
  if (cpu >= ncpu) return fail(json, "--cpu " + std::to_string(cpu) + ": this machine has CPUs 0.." + std::to_string(ncpu - 1));

  // Nothing pinned: the bench's maps are its own, whatever is attached on this machine.
  // A VTEP instance per mode, as attach loads them: the VNI's mode is in the instance's config;
  // next to uplink programs (attach's default) it counts nothing per QP, without them it does.
  const auto vtep_in = [](qps_mode mode, bool count_qps) {
    return load(qpspread::SkeletonOps<vxlan_egress>{vxlan_egress__open, vxlan_egress__load, vxlan_egress__destroy, "VXLAN tc"},
                std::function<void(vxlan_egress&)>([mode, count_qps](vxlan_egress& s) {
                  s.rodata->qps_dev = {kVni, QPS_DEFAULT_MARK, kPortMin, kPortCount, count_qps, {},
                                       {mode, QPS_DEFAULT_FLOWLET_GAP_US, qpspread::coarse_clock_res_ns()}};
                }));
  };
  auto vtep = vtep_in(QPS_MODE_QP_HASH, false), vtep_balance = vtep_in(QPS_MODE_BALANCE, false),
       vtep_off = vtep_in(QPS_MODE_OFF, false), vtep_alone = vtep_in(QPS_MODE_QP_HASH, true);
  auto uplink = load(qpspread::SkeletonOps<uplink_egress>{uplink_egress__open, uplink_egress__load, uplink_egress__destroy, "uplink tc"});
  const auto xdp_with = [](uint8_t roles) {
    return load(qpspread::SkeletonOps<underlay_xdp>{underlay_xdp__open, underlay_xdp__load, underlay_xdp__destroy, "underlay XDP"},
                std::function<void(underlay_xdp&)>([roles](underlay_xdp& s) {
                  s.rodata->qps_xdp.roles = roles;
                  s.rodata->qps_xdp.port_min = kPortMin;
                  s.rodata->qps_xdp.port_count = kPortCount;
                }));
  };
  auto rx = xdp_with(QPS_XDP_RX), transit = xdp_with(QPS_XDP_TRANSIT);
  auto transit_tc = load(qpspread::SkeletonOps<transit_ingress>{transit_ingress__open, transit_ingress__load,
                                                                transit_ingress__destroy, "transit tc"});
  auto empty = load(qpspread::SkeletonOps<bench_empty>{bench_empty__open, bench_empty__load, bench_empty__destroy, "empty programs"});

  // Mode balance's QP has a port assigned (in the device's range): the path a balanced QP takes.
  const qps_qp_key key{kVni, 0x123};
  const qps_qp_assign port{40000, {}};
  if (bpf_map__update_elem(vtep_balance->maps.qp_assign, &key, sizeof(key), &port, sizeof(port), BPF_ANY) != 0)
    return fail(json, "cannot assign the QP's port");
  const qps_vni_cfg qp_hash{QPS_MODE_QP_HASH, QPS_DEFAULT_FLOWLET_GAP_US, 0};
  if (bpf_map__update_elem(transit->maps.vni_mode, &kVni, sizeof(kVni), &qp_hash, sizeof(qp_hash), BPF_ANY) != 0)
    return fail(json, "cannot set the transit VNI's mode");

  FrameDesc roce_desc;
  roce_desc.payload = 256 - 58;  // a 256-byte frame
  FrameDesc udp_desc = roce_desc;
  udp_desc.dport = 53;
  const std::vector<uint8_t> roce = qpspread::test::make_frame(roce_desc), udp = qpspread::test::make_frame(udp_desc);
  const std::vector<uint8_t> vxlan = qpspread::test::wrap_vxlan(roce, OuterDesc{});
  const int vtep_fd = bpf_program__fd(vtep->progs.qps_vxlan_egress);
  const int xdp_rx_fd = bpf_program__fd(rx->progs.qps_underlay_xdp);
  const int xdp_transit_fd = bpf_program__fd(transit->progs.qps_underlay_xdp);
  const std::vector<Case> cases{
      {"empty tc", bpf_program__fd(empty->progs.qps_empty), roce, ""},
      {"empty xdp", bpf_program__fd(empty->progs.qps_empty_xdp), vxlan, ""},
      {"vxlan_egress qp-hash", vtep_fd, roce, "empty tc"},
      {"vxlan_egress balance", bpf_program__fd(vtep_balance->progs.qps_vxlan_egress), roce, "empty tc"},
      {"vxlan_egress off", bpf_program__fd(vtep_off->progs.qps_vxlan_egress), roce, "empty tc"},
      {"vxlan_egress non-RoCE", vtep_fd, udp, "empty tc"},
      {"vxlan_egress qp-hash, no uplinks", bpf_program__fd(vtep_alone->progs.qps_vxlan_egress), roce, "empty tc"},
      {"uplink_egress", bpf_program__fd(uplink->progs.qps_uplink_egress), vxlan, "empty tc"},
      {"underlay_xdp rx", xdp_rx_fd, vxlan, "empty xdp"},
      {"underlay_xdp rx on tc ingress", bpf_program__fd(rx->progs.qps_underlay_tc), vxlan, "empty tc"},
      {"underlay_xdp transit", xdp_transit_fd, vxlan, "empty xdp"},
      {"transit_ingress", bpf_program__fd(transit_tc->progs.qps_transit_ingress), vxlan, "empty tc"},
  };

  // The programs are timed on one CPU at a time: a migration in the middle of a run, or a CPU
  // its hypervisor shares with a busy neighbour, shows up as a different figure per CPU.
  std::vector<CpuFigures> all;
  for (int c = (cpu < 0 ? 0 : cpu); c < (cpu < 0 ? ncpu : cpu + 1); c++) all.push_back(measure_on(c, cases, repeat, runs));
  // The least disturbed CPU is the one where the empty tc program ran fastest.
  const CpuFigures& best =
      *std::min_element(all.begin(), all.end(), [](auto& a, auto& b) { return a.ns.at("empty tc") < b.ns.at("empty tc"); });
  const double goal_ratio = best.ratio.at("vxlan_egress qp-hash");

  if (json) {
    nlohmann::json j = {{"cpu_model", qpspread::bench::cpu_model()}, {"repeat", repeat}, {"runs", runs},
                        {"cpus", nlohmann::json::array()}, {"least_disturbed_cpu", best.cpu},
                        {"vxlan_egress_qp_hash_over_empty", goal_ratio}, {"goal_max_over_empty", kGoalRatio},
                        {"within_goal", goal_ratio <= kGoalRatio}};
    for (const auto& f : all) {
      nlohmann::json progs = nlohmann::json::array();
      for (const auto& c : cases) {
        nlohmann::json p = {{"case", c.name}, {"ns", f.ns.at(c.name)}};
        if (!c.baseline.empty()) p["over_empty"] = f.ratio.at(c.name);
        progs.push_back(p);
      }
      j["cpus"].push_back({{"cpu", f.cpu}, {"programs", progs}});
    }
    std::cout << j.dump() << "\n";
    return 0;
  }
  // Ratios differ between CPU models: say which this is.
  std::printf("CPU model: %s\n", qpspread::bench::cpu_model().c_str());
  std::printf("%-34s", "PROGRAM, FRAME");
  for (const auto& f : all) std::printf("   CPU %d: ns  / empty", f.cpu);
  std::printf("\n");
  for (const auto& c : cases) {
    std::printf("%-34s", c.name.c_str());
    for (const auto& f : all) {
      if (c.baseline.empty())
        std::printf(" %13u %8s", f.ns.at(c.name), "");
      else
        std::printf(" %13u %7.2fx", f.ns.at(c.name), f.ratio.at(c.name));
    }
    std::printf("\n");
  }
  std::printf("least disturbed CPU (fastest empty tc program): %d, vxlan_egress qp-hash / empty %.2fx (goal: at most "
              "%.1fx, %s)\neach figure: median of %d runs of %d packets, BPF_PROG_TEST_RUN, every case once per run\n",
              best.cpu, goal_ratio, kGoalRatio, goal_ratio <= kGoalRatio ? "met" : "NOT met", runs, repeat);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    const bool json = std::any_of(argv + 1, argv + argc, [](const char* a) {
      return std::strcmp(a, "-j") == 0 || std::strcmp(a, "--json") == 0;
    });
    return fail(json, e.what());
  }
}
