// qpspread-bench-stats: how long `qpspread -j stats` takes over many QP entries, end to end (a
// child process, as a script runs it), and how much of that is reading the maps. A private netns
// gets a VXLAN device and a veth uplink, qpspread is attached, and qp_stats and qp_paths are filled
// with --qps QPs of VNI 100 straight from userspace. Goal: under 1 s for 100 000 QPs.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "common/command.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/netns.h"
#include "common/unique_fd.h"
#include "loader/bpffs.h"
#include "loader/map_batch.h"
#include "loader/pinned_maps.h"
#include "qpspread/abi.h"

namespace {

using nlohmann::json;
using qpspread::Error;
using qpspread::run_checked;
using qpspread::run_command;

constexpr double kGoalSeconds = 1.0;
constexpr uint32_t kVni = 100;

// What BenchNetns undoes: a member, so that it runs also when the constructor throws half-way.
struct Undo {
  std::string bin, name;
  bool added = false, attached = false;
  Undo() = default;
  Undo(const Undo&) = delete;
  Undo& operator=(const Undo&) = delete;
  ~Undo() {
    if (attached) run_command({bin, "detach", "--netns", name});
    if (added) run_command({"ip", "netns", "del", name});
  }
};

// The namespace, with qpspread attached in it; both undone on destruction, whatever failed.
class BenchNetns {
 public:
  explicit BenchNetns(const std::string& bin) {
    undo_.bin = bin;
    undo_.name = "qps-bench-stats-" + std::to_string(::getpid());
    run_checked({"ip", "netns", "add", name()});
    undo_.added = true;
    ip({"link", "add", "vx100", "type", "vxlan", "id", std::to_string(kVni), "dstport", "4789", "local",
        "10.0.0.1", "nolearning"});
    ip({"link", "add", "up1", "type", "veth", "peer", "name", "dn1"});
    undo_.attached = true;  // set first: a half-done attach is undone by detach too
    run_checked({bin, "attach", "--netns", name(), "--uplink", "up1"});
  }
  const std::string& name() const { return undo_.name; }
  std::string pin_dir() const { return qpspread::pin_dir_for(qpspread::Netns::open(name()).inode()); }
  uint32_t uplink_ifindex() const {
    uint32_t ifindex = 0;
    qpspread::Netns::open(name()).run([&] { ifindex = ::if_nametoindex("up1"); });
    return ifindex;
  }

 private:
  void ip(std::vector<std::string> args) const {
    args.insert(args.begin(), {"ip", "-n", name()});
    run_checked(args);
  }
  Undo undo_;
};

using qpspread::bench::open_pin;
using qpspread::bench::Summary;
using qpspread::bench::timed;

struct Figures {
  uint32_t asked = 0;
  size_t in_map = 0;       // after the LRU had its say
  size_t listed = 0;       // QPs of VNI 100 in the last stats -j output
  size_t output_bytes = 0;
  Summary stats_cli, pinned_read, qp_stats_batch, qp_stats_iterate;
  bool within_goal() const { return stats_cli.median() < kGoalSeconds; }
};

// `qpspread -j stats` as a child process; the output must parse and list every QP in the map.
Summary time_stats_cli(const std::string& bin, const std::string& ns, int runs, Figures& f) {
  std::string out;
  Summary s = timed(runs, [&] { out = run_checked({bin, "-j", "stats", "--netns", ns}); });
  f.output_bytes = out.size();
  const json j = json::parse(out);
  for (const auto& v : j["vnis"])
    if (v["vni"] == kVni) f.listed = v["qps"].size();
  if (f.listed != f.in_map)
    throw Error("stats -j listed " + std::to_string(f.listed) + " QPs, the map holds " + std::to_string(f.in_map));
  return s;
}

// The map reads alone, in this process: what stats does before it builds any JSON.
void time_map_reads(const std::string& pin_dir, int runs, Figures& f) {
  auto maps = qpspread::PinnedMaps::open(pin_dir);
  if (!maps) throw Error("nothing pinned in " + pin_dir);
  f.pinned_read = timed(runs, [&] {
    f.in_map = maps->qp_stats().size();
    maps->qp_paths();
    maps->path_stats();
    maps->reasons();
  });
  const qpspread::UniqueFd fd = open_pin(pin_dir, "qp_stats");
  auto sum = qpspread::sum_cpus<qps_qp_stats>;
  using qpspread::MapRead;
  f.qp_stats_batch = timed(runs, [&] { qpspread::read_percpu_map<qps_qp_key, qps_qp_stats>(fd.get(), sum, MapRead::kBatch); });
  f.qp_stats_iterate = timed(runs, [&] { qpspread::read_percpu_map<qps_qp_key, qps_qp_stats>(fd.get(), sum, MapRead::kIterate); });
}

void print_text(const Figures& f, int runs) {
  auto row = [](const char* what, const Summary& s) {
    std::printf("%-50s %9.3f %9.3f %9.3f\n", what, s.min(), s.median(), s.max());
  };
  std::printf("QPs written %u, in qp_stats after insert %zu%s, listed by stats -j %zu (%.1f MB of JSON)\n", f.asked,
              f.in_map, f.in_map < f.asked ? " (the LRU evicted the rest)" : "", f.listed, f.output_bytes / 1e6);
  std::printf("%-50s %9s %9s %9s\n", "seconds", "min", "median", "max");
  row("qpspread -j stats (child process, end to end)", f.stats_cli);
  row("PinnedMaps: qp_stats+qp_paths+path_stats+reasons", f.pinned_read);
  row("qp_stats alone, batch lookup", f.qp_stats_batch);
  row("qp_stats alone, get_next_key + lookup", f.qp_stats_iterate);
  std::printf("stats -j median %.3f s: goal under %.0f s %s; %d runs each\n", f.stats_cli.median(), kGoalSeconds,
              f.within_goal() ? "met" : "NOT met", runs);
}

json to_json(const Figures& f, int runs) {
  return {{"qps_written", f.asked}, {"qps_in_map", f.in_map}, {"qps_listed", f.listed},
          {"lru_evicted", f.asked - f.in_map}, {"output_bytes", f.output_bytes}, {"runs", runs},
          {"stats_cli", f.stats_cli.to_json()}, {"pinned_maps_read", f.pinned_read.to_json()},
          {"qp_stats_batch", f.qp_stats_batch.to_json()}, {"qp_stats_iterate", f.qp_stats_iterate.to_json()},
          {"goal_max_s", kGoalSeconds}, {"within_goal", f.within_goal()}};
}

// In JSON mode errors go to stdout as {"error": ...}, so stdout always parses.
int fail(bool json_out, const std::string& msg) {
  if (json_out)
    std::cout << json{{"error", msg}}.dump() << "\n";
  else
    std::cerr << "qpspread-bench-stats: " << msg << "\n";
  return 1;
}

int run(int argc, char** argv) {
  uint32_t qps = 100000;
  int runs = 5;
  bool json_out = false;
  std::string bin = QPSPREAD_BIN;
  CLI::App app{"seconds `qpspread -j stats` takes over many QP entries"};
  app.add_option("--qps", qps, "QP entries to write")->capture_default_str()->check(CLI::Range(1u, uint32_t{QPS_MAX_QPS}));
  app.add_option("--runs", runs, "runs per figure")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--qpspread", bin, "the qpspread binary")->capture_default_str();
  app.add_flag("-j,--json", json_out, "JSON output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (::geteuid() != 0) return fail(json_out, "run as root (namespaces, BPF)");
  libbpf_set_print(nullptr);
  qpspread::install_interrupt_handler();
  try {
    BenchNetns ns(bin);
    Figures f;
    f.asked = qps;
    qpspread::bench::fill_qps(ns.pin_dir(), kVni, ns.uplink_ifindex(), qps);
    time_map_reads(ns.pin_dir(), runs, f);
    f.stats_cli = time_stats_cli(bin, ns.name(), runs, f);
    if (json_out)
      std::cout << to_json(f, runs).dump() << "\n";
    else
      print_text(f, runs);
    return 0;
  } catch (const std::exception& e) {
    return fail(json_out, e.what());
  }
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
