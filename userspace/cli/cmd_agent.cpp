// agent: the node agent (userspace/agent/agent.h) from a config file, or for a lab or namespaces
// given on the command line with every other setting at its default.
#include <iostream>

#include "common/error.h"
#include "loader/pinned_maps.h"
#include "userspace/agent/agent.h"
#include "userspace/agent/agent_config.h"
#include "userspace/cli/commands.h"

namespace qpspread::cli {

void register_agent_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "agent", "keep qpspread attached as devices come and go, balance, and serve /metrics, /v1/status, /v1/stats, /healthz");
  struct Args {
    std::string config, lab, listen, pidfile;
    std::vector<std::string> netns;
    bool check = false;
  };
  auto a = std::make_shared<Args>();
  auto* config = cmd->add_option("--config,-c", a->config, "the agent's YAML config (docs/agent.md; a sample: dist/agent.yml)");
  cmd->add_option("--lab", a->lab, "without --config: every leaf and border of this lab")->excludes(config);
  cmd->add_option("--netns", a->netns, "without --config: these namespaces (default: the agent's own)")->excludes(config);
  cmd->add_option("--listen", a->listen, "HOST:PORT of the endpoint, or off (overrides the config's listen)");
  cmd->add_option("--pidfile", a->pidfile, "write the agent's PID here once it serves (removed on exit)");
  cmd->add_flag("--check", a->check, "validate the config, print what it says (JSON) and exit: 0 good, 2 bad");
  cmd->callback([&ctx, a] {
    ctx.action = [&ctx, a] {
      agent::AgentConfig c;
      if (!a->config.empty()) {
        c = agent::load_agent_config(a->config);
      } else {
        c.file = "(command line)";
        if (!a->lab.empty()) c.targets.emplace_back().lab = a->lab;
        for (const auto& n : a->netns) c.targets.emplace_back().netns = n;
        if (c.targets.empty()) c.targets.push_back({});
      }
      if (!a->listen.empty() && !agent::parse_listen(a->listen, c.listen_host, c.listen_port))
        throw UsageError("--listen " + a->listen + ": not HOST:PORT (like 127.0.0.1:9477) or off");
      if (a->check) {
        nlohmann::json j = {{"config", c.file.string()}, {"valid", true},
                            {"listen", c.listen_port ? c.listen_host + ":" + std::to_string(c.listen_port) : "off"},
                            {"targets", nlohmann::json::array()}, {"mode", mode_name(c.default_mode.mode)},
                            {"mark", c.mark}, {"on_exit", c.detach_on_exit ? "detach" : "keep"}};
        for (const auto& t : c.targets)
          j["targets"].push_back(t.lab.empty() ? nlohmann::json{{"netns", t.netns.empty() ? "(own)" : t.netns}}
                                               : nlohmann::json{{"lab", t.lab}});
        for (const auto& [vni, v] : c.vnis) j["vnis"][std::to_string(vni)] = mode_name(v.mode);
        emit(ctx.out, j, [](const nlohmann::json& j) {
          std::cout << j["config"].get<std::string>() << ": valid; " << j["targets"].size() << " target(s), listen "
                    << j["listen"].get<std::string>() << "\n";
        });
        return;
      }
      agent::Agent agent(std::move(c));
      agent.run(a->pidfile);
    };
  });
}

}  // namespace qpspread::cli
