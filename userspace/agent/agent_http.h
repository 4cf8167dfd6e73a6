// The agent's HTTP endpoint (cpp-httplib, on its own thread): GET only, by default on 127.0.0.1.
//   /metrics    Prometheus text: the families of `qpspread stats --prometheus` for every target
//               namespace (label netns), and the agent's own (qpspread_agent_*).
//   /v1/stats   {"namespaces": [the JSON of `qpspread -j stats`, one per target]}; with
//               ?netns=NAME exactly that namespace's `stats -j` object.
//   /v1/status  {"agent": {...targets' health}, "namespaces": [the JSON of `status -j`, per target]}
//   /healthz    200 "ok" when every target's last attach succeeded, else 503 with the errors.
// Anything else is 404; other methods 405: state changes (modes, assignments) go through the CLI.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace qpspread::agent {

class Agent;

class Endpoint {
 public:
  // Listens before returning; throws qpspread::Error when it cannot (the address in use, ...).
  Endpoint(const Agent& agent, const std::string& host, uint16_t port);
  ~Endpoint();  // stops the server and joins its thread
  std::string address() const { return address_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
};

}  // namespace qpspread::agent
