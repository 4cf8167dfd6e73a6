// FRR daemons of one router namespace, started from generated configs and ended by PID.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "userspace/labgen/frr_config.h"

namespace qpspread::lab {

class FrrRouter {
 public:
  // Writes the configs into conf_dir and starts zebra, bfdd and bgpd in netns `ns`.
  FrrRouter(const std::string& ns, const RouterConfig& cfg, const std::string& conf_dir);
  ~FrrRouter();  // SIGTERM by PID, then SIGKILL; removes the runtime directory
  // Sends SIGTERM without waiting: a fabric asks every router first, then waits for each.
  void request_stop() noexcept;
  FrrRouter(const FrrRouter&) = delete;
  FrrRouter& operator=(const FrrRouter&) = delete;

  // `vtysh -N ns -c command`, parsed as JSON (the command must end in "json").
  nlohmann::json show(const std::string& command) const;
  const std::string& netns() const { return ns_; }
  const std::vector<pid_t>& pids() const { return pids_; }

 private:
  void start(const std::string& daemon, const std::string& conf);
  void stop() noexcept;
  std::string ns_, run_dir_;
  std::vector<pid_t> pids_;
};

}  // namespace qpspread::lab
