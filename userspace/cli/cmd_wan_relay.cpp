// wan-relay: plumbing for the lab runner on kernels without sch_netem (userspace/wan/relay_service.h
// does the work): exit 0 and the counters on stdout after SIGTERM or SIGINT.
#include <cstdio>
#include <iostream>

#include "userspace/cli/commands.h"
#include "userspace/wan/relay_service.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

struct WanRelayArgs {
  std::string netns, a, b, delay, jitter, loss, rate, ecn, control, pidfile;
  int rt_priority = 10;
};

void print_counters(const json& j) {
  std::printf("%-7s %10s %10s %12s %12s %12s %10s\n", "DIR", "RECEIVED", "FORWARDED", "DROP_LOSS", "DROP_QUEUE",
              "DROP_ERROR", "MARKED_CE");
  for (const char* d : {"a_to_b", "b_to_a"}) {
    const json& c = j[d];
    std::printf("%-7s %10lu %10lu %12lu %12lu %12lu %10lu\n", d, c["received"].get<unsigned long>(),
                c["forwarded"].get<unsigned long>(), c["dropped_loss"].get<unsigned long>(),
                c["dropped_queue"].get<unsigned long>(), c["dropped_error"].get<unsigned long>(),
                c["marked_ce"].get<unsigned long>());
  }
}

void run_wan_relay(const Context& ctx, const WanRelayArgs& args) {
  wan::RelayServiceOptions o;
  o.netns = args.netns;
  o.relay.a = args.a;
  o.relay.b = args.b;
  o.relay.a_to_b = o.relay.b_to_a = wan::parse_impairment(args.delay, args.jitter, args.loss, args.rate, args.ecn);
  o.relay.realtime_priority = args.rt_priority;
  o.control = args.control;
  o.pidfile = args.pidfile;
  emit(ctx.out, wan::serve_relay(o, std::cerr), print_counters);
}

}  // namespace

void register_wan_relay_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("wan-relay", "emulate a WAN link's delay, jitter, loss and rate between two interfaces (lab runner plumbing)");
  cmd->group("");  // plumbing: hidden from --help
  auto args = std::make_shared<WanRelayArgs>();
  cmd->add_option("--netns", args->netns, "the wire namespace (default: the current one)");
  cmd->add_option("--a", args->a, "interface towards node A")->required();
  cmd->add_option("--b", args->b, "interface towards node B")->required();
  cmd->add_option("--delay", args->delay, "one-way delay, like 20ms, 1.5ms, 500us");
  cmd->add_option("--jitter", args->jitter, "uniform jitter around the delay, like 1ms (frames stay in order)");
  cmd->add_option("--loss", args->loss, "loss in percent, 0-100, like 0.1");
  cmd->add_option("--rate", args->rate, "rate like 1gbit, 100mbit, 500kbit; 0 or empty: unlimited");
  cmd->add_option("--ecn", args->ecn, "ECN marking of the rate's queue: KMIN,KMAX,PMAX like 20kb,100kb,10%; 0: off");
  cmd->add_option("--control", args->control, "JSON file re-read on SIGHUP: {\"delay\": \"20ms\", ...} or per direction {\"a_to_b\": {...}, \"b_to_a\": {...}}");
  cmd->add_option("--rt-priority", args->rt_priority, "SCHED_FIFO priority of the relay threads; 0: normal scheduling (delays then suffer every wait for a core)")
      ->check(CLI::Range(0, 99))->capture_default_str();
  cmd->add_option("--pidfile", args->pidfile, "written once forwarding has started, removed on exit");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { run_wan_relay(ctx, *args); }; });
}

}  // namespace qpspread::cli
