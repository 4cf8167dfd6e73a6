// lab up|down|status|exec|impair|link|node: the containerlab topology run without Docker.
#include <array>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "common/error.h"
#include "common/interrupt.h"
#include "userspace/cli/commands.h"
#include "userspace/lab/clab_file.h"
#include "userspace/lab/clab_impair.h"
#include "userspace/lab/lab_runner.h"
#include "userspace/lab/lab_state.h"
#include "userspace/lab/lab_wan.h"
#include "userspace/wan/impairment.h"

namespace qpspread::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// -t FILE (default lab/scaleacross.clab.yml) and --name LAB (default: the file's name).
struct LabTarget {
  std::string topo = "lab/scaleacross.clab.yml";
  std::string name;
  void add_to(CLI::App* cmd) {
    cmd->add_option("-t,--topo", topo, "containerlab topology file")->capture_default_str();
    cmd->add_option("--name,--lab", name, "lab name (default: the topology's name)");
  }
  std::string lab() const {
    if (!name.empty()) return name;
    if (!fs::exists(topo))
      throw Error("no topology file " + topo + "; pass -t FILE or --name LAB");
    return lab::load_clab(topo).name;
  }
};

void print_up(const json& j) {
  std::printf("lab %s: %zu nodes, %zu links, %s after %.1f s\n", j["lab"].get<std::string>().c_str(), j["nodes"].get<size_t>(),
              j["links"].get<size_t>(), j["converged"].get<bool>() ? "converged" : "NOT converged", j["seconds"].get<double>());
  for (const auto& m : j["not_converged"]) std::printf("  %s\n", m.get<std::string>().c_str());
  if (j.contains("agent"))
    std::printf("agent: pid %d, endpoint http://%s (/metrics, /v1/status, /v1/stats, /healthz), log %s\n",
                j["agent"]["pid"].get<int>(), j["agent"]["listen"].get<std::string>().c_str(),
                j["agent"]["log"].get<std::string>().c_str());
}

void print_lab_status(const json& j) {
  std::printf("lab %s (%s), up since %s\n", j["lab"].get<std::string>().c_str(), j["topology"].get<std::string>().c_str(),
              j["created"].get<std::string>().c_str());
  std::printf("  %-16s %-7s %-9s %-9s %s\n", "NODE", "NETNS", "BGP-UP", "BFD-UP", "VNIS (REMOTE VTEPS)");
  for (const auto& n : j["nodes"]) {
    auto count_up = [&](const char* key, const char* field, const char* good) {
      if (!n.contains(key)) return std::string("-");
      size_t up = 0;
      for (const auto& x : n[key]) up += x[field] == good;
      return std::to_string(up) + "/" + std::to_string(n[key].size());
    };
    std::string vnis;
    for (const auto& v : n.value("vnis", json::array()))
      vnis += std::to_string(v["vni"].get<unsigned>()) + "(" + std::to_string(v["remote_vteps"].size()) + ") ";
    std::printf("  %-16s %-7s %-9s %-9s %s\n", n["name"].get<std::string>().c_str(), n["exists"].get<bool>() ? "yes" : "MISSING",
                count_up("bgp", "state", "Established").c_str(), count_up("bfd", "status", "up").c_str(), vnis.c_str());
  }
  for (const auto& l : j["links"]) {
    const wan::Impairment imp = wan::impairment_from_json(l.value("impairment", json::object()));
    std::printf("  WAN %s: backend %s, impairment %s%s\n", l["name"].get<std::string>().c_str(),
                l.value("backend", "?").c_str(), wan::describe(imp).c_str(), l.value("cut", false) ? ", CUT" : "");
  }
}

void add_up(CLI::App* lab, Context& ctx) {
  auto* cmd = lab->add_subcommand("up", "create the lab's namespaces, links and FRR routers; wait for convergence");
  auto target = std::make_shared<LabTarget>();
  auto timeout = std::make_shared<int>(60);
  auto agent = std::make_shared<bool>(false);
  auto listen = std::make_shared<std::string>("127.0.0.1:9477");
  target->add_to(cmd);
  cmd->add_option("--timeout", *timeout, "seconds to wait for BGP, BFD and EVPN")->check(CLI::Range(1, 3600))->capture_default_str();
  cmd->add_flag("--agent", *agent, "once converged, start qpspread agent for the lab's leaves and borders (lab down stops it)");
  cmd->add_option("--agent-listen", *listen, "the agent's endpoint, HOST:PORT")->capture_default_str();
  cmd->callback([&ctx, target, timeout, agent, listen] {
    ctx.action = [&ctx, target, timeout, agent, listen] {
      lab::ClabTopology t = lab::load_clab(target->topo);
      if (!target->name.empty()) t.name = target->name;
      install_interrupt_handler();
      lab::UpOptions o;
      o.timeout_s = *timeout;
      if (*agent) o.agent_listen = *listen;
      o.progress = [](const std::string& line) { std::cerr << "[lab] " << line << std::endl; };
      const json j = lab::lab_up(t, o);
      emit(ctx.out, j, print_up);
      if (!j["converged"].get<bool>()) throw Error("lab " + t.name + " did not converge; 'qpspread lab status' shows it, 'qpspread lab down' removes it");
    };
  });
}

void add_simple(CLI::App* lab, Context& ctx) {
  auto* down = lab->add_subcommand("down", "remove every namespace, process and pin the lab made");
  auto dt = std::make_shared<LabTarget>();
  dt->add_to(down);
  down->callback([&ctx, dt] {
    ctx.action = [&ctx, dt] {
      emit(ctx.out, lab::lab_down(dt->lab()), [](const json& j) {
        if (!j["was_up"].get<bool>()) std::printf("lab %s is not up\n", j["lab"].get<std::string>().c_str());
        else std::printf("lab %s down: %d processes ended, %zu namespaces removed\n", j["lab"].get<std::string>().c_str(),
                         j["processes_ended"].get<int>(), j["namespaces_removed"].size());
      });
    };
  });
  auto* status = lab->add_subcommand("status", "nodes, BGP sessions, BFD peers, VNIs and remote VTEPs, WAN impairments");
  auto st = std::make_shared<LabTarget>();
  st->add_to(status);
  status->callback([&ctx, st] { ctx.action = [&ctx, st] { emit(ctx.out, lab::lab_status(st->lab()), print_lab_status); }; });
}

void add_exec(CLI::App* lab, Context& ctx) {
  auto* cmd = lab->add_subcommand("exec", "run a command in a node's namespace: lab exec NODE -- CMD ...");
  auto target = std::make_shared<LabTarget>();
  auto node = std::make_shared<std::string>();
  auto argv = std::make_shared<std::vector<std::string>>();
  target->add_to(cmd);
  cmd->add_option("node", *node, "the node")->required();
  cmd->add_option("command", *argv, "the command, after --")->required();
  cmd->callback([&ctx, target, node, argv] {
    ctx.action = [target, node, argv] {
      const int rc = lab::lab_exec(target->lab(), *node, *argv);
      std::cout.flush();
      if (rc != 0) std::exit(rc);
    };
  });
}

void print_impair(const json& j) {
  std::printf("%s %s: %s\n", j["time"].get<std::string>().c_str(), j["link"].get<std::string>().c_str(),
              wan::describe(wan::impairment_from_json(j["impairment"])).c_str());
}

void add_impair(CLI::App* lab, Context& ctx) {
  auto* impair = lab->add_subcommand("impair",
                                     "change a WAN link's impairment (flags of containerlab tools netem set), "
                                     "on a lab up under qpspread or deployed by containerlab");
  auto it = std::make_shared<LabTarget>();
  auto link = std::make_shared<std::string>();
  auto from_file = std::make_shared<std::string>();
  auto flags = std::make_shared<std::array<std::optional<std::string>, 5>>();
  it->add_to(impair);
  auto* link_opt = impair->add_option("link", *link, "WAN link: its vars.name or an endpoint NODE:IF");
  auto* file_opt = impair->add_option("--from-file", *from_file,
                                      "set every WAN link to its vars.impairment in this topology file");
  file_opt->excludes(link_opt);
  std::vector<CLI::Option*> value_opts = {
      impair->add_option("--delay", (*flags)[0], "one-way delay, like 20ms, 1.5ms, 500us"),
      impair->add_option("--jitter", (*flags)[1], "jitter around the delay, like 1ms"),
      impair->add_option("--loss", (*flags)[2], "loss in percent, 0-100, like 0.1"),
      impair->add_option("--rate", (*flags)[3], "rate like 1gbit, 100mbit, 500kbit; 0: unlimited"),
      impair->add_option("--ecn", (*flags)[4],
                         "ECN marking of the rate's queue, WRED style: KMIN,KMAX,PMAX like 20kb,100kb,10%; 0: off")};
  for (auto* o : value_opts) file_opt->excludes(o);
  impair->callback([&ctx, it, link, from_file, flags] {
    if (link->empty() && from_file->empty())
      throw CLI::ValidationError("lab impair", "give a WAN link or --from-file FILE");
    ctx.action = [&ctx, it, link, from_file, flags] {
      if (!from_file->empty()) {
        const std::string name = it->name.empty() ? lab::load_clab(*from_file).name : it->name;
        emit(ctx.out, lab::lab_impair_from_file(name, *from_file), [](const json& j) {
          for (const auto& l : j["links"]) print_impair(l);
        });
        return;
      }
      // Parsed before the lab is looked at: a bad value changes nothing.
      const auto& f = *flags;
      const wan::ImpairmentChange change = wan::parse_impairment_change(f[0], f[1], f[2], f[3], f[4], "--");
      emit(ctx.out, lab::lab_impair(it->lab(), it->topo, *link, change), print_impair);
    };
  });
}

void add_failures(CLI::App* lab, Context& ctx) {
  for (const auto& [verb, what, states] : {std::tuple{"link", "a link (vars.name or NODE:IF)", std::pair{"down", "up"}},
                                           std::tuple{"node", "a node", std::pair{"stop", "start"}}}) {
    auto* cmd = lab->add_subcommand(verb, std::string("failure injection on ") + what + ", timestamped");
    auto target = std::make_shared<LabTarget>();
    auto obj = std::make_shared<std::string>();
    auto state = std::make_shared<std::string>();
    target->add_to(cmd);
    cmd->add_option("name", *obj, what)->required();
    cmd->add_option("state", *state, std::string(states.first) + " or " + states.second)
        ->required()->check(CLI::IsMember({states.first, states.second}));
    const bool is_link = std::string(verb) == "link";
    const std::string good = states.second;
    cmd->callback([&ctx, target, obj, state, is_link, good] {
      ctx.action = [&ctx, target, obj, state, is_link, good] {
        const json j = is_link ? lab::lab_link(target->lab(), *obj, *state == good) : lab::lab_node(target->lab(), *obj, *state == good);
        emit(ctx.out, j, [](const json& j) { std::printf("%s %s\n", j["time"].get<std::string>().c_str(), j.dump().c_str()); });
      };
    });
  }
}

}  // namespace

void register_lab_command(CLI::App& app, Context& ctx) {
  auto* lab = app.add_subcommand("lab", "the multi-DC lab from a containerlab topology, without Docker");
  lab->require_subcommand(1);
  add_up(lab, ctx);
  add_simple(lab, ctx);
  add_exec(lab, ctx);
  add_impair(lab, ctx);
  add_failures(lab, ctx);
}

}  // namespace qpspread::cli
