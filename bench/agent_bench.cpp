// qpspread-bench-agent: the agent's figures, against `qpspread agent` as a child process in a
// private namespace (a veth uplink, a VXLAN device of VNI 100):
//   1. the VXLAN device deleted and created again under traffic (a RoCEv2 frame sent into it every
//      millisecond): time from the creation (before `ip link add` runs) to the first frame the new
//      device's program steered; median of --rounds (goal <= 1 s);
//   2. the agent's CPU (user + system, all its threads) at idle and under 10 netlink changes per
//      second (a link toggled down and up), --cpu-seconds each;
//   3. GET /metrics and GET /v1/stats over --qps QPs written into its maps: seconds per scrape
//      (goal <= 0.25 s) and the agent's resident memory after them.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "bench/bench_support.h"
#include "common/command.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/netns.h"
#include "common/process.h"
#include "common/unique_fd.h"
#include "loader/bpffs.h"
#include "loader/pinned_maps.h"
#include "userspace/workload/raw_socket.h"
#include "userspace/workload/roce_frame.h"

namespace {

using nlohmann::json;
using qpspread::Error;
using qpspread::run_checked;
using qpspread::run_command;
using qpspread::bench::Summary;
using namespace std::chrono_literals;

constexpr double kRecreateGoalS = 1.0, kScrapeGoalS = 0.25;

// The namespace and the agent in it; both undone on destruction, whatever failed.
class Bench {
 public:
  Bench(const std::string& bin, uint16_t port) : bin_(bin), port_(port) {
    name_ = "qps-bench-agent-" + std::to_string(::getpid());
    run_checked({"ip", "netns", "add", name_});
    added_ = true;
    for (const char* n : {"up1", "t1"}) {
      ip({"link", "add", n, "type", "veth", "peer", "name", std::string(n) + "p"});
      ip({"link", "set", n, "up"});
      ip({"link", "set", std::string(n) + "p", "up"});
    }
    ip({"addr", "add", "10.9.0.1/24", "dev", "up1"});
    ip({"neigh", "add", "10.9.0.2", "lladdr", "02:00:00:00:09:02", "dev", "up1", "nud", "permanent"});
    add_vxlan();
    dir_ = "/tmp/" + name_;
    std::filesystem::create_directories(dir_);
    const std::string pidfile = dir_ + "/agent.pid";
    agent_ = qpspread::spawn_daemon({bin_, "agent", "--netns", name_, "--listen", "127.0.0.1:" + std::to_string(port_),
                                     "--pidfile", pidfile},
                                    dir_ + "/agent.log");
    if (qpspread::wait_for_pidfile(pidfile, 20s, agent_) == 0)
      throw Error("the agent did not start; see " + dir_ + "/agent.log");
  }
  ~Bench() {
    if (agent_ > 0) {
      ::kill(agent_, SIGTERM);
      ::waitpid(agent_, nullptr, 0);
    }
    if (added_) {
      run_command({bin_, "detach", "--netns", name_});
      run_command({"ip", "netns", "del", name_});
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& name() const { return name_; }
  pid_t agent() const { return agent_; }
  uint16_t port() const { return port_; }
  std::string pin_dir() const { return qpspread::pin_dir_for(qpspread::Netns::open(name_).inode()); }
  void ip(std::vector<std::string> args) const {
    args.insert(args.begin(), {"ip", "-n", name_});
    run_checked(args);
  }
  void add_vxlan() const {
    ip({"link", "add", "vx100", "type", "vxlan", "id", "100", "dstport", "4789", "local", "10.9.0.1", "nolearning"});
    ip({"link", "set", "vx100", "up"});
    run_checked({"bridge", "-n", name_, "fdb", "append", "00:00:00:00:00:00", "dev", "vx100", "dst", "10.9.0.2"});
  }

 private:
  std::string bin_, name_, dir_;
  uint16_t port_;
  bool added_ = false;
  pid_t agent_ = -1;
};

// A RoCEv2 frame into vx100 every millisecond, from a thread in the namespace; a send to a device
// that is gone opens the socket again at the next one.
class Traffic {
 public:
  explicit Traffic(const std::string& netns) {
    qpspread::workload::RoceFrameSpec spec;
    spec.src_mac = {0x02, 0, 0, 0, 1, 1};
    spec.dst_mac = {0x02, 0, 0, 0, 2, 1};
    spec.src_ip = 0x0a640001;
    spec.dst_ip = 0x0a640002;
    frame_ = qpspread::workload::build_rocev2_frame(spec);
    thread_ = std::thread([this, ns = qpspread::Netns::open(netns)]() mutable {
      ns.enter();
      std::unique_ptr<qpspread::workload::RawSender> tx;
      while (!stop_) {
        try {
          if (!tx) tx = std::make_unique<qpspread::workload::RawSender>("vx100");
          tx->send(frame_);
        } catch (const std::exception&) {
          tx.reset();
        }
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  ~Traffic() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::vector<uint8_t> frame_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

uint64_t steered(const std::string& pin_dir) {
  auto maps = qpspread::PinnedMaps::open(pin_dir);
  if (!maps) return 0;
  for (const auto& r : maps->reasons())
    if (r.name == "steered") return r.packets;
  return 0;
}

Summary recreate(Bench& b, int rounds) {
  Traffic traffic(b.name());
  std::vector<double> v;
  const std::string pins = b.pin_dir();
  for (int i = 0; i < rounds; i++) {
    qpspread::throw_if_interrupted();
    b.ip({"link", "del", "vx100"});
    std::this_thread::sleep_for(300ms);  // the agent forgets it; the traffic finds no device
    const uint64_t before = steered(pins);
    const auto t0 = std::chrono::steady_clock::now();
    b.add_vxlan();
    while (steered(pins) == before) {
      if (qpspread::bench::seconds_since(t0) > 10) throw Error("the recreated device was not steered within 10 s");
      std::this_thread::sleep_for(200us);
    }
    v.push_back(qpspread::bench::seconds_since(t0));
  }
  return qpspread::bench::summary_of(v);
}

// utime + stime of the process (all threads), in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; i++) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The agent's CPU share over `seconds`, with `changes_per_s` link toggles (0: idle).
double cpu_share(const Bench& b, double seconds, int changes_per_s) {
  const double c0 = cpu_seconds(b.agent());
  const auto t0 = std::chrono::steady_clock::now();
  int n = 0;
  while (qpspread::bench::seconds_since(t0) < seconds) {
    qpspread::throw_if_interrupted();
    if (changes_per_s == 0) {
      std::this_thread::sleep_for(100ms);
      continue;
    }
    b.ip({"link", "set", "t1", n++ % 2 ? "up" : "down"});
    std::this_thread::sleep_until(t0 + std::chrono::microseconds(1'000'000 * n / changes_per_s));
  }
  return (cpu_seconds(b.agent()) - c0) / qpspread::bench::seconds_since(t0);
}

struct Memory {
  long rss_kb = 0, hwm_kb = 0;
};
Memory memory(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  Memory m;
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kb = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_kb = std::stol(line.substr(6));
  }
  return m;
}

Summary scrape(const Bench& b, const std::string& path, int runs, size_t& bytes) {
  httplib::Client c("127.0.0.1", b.port());
  c.set_read_timeout(60, 0);
  return qpspread::bench::timed(runs, [&] {
    auto r = c.Get(path.c_str());
    if (!r) throw Error("GET " + path + ": " + httplib::to_string(r.error()));
    if (r->status != 200) throw Error("GET " + path + ": HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 200));
    bytes = r->body.size();
  });
}

// A free TCP port on 127.0.0.1 (the kernel's pick, closed again for the agent to take).
uint16_t free_port() {
  qpspread::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw Error(qpspread::errno_text("cannot find a free port on 127.0.0.1", errno));
  return ntohs(a.sin_port);
}

int run(int argc, char** argv) {
  int rounds = 10, runs = 5;
  uint32_t qps = 100000;
  double cpu_s = 10;
  bool json_out = false;
  std::string bin = QPSPREAD_BIN;
  CLI::App app{"the agent: recreate-to-steered, CPU idle and under netlink changes, scrapes over many QPs"};
  app.add_option("--rounds", rounds, "device recreations")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--runs", runs, "scrapes per endpoint")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--qps", qps, "QP entries to write before the scrapes")->capture_default_str()->check(CLI::Range(1u, uint32_t{QPS_MAX_QPS}));
  app.add_option("--cpu-seconds", cpu_s, "seconds of each CPU measurement")->capture_default_str()->check(CLI::Range(1.0, 600.0));
  app.add_option("--qpspread", bin, "the qpspread binary")->capture_default_str();
  app.add_flag("-j,--json", json_out, "JSON output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (::geteuid() != 0) {
    std::cerr << "qpspread-bench-agent: run as root (namespaces, BPF)\n";
    return 1;
  }
  qpspread::install_interrupt_handler();
  try {
    Bench b(bin, free_port());
    const Summary rec = recreate(b, rounds);
    const double idle = cpu_share(b, cpu_s, 0), busy = cpu_share(b, cpu_s, 10);
    const Memory before = memory(b.agent());
    qpspread::bench::fill_qps(b.pin_dir(), 100, static_cast<uint32_t>([&] {
                                int i = 0;
                                qpspread::Netns::open(b.name()).run([&] { i = static_cast<int>(if_nametoindex("up1")); });
                                return i;
                              }()),
                              qps);
    size_t metrics_bytes = 0, stats_bytes = 0;
    const Summary metrics = scrape(b, "/metrics", runs, metrics_bytes);
    const Summary stats = scrape(b, "/v1/stats", runs, stats_bytes);
    const Memory after = memory(b.agent());
    const std::string cpu = qpspread::bench::cpu_model();
    if (json_out) {
      std::cout << json{{"cpu_model", cpu},
                        {"recreate_to_steered", rec.to_json()},
                        {"cpu_idle", idle},
                        {"cpu_10_changes_per_s", busy},
                        {"qps", qps},
                        {"metrics", metrics.to_json()},
                        {"metrics_bytes", metrics_bytes},
                        {"v1_stats", stats.to_json()},
                        {"v1_stats_bytes", stats_bytes},
                        {"rss_kb_before_qps", before.rss_kb},
                        {"rss_kb_after", after.rss_kb},
                        {"peak_rss_kb", after.hwm_kb},
                        {"goals", {{"recreate_s", kRecreateGoalS}, {"scrape_s", kScrapeGoalS}}}}
                       .dump()
                << "\n";
      return 0;
    }
    auto row = [](const char* what, const Summary& s) {
      std::printf("%-52s %8.3f %8.3f %8.3f\n", what, s.min(), s.median(), s.max());
    };
    std::printf("CPU: %s\n%-52s %8s %8s %8s\n", cpu.c_str(), "seconds", "min", "median", "max");
    row(("device created -> first steered frame (" + std::to_string(rounds) + " rounds)").c_str(), rec);
    row(("GET /metrics, " + std::to_string(qps) + " QPs (" + std::to_string(metrics_bytes / 1024) + " KiB)").c_str(), metrics);
    row(("GET /v1/stats, " + std::to_string(qps) + " QPs (" + std::to_string(stats_bytes / 1048576) + " MiB)").c_str(), stats);
    std::printf("agent CPU: %.2f %% idle, %.2f %% under 10 netlink changes/s (%.0f s each)\n", 100 * idle, 100 * busy, cpu_s);
    std::printf("agent resident memory: %.1f MiB before the QPs, %.1f MiB after the scrapes (peak %.1f MiB)\n",
                before.rss_kb / 1024.0, after.rss_kb / 1024.0, after.hwm_kb / 1024.0);
    std::printf("goals: recreate median <= %.1f s %s; scrape medians <= %.2f s %s\n", kRecreateGoalS,
                rec.median() <= kRecreateGoalS ? "met" : "NOT met", kScrapeGoalS,
                metrics.median() <= kScrapeGoalS && stats.median() <= kScrapeGoalS ? "met" : "NOT met");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "qpspread-bench-agent: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
