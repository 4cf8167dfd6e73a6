// wan-relay: plumbing for the lab runner on kernels without sch_netem. Runs a WanRelay in the
// foreground inside the wire namespace of one WAN link until SIGTERM or SIGINT (exit 0, counters
// on stdout); SIGHUP re-reads the impairment from the --control file, which the runner rewrites
// for `qpspread lab impair`. The pidfile is written once both sockets are open: its appearance is
// the runner's signal that the link carries traffic.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/error.h"
#include "common/netns.h"
#include "userspace/cli/commands.h"
#include "userspace/wan/wan_relay.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;

struct WanRelayArgs {
  std::string netns, a, b, delay, jitter, loss, rate, control, pidfile;
  int rt_priority = 10;
};

// The control file: one impairment for both directions, or {"a_to_b": {...}, "b_to_a": {...}}.
void read_control(const std::string& path, lab::Impairment* a_to_b, lab::Impairment* b_to_a) {
  std::ifstream in(path);
  if (!in) throw Error("wan-relay: cannot read control file " + path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error("wan-relay: control file " + path + " is not JSON: " + e.what());
  }
  if (j.is_object() && (j.contains("a_to_b") || j.contains("b_to_a"))) {
    *a_to_b = lab::impairment_from_json(j.value("a_to_b", json::object()));
    *b_to_a = lab::impairment_from_json(j.value("b_to_a", json::object()));
  } else {
    *a_to_b = *b_to_a = lab::impairment_from_json(j);
  }
}

json counters_json(const lab::WanRelay& relay) {
  json j = json::object();
  for (auto d : {lab::WanDirection::AtoB, lab::WanDirection::BtoA}) {
    const lab::WanCounters c = relay.counters(d);
    j[lab::direction_name(d)] = {{"impairment", lab::to_json(relay.impairment(d))},
                                 {"received", c.received}, {"forwarded", c.forwarded},
                                 {"forwarded_bytes", c.forwarded_bytes}, {"dropped_loss", c.dropped_loss},
                                 {"dropped_queue", c.dropped_queue}, {"dropped_error", c.dropped_error}};
  }
  return j;
}

void print_counters(const json& j) {
  std::printf("%-7s %10s %10s %12s %12s %12s\n", "DIR", "RECEIVED", "FORWARDED", "DROP_LOSS", "DROP_QUEUE", "DROP_ERROR");
  for (const char* d : {"a_to_b", "b_to_a"}) {
    const json& c = j[d];
    std::printf("%-7s %10lu %10lu %12lu %12lu %12lu\n", d, c["received"].get<unsigned long>(),
                c["forwarded"].get<unsigned long>(), c["dropped_loss"].get<unsigned long>(),
                c["dropped_queue"].get<unsigned long>(), c["dropped_error"].get<unsigned long>());
  }
}

// Waits for signals in this thread (they are blocked in every thread, so none is lost to another)
// while the relay runs on its own; returns when told to stop or when the relay failed.
void serve(lab::WanRelay& relay, const WanRelayArgs& args, const sigset_t& signals) {
  std::atomic<bool> stop{false}, ended{false};
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      relay.run(stop);
    } catch (...) {
      failure = std::current_exception();
    }
    ended = true;
  });
  const timespec tick{0, 200000000};
  while (!ended.load()) {
    const int sig = ::sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig != SIGHUP) continue;
    if (args.control.empty()) {
      std::cerr << "wan-relay: SIGHUP without --control: nothing to re-read\n";
      continue;
    }
    try {
      lab::Impairment ab, ba;
      read_control(args.control, &ab, &ba);
      relay.set_impairment(lab::WanDirection::AtoB, ab);
      relay.set_impairment(lab::WanDirection::BtoA, ba);
      std::cerr << "wan-relay: a_to_b " << lab::describe(ab) << ", b_to_a " << lab::describe(ba) << "\n";
    } catch (const std::exception& e) {
      std::cerr << e.what() << "; keeping the impairment as it was\n";
    }
  }
  stop = true;
  worker.join();
  if (failure) std::rethrow_exception(failure);
}

void run_wan_relay(const Context& ctx, const WanRelayArgs& args) {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  // Before any thread starts (Netns::run starts one), so that all of them inherit the mask.
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  lab::WanRelayOptions opts{args.a, args.b, {}, {}};
  opts.realtime_priority = args.rt_priority;
  opts.a_to_b = opts.b_to_a = lab::parse_impairment(args.delay, args.jitter, args.loss, args.rate);
  std::unique_ptr<lab::WanRelay> relay;
  const Netns ns = args.netns.empty() ? Netns::current() : Netns::open(args.netns);
  ns.run([&] { relay = std::make_unique<lab::WanRelay>(opts); });
  if (!args.pidfile.empty()) {
    std::ofstream(args.pidfile + ".tmp") << ::getpid() << "\n";
    std::filesystem::rename(args.pidfile + ".tmp", args.pidfile);  // never seen half written
  }
  std::cerr << "wan-relay: " << args.a << " <-> " << args.b << " in " << ns.name() << ", "
            << lab::describe(opts.a_to_b) << "\n";
  try {
    serve(*relay, args, signals);
  } catch (...) {
    if (!args.pidfile.empty()) std::filesystem::remove(args.pidfile);
    throw;
  }
  if (!args.pidfile.empty()) std::filesystem::remove(args.pidfile);
  emit(ctx.out, counters_json(*relay), print_counters);
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
  cmd->add_option("--control", args->control, "JSON file re-read on SIGHUP: {\"delay\": \"20ms\", ...} or per direction {\"a_to_b\": {...}, \"b_to_a\": {...}}");
  cmd->add_option("--rt-priority", args->rt_priority, "SCHED_FIFO priority of the relay threads; 0: normal scheduling (delays then suffer every wait for a core)")
      ->check(CLI::Range(0, 99))->capture_default_str();
  cmd->add_option("--pidfile", args->pidfile, "written once forwarding has started, removed on exit");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { run_wan_relay(ctx, *args); }; });
}

}  // namespace qpspread::cli
