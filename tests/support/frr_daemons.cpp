#include "tests/support/frr_daemons.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/command.h"
#include "common/error.h"

namespace qpspread::lab {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw Error("cannot write " + path);
  ::chmod(path.c_str(), 0644);  // the daemons read it after dropping to user frr
}

pid_t wait_for_pidfile(const std::string& path) {
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    std::ifstream f(path);
    pid_t pid = 0;
    if (f >> pid && pid > 0) return pid;
    std::this_thread::sleep_for(50ms);
  }
  return 0;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

}  // namespace

FrrRouter::FrrRouter(const std::string& ns, const RouterConfig& cfg, const std::string& conf_dir)
    : ns_(ns), run_dir_("/var/run/frr/" + ns) {
  fs::create_directories(run_dir_);
  if (const passwd* pw = ::getpwnam("frr")) ::chown(run_dir_.c_str(), pw->pw_uid, pw->pw_gid);
  RouterConfig c = cfg;
  c.log_file = run_dir_ + "/frr.log";
  try {
    write_file(conf_dir + "/" + ns + "-zebra.conf", zebra_conf(c));
    write_file(conf_dir + "/" + ns + "-bfdd.conf", bfdd_conf(c));
    write_file(conf_dir + "/" + ns + "-bgpd.conf", bgpd_conf(c));
    start("zebra", conf_dir + "/" + ns + "-zebra.conf");
    start("bfdd", conf_dir + "/" + ns + "-bfdd.conf");
    start("bgpd", conf_dir + "/" + ns + "-bgpd.conf");
  } catch (...) {
    stop();
    throw;
  }
}

FrrRouter::~FrrRouter() { stop(); }

void FrrRouter::start(const std::string& daemon, const std::string& conf) {
  const std::string pidfile = run_dir_ + "/" + daemon + ".pid";
  ::unlink(pidfile.c_str());
  run_checked({"ip", "netns", "exec", ns_, "/usr/lib/frr/" + daemon, "-d", "-N", ns_, "-f", conf,
               "-i", pidfile});
  const pid_t pid = wait_for_pidfile(pidfile);
  if (!pid) throw Error(daemon + " in netns " + ns_ + " wrote no pid file; see " + run_dir_ + "/frr.log");
  pids_.push_back(pid);
}

void FrrRouter::request_stop() noexcept {
  for (pid_t pid : pids_) ::kill(pid, SIGTERM);
}

void FrrRouter::stop() noexcept {
  request_stop();
  for (auto deadline = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < deadline;) {
    bool any = false;
    for (pid_t pid : pids_) any |= alive(pid);
    if (!any) break;
    std::this_thread::sleep_for(50ms);
  }
  for (pid_t pid : pids_)
    if (alive(pid)) ::kill(pid, SIGKILL);
  pids_.clear();
  std::error_code ec;
  fs::remove_all(run_dir_, ec);
}

nlohmann::json FrrRouter::show(const std::string& command) const {
  CommandOutput r = run_command({"vtysh", "-N", ns_, "-c", command});
  if (r.exit_code != 0 || r.out.empty()) return nlohmann::json();
  return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

}  // namespace qpspread::lab
