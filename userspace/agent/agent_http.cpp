#include "userspace/agent/agent_http.h"

#include <httplib.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "loader/attach.h"
#include "userspace/agent/agent.h"
#include "userspace/report/prometheus.h"
#include "userspace/report/stats_report.h"
#include "userspace/report/status_json.h"

namespace qpspread::agent {
namespace {

using nlohmann::json;

constexpr const char* kPromType = "text/plain; version=0.0.4; charset=utf-8";

// The agent's own families, per target.
std::string agent_metrics(const std::vector<TargetView>& views, const std::vector<std::string>& scrape_errors) {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& v : views)
      out += std::string(name) + "{netns=" + report::prometheus_label(v.health.netns) + "} " + std::to_string(value(v.health)) + "\n";
  };
  family("qpspread_agent_target_up", "gauge", "1 when the agent's last attach in the namespace succeeded",
         [](const TargetHealth& h) { return h.ok ? 1 : 0; });
  family("qpspread_agent_reconciles_total", "counter", "attach runs (after netlink changes, resyncs, reloads)",
         [](const TargetHealth& h) { return h.reconciles; });
  family("qpspread_agent_reconcile_errors_total", "counter", "attach runs that failed",
         [](const TargetHealth& h) { return h.errors; });
  family("qpspread_agent_balance_errors", "gauge", "VNIs whose last balance step failed",
         [](const TargetHealth& h) { return h.balance_errors.size(); });
  out += "# HELP qpspread_agent_scrape_errors namespaces whose maps could not be read for this scrape\n"
         "# TYPE qpspread_agent_scrape_errors gauge\nqpspread_agent_scrape_errors " +
         std::to_string(scrape_errors.size()) + "\n";
  return out;
}

// A large JSON body moved in, not copied (27 MB for 100 000 QPs).
void send_body(httplib::Response& res, std::string body) {
  res.set_header("Content-Type", "application/json");
  res.body = std::move(body);
}

void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(j.dump() + "\n", "application/json");
}

}  // namespace

Endpoint::Endpoint(const Agent& agent, const std::string& host, uint16_t port)
    : server_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *server_;
  // Two workers: scrapes are few, and each worker's malloc arena keeps what a 100 000-QP answer used.
  s.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.Get("/metrics", [&agent](const httplib::Request&, httplib::Response& res) {
    std::vector<report::StatsReport> reports;
    std::vector<std::string> errors;
    const auto views = agent.views();
    for (const auto& v : views) {
      try {
        reports.push_back(report::build_stats(*v.ns, std::nullopt));
      } catch (const std::exception& e) {
        errors.push_back(v.health.netns + ": " + e.what());  // not attached yet: no samples
      }
    }
    res.set_content(report::prometheus_text(reports) + agent_metrics(views, errors), kPromType);
  });
  s.Get("/v1/stats", [&agent](const httplib::Request& req, httplib::Response& res) {
    const std::string only = req.get_param_value("netns");
    std::string all = "{\"namespaces\":[";
    bool first = true;
    for (const auto& v : agent.views()) {
      if (!only.empty() && v.health.netns != only) continue;
      std::string one;
      try {
        one = report::stats_json_text(report::build_stats(*v.ns, std::nullopt));
      } catch (const std::exception& e) {
        if (!only.empty()) return send_json(res, {{"error", e.what()}}, 503);
        one = json{{"netns", v.health.netns}, {"error", e.what()}}.dump();
      }
      if (!only.empty()) {
        one += '\n';
        return send_body(res, std::move(one));
      }
      if (!first) all += ',';
      all += one;
      first = false;
    }
    if (!only.empty()) return send_json(res, {{"error", "netns " + only + " is not one of the agent's targets"}}, 404);
    all += "]}\n";
    send_body(res, std::move(all));
  });
  s.Get("/v1/status", [&agent](const httplib::Request&, httplib::Response& res) {
    json ns = json::array();
    for (const auto& v : agent.views()) ns.push_back(report::status_json(status(*v.ns)));
    send_json(res, {{"agent", agent.agent_json()}, {"namespaces", ns}});
  });
  s.Get("/healthz", [&agent](const httplib::Request&, httplib::Response& res) {
    std::string bad;
    for (const auto& v : agent.views())
      if (!v.health.ok) bad += "netns " + v.health.netns + ": " + (v.health.error.empty() ? "not attached yet" : v.health.error) + "\n";
    res.status = bad.empty() ? 200 : 503;
    res.set_content(bad.empty() ? "ok\n" : bad, "text/plain; charset=utf-8");
  });
  auto refuse = [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", "GET");
    send_json(res, {{"error", "the agent's endpoint is read-only; change modes and assignments with the qpspread CLI"}}, 405);
  };
  for (const char* path : {"/metrics", "/v1/stats", "/v1/status", "/healthz", R"(/.*)"}) {
    s.Post(path, refuse);
    s.Put(path, refuse);
    s.Delete(path, refuse);
    s.Patch(path, refuse);
  }
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404)
      send_json(res, {{"error", "no such path; GET /metrics, /v1/status, /v1/stats or /healthz"}}, 404);
  });
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second agent (or anything
  // else) on the same port would bind too and take some of the connections.
  s.set_socket_options([](int sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (!s.bind_to_port(host, port))
    throw Error("the agent cannot listen on " + host + ":" + std::to_string(port) +
                " (in use, or not an address of this host); set `listen:` in its config, or `listen: off`");
  address_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

Endpoint::~Endpoint() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace qpspread::agent
