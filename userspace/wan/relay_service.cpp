#include "userspace/wan/relay_service.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/netns.h"

namespace qpspread::wan {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void write_atomically(const std::string& path, const std::string& text, const std::string& what) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp, ec);
    throw Error("wan-relay: cannot write the " + what + " " + path + ": " + why);
  }
}

// Removes the pidfile however serve_relay ends, once it was written.
struct Pidfile {
  std::string path;
  explicit Pidfile(std::string p) : path(std::move(p)) {
    if (!path.empty()) write_atomically(path, std::to_string(::getpid()) + "\n", "pidfile");
  }
  ~Pidfile() {
    std::error_code ec;
    if (!path.empty()) fs::remove(path, ec);
  }
  Pidfile(const Pidfile&) = delete;
  Pidfile& operator=(const Pidfile&) = delete;
};

void reload(WanRelay& relay, const std::string& control, std::ostream& log) {
  if (control.empty()) {
    log << "wan-relay: SIGHUP without --control: nothing to re-read\n";
    return;
  }
  try {
    Impairment ab, ba;
    read_control(control, &ab, &ba);
    relay.set_impairment(WanDirection::AtoB, ab);
    relay.set_impairment(WanDirection::BtoA, ba);
    log << "wan-relay: a_to_b " << describe(ab) << ", b_to_a " << describe(ba) << "\n";
  } catch (const std::exception& e) {
    log << e.what() << "; keeping the impairment as it was\n";
  }
}

// Waits for signals in this thread (they are blocked in every thread, so none is lost to another)
// while the relay runs on its own; returns when told to stop or when the relay failed.
void serve(WanRelay& relay, const std::string& control, const sigset_t& signals, std::ostream& log) {
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
    if (sig == SIGHUP) reload(relay, control, log);
  }
  stop = true;
  worker.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

void read_control(const std::string& path, Impairment* a_to_b, Impairment* b_to_a) {
  std::ifstream in(path);
  if (!in) throw Error("wan-relay: cannot read control file " + path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error("wan-relay: control file " + path + " is not JSON: " + e.what());
  }
  if (j.is_object() && (j.contains("a_to_b") || j.contains("b_to_a"))) {
    *a_to_b = impairment_from_json(j.value("a_to_b", json::object()));
    *b_to_a = impairment_from_json(j.value("b_to_a", json::object()));
  } else {
    *a_to_b = *b_to_a = impairment_from_json(j);
  }
}

void write_control(const std::string& path, const Impairment& both) {
  write_atomically(path, to_json(both).dump() + "\n", "control file");
}

json counters_json(const WanRelay& relay) {
  json j = json::object();
  for (auto d : {WanDirection::AtoB, WanDirection::BtoA}) {
    const WanCounters c = relay.counters(d);
    j[direction_name(d)] = {{"impairment", to_json(relay.impairment(d))},
                            {"received", c.received}, {"forwarded", c.forwarded},
                            {"forwarded_bytes", c.forwarded_bytes}, {"dropped_loss", c.dropped_loss},
                            {"dropped_queue", c.dropped_queue}, {"dropped_error", c.dropped_error},
                            {"marked_ce", c.marked_ce}};
  }
  return j;
}

json serve_relay(const RelayServiceOptions& opts, std::ostream& log) {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  // Before any thread starts (Netns::run starts one), so that all of them inherit the mask.
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<WanRelay> relay;
  const Netns ns = opts.netns.empty() ? Netns::current() : Netns::open(opts.netns);
  ns.run([&] { relay = std::make_unique<WanRelay>(opts.relay); });
  const Pidfile pidfile(opts.pidfile);
  log << "wan-relay: " << opts.relay.a << " <-> " << opts.relay.b << " in " << ns.name() << ", "
      << describe(opts.relay.a_to_b) << std::endl;
  serve(*relay, opts.control, signals, log);
  return counters_json(*relay);
}

}  // namespace qpspread::wan
