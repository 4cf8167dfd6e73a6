// qpspread workload allreduce|ps: RoCEv2 RC traffic of a training job between hosts (network
// namespaces), over raw frames, with per-iteration completion times, bandwidth, per-QP
// retransmissions and one-way latency.
#include <arpa/inet.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/command.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/percentile.h"
#include "common/units.h"
#include "userspace/cli/commands.h"
#include "userspace/lab/host_resolve.h"
#include "userspace/report/stats_report.h"
#include "userspace/report/top_frame.h"
#include "userspace/workload/allreduce.h"
#include "userspace/workload/param_server.h"
#include "userspace/workload/stream.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;
using workload::HostAddr;

struct WorkloadArgs {
  std::vector<std::string> hosts;
  std::string ifname = "eth1";
  int qps = 1;
  std::string split = "rr", sport = "qpn", rate = "0", ack_timeout = "20ms";
  uint32_t mtu = 1024, window = 256;
  std::string size = "1048576";  // a size: 4096, 64kb, 1mb
  int iterations = 5;
  int workers = 0, servers = 1;
  double timeout_s = 60;
  std::vector<std::string> paths_netns;  // namespaces where qpspread is attached: shares over the run
  std::string cc = "dcqcn", cnp_interval;
  std::string duration;  // stream only: stream for this long (empty: --size once per iteration)
  // DCQCN overrides of the parameters scaled to --rate (empty: scaled).
  std::string alpha_period, increase_period, reduce_period, rai, rhai, min_rate, bytes;
  double g = 0;
  int stages = 0;
};

json dcqcn_json(const workload::TransportOptions& t) {
  if (t.cc == workload::CcMode::None) return nullptr;
  const workload::DcqcnParams p = t.dcqcn ? *t.dcqcn : workload::DcqcnParams::scaled_to(t.rate_bps);
  if (p.line_rate_bps <= 0) return {{"off", "no line rate (--rate 0): nothing to recover to"}};
  auto us = [](int64_t ns) { return format_duration_us(static_cast<uint64_t>(ns / 1000)); };
  return {{"line_rate", format_rate_bps(static_cast<uint64_t>(p.line_rate_bps))}, {"g", p.g},
          {"alpha_period", us(p.alpha_period_ns)}, {"increase_period", us(p.increase_period_ns)},
          {"reduce_period", us(p.reduce_period_ns)}, {"byte_counter", p.byte_counter},
          {"fast_recovery_stages", p.fast_recovery_stages},
          {"rai", format_rate_bps(static_cast<uint64_t>(p.rai_bps))}, {"rhai", format_rate_bps(static_cast<uint64_t>(p.rhai_bps))},
          {"min_rate", format_rate_bps(static_cast<uint64_t>(p.min_rate_bps))}};
}


json stats_json(const workload::WorkloadReport& r, const workload::TransportOptions& opt) {
  std::vector<double> lat;
  for (int64_t ns : r.latency_ns) lat.push_back(static_cast<double>(ns) / 1e3);
  const double p50 = percentile(r.iteration_s, 50);
  json j = {{"algorithm", r.algorithm},
            {"ranks", r.ranks},
            {"bytes", r.bytes},
            {"correct", r.correct},
            {"iterations", r.iteration_s},
            {"completion_s",
             {{"p50", p50},
              {"p99", percentile(r.iteration_s, 99)},
              {"max", percentile(r.iteration_s, 100)}}},
            // NCCL's algorithm bandwidth: the vector size over the (median) completion time.
            {"algbw_bps", p50 > 0 ? static_cast<double>(r.bytes) * 8 / p50 : 0.0},
            {"latency_us",
             {{"samples", lat.size()},
              {"p50", percentile(lat, 50)},
              {"p99", percentile(lat, 99)},
              {"max", percentile(lat, 100)}}},
            {"options",
             {{"qps", opt.qps},
              {"split", opt.split == workload::SplitMode::Split ? "split" : "rr"},
              {"sport", workload::sport_model_name(opt.sport)},
              {"rate_bps", opt.rate_bps},
              {"mtu", opt.mtu},
              {"window", opt.window},
              {"cc", workload::cc_mode_name(opt.cc)},
              {"cnp_interval", format_duration_us(static_cast<uint64_t>(opt.cnp_interval_ns / 1000))},
              {"dcqcn", dcqcn_json(opt)}}}};
  json qps = json::array();
  uint64_t ce = 0, cnp_tx = 0, cnp_rx = 0, frames = 0, retx = 0;
  for (const auto& q : r.qps) {
    ce += q.stats.ecn_ce_rx;
    cnp_tx += q.stats.cnp_tx;
    cnp_rx += q.stats.cnp_rx;
    frames += q.stats.tx_frames;
    retx += q.stats.retx_frames;
    if (q.stats.tx_frames == 0 && q.stats.rx_frames == 0) continue;  // QPs the pattern never used
    qps.push_back({{"rank", q.rank}, {"peer", q.peer}, {"index", q.index}, {"qpn", q.qpn},
                   {"sport", q.sport}, {"tx_bytes", q.stats.tx_bytes},
                   {"tx_frames", q.stats.tx_frames}, {"retx_frames", q.stats.retx_frames},
                   {"timeouts", q.stats.timeouts}, {"naks_rx", q.stats.naks_rx},
                   {"rx_bytes", q.stats.rx_bytes}, {"ecn_ce_rx", q.stats.ecn_ce_rx}, {"cnp_tx", q.stats.cnp_tx},
                   {"cnp_rx", q.stats.cnp_rx}, {"rate_cuts", q.stats.rate_cuts},
                   {"rate_bps_min", q.stats.rate_bps_min}, {"rate_bps_avg", q.stats.rate_bps_avg}});
  }
  j["qps"] = qps;
  j["frames"] = frames;
  j["retx_frames"] = retx;
  j["ecn_ce_rx"] = ce;
  j["cnp_tx"] = cnp_tx;
  j["cnp_rx"] = cnp_rx;
  return j;
}

void print_paths(const json& j);

void print_workload(const json& j) {
  std::printf("%s over %d ranks, %s per rank, %s: %s\n", j["algorithm"].get<std::string>().c_str(),
              j["ranks"].get<int>(), human_bytes(j["bytes"].get<uint64_t>()).c_str(),
              j["correct"].get<bool>() ? "results exact" : "RESULTS WRONG",
              human_rate(j["algbw_bps"].get<double>(), "bit/s").c_str());
  const auto& c = j["completion_s"];
  std::printf("completion  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%zu iterations)\n",
              c["p50"].get<double>() * 1e3, c["p99"].get<double>() * 1e3,
              c["max"].get<double>() * 1e3, j["iterations"].size());
  const auto& l = j["latency_us"];
  std::printf("one-way     p50 %.1f us  p99 %.1f us  max %.1f us  (%zu frames)\n",
              l["p50"].get<double>(), l["p99"].get<double>(), l["max"].get<double>(),
              l["samples"].get<size_t>());
  std::printf("congestion  %s: %llu frames arrived CE-marked, %llu CNPs sent, %llu received; %llu of %llu frames resent\n\n",
              j["options"]["cc"].get<std::string>().c_str(), static_cast<unsigned long long>(j["ecn_ce_rx"].get<uint64_t>()),
              static_cast<unsigned long long>(j["cnp_tx"].get<uint64_t>()),
              static_cast<unsigned long long>(j["cnp_rx"].get<uint64_t>()),
              static_cast<unsigned long long>(j["retx_frames"].get<uint64_t>()),
              static_cast<unsigned long long>(j["frames"].get<uint64_t>()));
  std::printf("%-5s %-5s %-3s %-8s %-6s %12s %10s %8s %8s %7s %12s\n", "RANK", "PEER", "QP", "QPN", "SPORT",
              "TX BYTES", "FRAMES", "RETX", "TIMEOUTS", "CNP-RX", "RATE-AVG");
  for (const auto& q : j["qps"])
    std::printf("%-5d %-5d %-3d 0x%06x %-6u %12s %10llu %8llu %8llu %7llu %12s\n", q["rank"].get<int>(),
                q["peer"].get<int>(), q["index"].get<int>(), q["qpn"].get<unsigned>(),
                q["sport"].get<unsigned>(), human_bytes(q["tx_bytes"].get<uint64_t>()).c_str(),
                static_cast<unsigned long long>(q["tx_frames"].get<uint64_t>()),
                static_cast<unsigned long long>(q["retx_frames"].get<uint64_t>()),
                static_cast<unsigned long long>(q["timeouts"].get<uint64_t>()),
                static_cast<unsigned long long>(q["cnp_rx"].get<uint64_t>()),
                q["rate_bps_avg"].get<double>() > 0 ? human_rate(q["rate_bps_avg"].get<double>(), "bit/s").c_str() : "-");
  print_paths(j);
}

// Per-path rates and shares, imbalance and Jain's index that qpspread counted in each namespace
// over the run (two stats reports, before and after, as `top` computes them).
class PathWatch {
 public:
  explicit PathWatch(const std::vector<std::string>& names) : t0_(std::chrono::steady_clock::now()) {
    for (const auto& n : names) before_.emplace_back(n, report::build_stats(Netns::open(n), std::nullopt));
  }
  json result() const {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    json out = json::array();
    for (const auto& [name, before] : before_)
      out.push_back(report::top_frame(before, report::build_stats(Netns::open(name), std::nullopt), elapsed, 0));
    return out;
  }

 private:
  std::chrono::steady_clock::time_point t0_;
  std::vector<std::pair<std::string, report::StatsReport>> before_;
};

template <typename Run>
json run_watched(const WorkloadArgs& a, const workload::TransportOptions& t, Run run) {
  // Ctrl-C ends the ranks' wait loops (they throw "interrupted") rather than the process, so the
  // error says what happened.
  install_interrupt_handler();
  const PathWatch watch(a.paths_netns);
  json j = stats_json(run(), t);
  if (!a.paths_netns.empty()) j["paths"] = watch.result();
  return j;
}

void print_paths(const json& j) {
  for (const auto& f : j.value("paths", json::array()))
    for (const auto& v : f["vnis"]) {
      std::printf("\nqpspread in %s, VNI %u (mode %s): imbalance %.2f, Jain's index %.3f\n",
                  f["netns"].get<std::string>().c_str(), v["vni"].get<unsigned>(), v["mode"].is_string() ? v["mode"].get<std::string>().c_str() : "-",
                  v["imbalance"].get<double>(), v["jain"].get<double>());
      for (const auto& p : v["paths"])
        std::printf("  %-10s to %-16s %12s %6.1f%%\n", p["ifname"].get<std::string>().c_str(),
                    p["remote_vtep"].get<std::string>().c_str(), human_rate(p["tx_bps"].get<double>(), "bit/s").c_str(),
                    100 * p["share"].get<double>());
    }
}

void add_common(CLI::App* cmd, WorkloadArgs& a) {
  cmd->add_option("--paths", a.paths_netns,
                  "namespaces where qpspread is attached (leaves): per-path shares, imbalance and Jain's index over the run");
  cmd->add_option("--hosts", a.hosts, "hosts as NS:IP[:MAC], or NS alone (address of --dev read there)")
      ->required();
  cmd->add_option("--dev", a.ifname, "interface of every host")->capture_default_str();
  cmd->add_option("--qps", a.qps, "queue pairs per peer")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--split", a.split, "rr: whole messages round-robin over the QPs; split: every message cut over all")
      ->check(CLI::IsMember({"rr", "split"}))->capture_default_str();
  cmd->add_option("--sport", a.sport, "inner UDP source port: fixed, qpn (Linux rdma_get_udp_sport), few")
      ->check(CLI::IsMember({"fixed", "qpn", "few"}))->capture_default_str();
  cmd->add_option("--rate", a.rate, "pace per host, like 10gbit, 400mbit (as tc netem writes rates); 0: unpaced")
      ->capture_default_str();
  cmd->add_option("--ack-timeout", a.ack_timeout,
                  "resend from the first unacknowledged frame after this long without progress, like 20ms, "
                  "300ms; above the round trip")
      ->capture_default_str();
  cmd->add_option("--mtu", a.mtu, "RoCE payload bytes per frame")->check(CLI::Range(256, 4096))->capture_default_str();
  cmd->add_option("--window", a.window, "frames a QP may have in flight (sent, not acknowledged)")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd->add_option("--size", a.size,
                  "bytes per rank (allreduce), parameter bytes (ps), per receiver or message (stream); 4096, 64kb, 1mb")
      ->capture_default_str();
  cmd->add_option("--iterations", a.iterations, "iterations")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--timeout", a.timeout_s, "seconds before a stuck run fails")->capture_default_str();
  cmd->add_option("--cc", a.cc, "congestion control of the QPs: dcqcn (as RoCE NICs; needs --rate, the line rate) or none")
      ->check(CLI::IsMember({"dcqcn", "none"}))->capture_default_str();
  cmd->add_option("--cnp-interval", a.cnp_interval,
                  "a responder sends at most one CNP per QP per this interval (default: DCQCN's 50 us at 40 Gbit/s, "
                  "scaled to --rate)");
  auto* g = cmd->add_option_group("DCQCN", "DCQCN parameters; by default the paper's at 40 Gbit/s scaled to --rate "
                                           "(docs/workload.md)");
  g->add_option("--dcqcn-g", a.g, "alpha's gain g (1/64; docs/workload.md says why)")->check(CLI::Range(1e-6, 1.0));
  g->add_option("--dcqcn-alpha-period", a.alpha_period, "K: alpha decays after each such period without a CNP");
  g->add_option("--dcqcn-increase-period", a.increase_period, "T: the rate-increase timer");
  g->add_option("--dcqcn-reduce-period", a.reduce_period, "at most one rate cut per this period");
  g->add_option("--dcqcn-bytes", a.bytes, "B: the byte counter, a rate increase per B bytes sent (a size: 10mb)");
  g->add_option("--dcqcn-stages", a.stages, "F: fast-recovery stages before additive increase")->check(CLI::Range(1, 100));
  g->add_option("--dcqcn-rai", a.rai, "R_AI: the additive increase step, a rate");
  g->add_option("--dcqcn-rhai", a.rhai, "R_HAI: the hyper increase step, a rate");
  g->add_option("--dcqcn-min-rate", a.min_rate, "the lowest rate a cut may reach");
}

std::vector<HostAddr> hosts_of(const WorkloadArgs& a) {
  std::vector<HostAddr> hosts;
  for (const auto& h : a.hosts) hosts.push_back(lab::resolve_host(h, a.ifname));
  return hosts;
}

workload::TransportOptions transport_of(const WorkloadArgs& a) {
  workload::TransportOptions t;
  t.qps = a.qps;
  t.split = workload::parse_split_mode(a.split);
  t.sport = workload::parse_sport_model(a.sport);
  t.rate_bps = static_cast<double>(parse_rate_bps("--rate", a.rate));
  t.ack_timeout_ns = static_cast<int64_t>(parse_duration_us("--ack-timeout", a.ack_timeout)) * 1000;
  if (t.ack_timeout_ns < 100'000) throw Error("--ack-timeout: '" + a.ack_timeout + "' is shorter than 100us");
  t.mtu = a.mtu;
  t.window = a.window;
  t.cc = workload::parse_cc_mode(a.cc);
  t.cnp_interval_ns = static_cast<int64_t>(parse_duration_us("--cnp-interval", a.cnp_interval)) * 1000;
  if (t.cnp_interval_ns == 0) t.cnp_interval_ns = workload::cnp_interval_for(t.rate_bps);
  workload::DcqcnParams p = workload::DcqcnParams::scaled_to(t.rate_bps);
  auto ns = [](const char* flag, const std::string& v) { return static_cast<int64_t>(parse_duration_us(flag, v)) * 1000; };
  auto bps = [](const char* flag, const std::string& v) { return static_cast<double>(parse_rate_bps(flag, v)); };
  if (a.g > 0) p.g = a.g;
  if (!a.alpha_period.empty()) p.alpha_period_ns = ns("--dcqcn-alpha-period", a.alpha_period);
  if (!a.increase_period.empty()) p.increase_period_ns = ns("--dcqcn-increase-period", a.increase_period);
  if (!a.reduce_period.empty()) p.reduce_period_ns = ns("--dcqcn-reduce-period", a.reduce_period);
  if (!a.bytes.empty()) p.byte_counter = std::max<uint64_t>(1, parse_size_bytes("--dcqcn-bytes", a.bytes));
  if (a.stages > 0) p.fast_recovery_stages = a.stages;
  if (!a.rai.empty()) p.rai_bps = bps("--dcqcn-rai", a.rai);
  if (!a.rhai.empty()) p.rhai_bps = bps("--dcqcn-rhai", a.rhai);
  if (!a.min_rate.empty()) p.min_rate_bps = bps("--dcqcn-min-rate", a.min_rate);
  if (p.alpha_period_ns <= 0 || p.increase_period_ns <= 0)
    throw Error("--dcqcn-alpha-period and --dcqcn-increase-period must be above 0");
  t.dcqcn = p;
  return t;
}

workload::CollectiveOptions collective_of(const WorkloadArgs& a) {
  workload::CollectiveOptions o;
  const uint64_t size = parse_size_bytes("--size", a.size);
  if (size < 64 || size > (uint64_t{1} << 30))
    throw Error("--size: " + a.size + " is outside 64 bytes to 1 GiB (1073741824)");
  o.bytes = static_cast<size_t>(size);
  o.iterations = a.iterations;
  o.timeout_ns = static_cast<int64_t>(a.timeout_s * 1e9);
  return o;
}

}  // namespace

void register_workload_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("workload", "RoCEv2 RC traffic of AllReduce or Parameter-Server jobs between hosts");
  cmd->require_subcommand(1);
  auto a = std::make_shared<WorkloadArgs>();
  auto* ar = cmd->add_subcommand("allreduce", "ring AllReduce: reduce-scatter then all-gather, exact sums checked");
  add_common(ar, *a);
  ar->callback([&ctx, a] {
    ctx.action = [&ctx, a] {
      const auto t = transport_of(*a);
      emit(ctx.out, run_watched(*a, t, [&] { return workload::run_allreduce(hosts_of(*a), t, {collective_of(*a)}); }),
           print_workload);
    };
  });
  auto* st = cmd->add_subcommand("stream", "one-way bulk transfer: the first host sends --size to each other host per iteration");
  add_common(st, *a);
  st->add_option("--duration", a->duration,
                 "stream for this long (e.g. 10s, as iperf's -t), in messages of --size, once; goodput is what "
                 "arrived over the time until the last was acknowledged");
  st->callback([&ctx, a, st] {
    ctx.action = [&ctx, a, st] {
      const auto t = transport_of(*a);
      workload::StreamOptions o{collective_of(*a)};
      if (!a->duration.empty()) {
        o.duration_ns = static_cast<int64_t>(parse_duration_us("--duration", a->duration)) * 1000;
        if (o.duration_ns <= 0) throw Error("--duration must be above 0, e.g. 10s");
        if (st->count("--iterations") && a->iterations != 1)
          throw Error("--duration streams once: leave out --iterations (or give 1)");
        o.iterations = 1;
      }
      emit(ctx.out, run_watched(*a, t, [&] { return workload::run_stream(hosts_of(*a), t, o); }), print_workload);
    };
  });
  auto* ps = cmd->add_subcommand("ps", "parameter server: workers push gradients, servers aggregate and reply");
  add_common(ps, *a);
  ps->add_option("--servers", a->servers, "servers (the first hosts)")->check(CLI::Range(1, 1024))->capture_default_str();
  ps->add_option("--workers", a->workers, "workers (the other hosts; checked against --hosts)");
  ps->callback([&ctx, a] {
    ctx.action = [&ctx, a] {
      if (a->workers && a->workers + a->servers != static_cast<int>(a->hosts.size()))
        throw Error("--servers " + std::to_string(a->servers) + " + --workers " +
                    std::to_string(a->workers) + " must equal the " +
                    std::to_string(a->hosts.size()) + " --hosts");
      const auto t = transport_of(*a);
      workload::ParamServerOptions o{collective_of(*a)};
      o.servers = a->servers;
      emit(ctx.out, run_watched(*a, t, [&] { return workload::run_param_server(hosts_of(*a), t, o); }), print_workload);
    };
  });
}

}  // namespace qpspread::cli
