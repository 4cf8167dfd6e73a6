#include "userspace/lab/lab_state.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/error.h"

namespace qpspread::lab {
namespace {

namespace fs = std::filesystem;

}  // namespace

bool still_running(const LabProcess& p) {
  return p.pid > 0 && process_start_ticks(p.pid) == p.start_ticks && p.start_ticks != 0;
}

int end_processes(const std::vector<LabProcess>& ps, int grace_ms) {
  std::vector<LabProcess> running;
  for (const auto& p : ps)
    if (still_running(p)) running.push_back(p);
  for (const auto& p : running) ::kill(p.pid, SIGTERM);
  auto any_left = [&] {
    for (const auto& p : running)
      if (still_running(p)) return true;
    return false;
  };
  for (int waited = 0; waited < grace_ms && any_left(); waited += 20)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (const auto& p : running)
    if (still_running(p)) ::kill(p.pid, SIGKILL);
  return static_cast<int>(running.size());
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(ms));
  return buf;
}

std::string LabState::dir_for(const std::string& lab) { return "/run/qpspread/lab/" + lab; }

std::optional<LabState> LabState::load(const std::string& lab) {
  std::ifstream f(dir_for(lab) + "/state.json");
  if (!f) return std::nullopt;
  LabState s;
  s.lab_ = lab;
  s.j_ = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
  if (s.j_.is_discarded() || !s.j_.is_object())
    throw Error("the state of lab " + lab + " (" + dir_for(lab) + "/state.json) is unreadable; remove it by hand");
  return s;
}

LabState LabState::create(const std::string& lab, const std::string& topology_file) {
  LabState s;
  s.lab_ = lab;
  s.j_ = {{"name", lab}, {"topology", topology_file}, {"created", utc_now()}, {"namespaces", nlohmann::json::array()},
          {"processes", nlohmann::json::array()}, {"links", nlohmann::json::object()}, {"events", nlohmann::json::array()},
          {"up", false}};
  fs::create_directories(s.dir());
  s.save();
  return s;
}

void LabState::add_namespace(const std::string& ns) {
  j_["namespaces"].push_back(ns);
  save();
}

void LabState::add_process(const LabProcess& p) {
  j_["processes"].push_back({{"node", p.node}, {"what", p.what}, {"pid", p.pid}, {"start_ticks", p.start_ticks}});
  save();
}

void LabState::remove_processes(const std::string& node) {
  nlohmann::json keep = nlohmann::json::array();
  for (const auto& p : j_["processes"])
    if (p["node"] != node) keep.push_back(p);
  j_["processes"] = keep;
  save();
}

std::vector<LabProcess> LabState::processes() const {
  std::vector<LabProcess> out;
  for (const auto& p : j_["processes"])
    out.push_back({p["node"].get<std::string>(), p["what"].get<std::string>(), p["pid"].get<pid_t>(),
                   p["start_ticks"].get<unsigned long long>()});
  return out;
}

void LabState::event(const std::string& what) {
  j_["events"].push_back({{"time", utc_now()}, {"what", what}});
  save();
}

void LabState::save() const {
  const std::string path = dir() + "/state.json", tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << j_.dump(2) << "\n";
    if (!f) throw Error("cannot write " + tmp);
  }
  fs::rename(tmp, path);
}

void LabState::remove() const {
  std::error_code ec;
  fs::remove_all(dir(), ec);
}

}  // namespace qpspread::lab
