// attach, detach, status, mode, stats: each builds its JSON result from the loader's report, and
// a plain renderer prints the same result for people. status -j: per namespace "reasons" (the VTEP
// program on the VXLAN devices), "uplink_reasons" (the uplinks' tc program: frames that were not
// VXLAN) and "xdp_reasons" (underlay XDP), each {name: {"packets", "bytes"}}, empty when that
// program is not attached.
#include <dirent.h>

#include <cstdio>
#include <iostream>

#include "common/error.h"
#include "common/units.h"
#include "loader/attach.h"
#include "loader/bpffs.h"
#include "userspace/cli/commands.h"
#include "userspace/report/stats_report.h"
#include "userspace/report/status_json.h"

namespace qpspread::cli {
namespace {

// Mode balance's flowlet gap as given (empty: the default), in microseconds.
uint32_t flowlet_gap_us(const std::string& text) {
  if (text.empty()) return QPS_DEFAULT_FLOWLET_GAP_US;
  const uint64_t us = parse_duration_us("--flowlet-gap", text);
  if (us == 0 || us > 60'000'000)
    throw Error("--flowlet-gap: " + text + " is outside 1us to 60s; the gap must exceed the paths' delay difference");
  return static_cast<uint32_t>(us);
}

using nlohmann::json;

// One line per program; a program not attached here (empty object) has no line, except the
// VTEP program's, which status has always shown.
void print_reasons(const char* title, const json& reasons, bool always = false) {
  if (reasons.empty() && !always) return;
  std::cout << "  " << title << ":";
  for (const auto& [name, r] : reasons.items())
    if (r["packets"].get<uint64_t>()) std::cout << " " << name << "=" << r["packets"].get<uint64_t>();
  std::cout << "\n";
}

void print_status(const json& all) {
  if (all["namespaces"].empty()) {
    std::cout << "qpspread is not attached in any network namespace\n";
    return;
  }
  for (const auto& j : all["namespaces"]) {
    std::cout << "netns " << j["netns"].get<std::string>();
    if (!j["attached"].get<bool>()) {
      std::cout << ": not attached\n";
      continue;
    }
    std::cout << "  (maps pinned in " << j["pin_dir"].get<std::string>() << ")\n";
    std::printf("  %-16s %-8s %-9s %-8s %-9s %s\n", "DEVICE", "IFINDEX", "VNI", "MODE", "PROG-ID", "STATE");
    for (const auto& d : j["devices"]) {
      std::printf("  %-16s %-8d %-9u %-8s %-9u %s\n", d["ifname"].get<std::string>().c_str(),
                  d["ifindex"].get<int>(), d["vni"].get<unsigned>(),
                  d["mode"].get<std::string>().c_str(), d["prog_id"].get<unsigned>(),
                  d["attached"].get<bool>() ? ("attached (" + d["tc_hook"].get<std::string>() + ")").c_str()
                                            : "PROGRAM MISSING (run attach again)");
    }
    for (const auto& u : j["uplinks"])
      std::printf("  %-16s %-8d %-9s %-8s %-9u %s\n", u["ifname"].get<std::string>().c_str(), u["ifindex"].get<int>(),
                  "uplink", "-", u["prog_id"].get<unsigned>(),
                  u["attached"].get<bool>() ? ("counting tx/rx (" + u["tc_hook"].get<std::string>() + ", rx on " +
                                               u["rx_hook"].get<std::string>() + ")").c_str()
                                            : "PROGRAM MISSING (run attach again)");
    for (const auto& t : j["transit"])
      std::printf("  %-16s %-8d %-9s %-8s %-9u %s\n", t["ifname"].get<std::string>().c_str(), t["ifindex"].get<int>(),
                  "transit", t["xdp_mode"].get<std::string>().c_str(), t["xdp_prog_id"].get<unsigned>(),
                  t["attached"].get<bool>() ? "rewriting" : "XDP PROGRAM MISSING (run attach again)");
    print_reasons("packets by reason", j["reasons"], true);
    print_reasons("uplink frames by reason (not VXLAN)", j["uplink_reasons"]);
    print_reasons("received frames by reason (uplinks, transit interfaces)", j["xdp_reasons"]);
    std::cout << "  QPs tracked: " << j["qp_entries"].get<size_t>() << "\n";
  }
}

// The namespaces under /run/netns that have qpspread pins.
std::vector<std::string> attached_namespaces() {
  std::vector<std::string> out;
  for (const std::string& name : netns_names()) {
    try {
      Netns ns = Netns::open(name);
      if (path_exists(pin_dir_for(ns.inode()))) out.push_back(name);
    } catch (const Error&) {
    }
  }
  return out;
}

json attach_json(const Netns& ns, const AttachReport& r) {
  json j = {{"netns", ns.name()}, {"pin_dir", r.pin_dir}, {"devices", json::array()},
            {"uplinks", json::array()}, {"remote_vteps", json::array()}};
  for (const auto& d : r.devices) {
    json dj = report::device_json(d);
    dj["already_attached"] = d.already_attached;
    j["devices"].push_back(dj);
  }
  for (const auto& u : r.uplinks) {
    json uj = report::underlay_json(u, false);
    uj["already_attached"] = u.already_attached;
    uj["discovered"] = r.uplinks_discovered;
    j["uplinks"].push_back(uj);
  }
  j["transit"] = json::array();
  for (const auto& t : r.transit) {
    json tj = report::underlay_json(t, true);
    tj["already_attached"] = t.already_attached;
    j["transit"].push_back(tj);
  }
  j["warnings"] = r.warnings;
  for (const auto& v : r.remote_vteps)
    j["remote_vteps"].push_back({{"address", v.address}, {"vxlan_devices", v.vxlan_devices},
                                 {"route", v.route.empty() ? json() : json(v.route)}, {"uplinks", v.uplinks}});
  j["uplinks_discovered"] = r.uplinks_discovered;
  return j;
}

void print_discovery(const json& j) {
  for (const auto& v : j["remote_vteps"]) {
    std::string ups;
    for (const auto& u : v["uplinks"]) ups += (ups.empty() ? "" : ", ") + u.get<std::string>();
    std::printf("remote VTEP %s: %s\n", v["address"].get<std::string>().c_str(),
                v["route"].is_null() ? "no route yet"
                                     : ("route " + v["route"].get<std::string>() + " via " +
                                        (ups.empty() ? "no uplink" : ups)).c_str());
  }
  if (j["uplinks"].empty())
    std::printf("note: no uplink carries a route to a remote VTEP yet (%zu remote VTEPs known), so nothing "
                "is counted per path; name the uplinks with --uplink IF, or attach again once the "
                "underlay routes are in\n", j["remote_vteps"].size());
}

void print_attach(const json& j) {
  for (const auto& d : j["devices"])
    std::printf("%s %s (VNI %u, outer source ports %u-%u, mark 0x%x) in netns %s\n",
                d["already_attached"].get<bool>() ? "already attached:" : "attached:",
                d["ifname"].get<std::string>().c_str(), d["vni"].get<unsigned>(), d["sport_min"].get<unsigned>(),
                d["sport_max"].get<unsigned>(), d["mark"].get<unsigned>(), j["netns"].get<std::string>().c_str());
  for (const auto& u : j["uplinks"])
    std::printf("%s uplink %s%s (receiving on %s) in netns %s\n",
                u["already_attached"].get<bool>() ? "already counting:" : "counting:", u["ifname"].get<std::string>().c_str(),
                u["discovered"].get<bool>() ? " (discovered)" : "", u["rx_hook"].get<std::string>().c_str(),
                j["netns"].get<std::string>().c_str());
  for (const auto& t : j["transit"])
    std::printf("%s transit %s (XDP %s, outer source ports %u-%u) in netns %s\n",
                t["already_attached"].get<bool>() ? "already rewriting:" : "rewriting:", t["ifname"].get<std::string>().c_str(),
                t["xdp_mode"].get<std::string>().c_str(), t["sport_min"].get<unsigned>(), t["sport_max"].get<unsigned>(),
                j["netns"].get<std::string>().c_str());
  if (j["uplinks_discovered"].get<bool>()) print_discovery(j);
}

void add_attach(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("attach", "attach the QP-aware tc program to a namespace's VXLAN devices");
  auto target = std::make_shared<NetnsTarget>();
  auto opts = std::make_shared<AttachOptions>();
  auto mode = std::make_shared<std::string>("qp-hash");
  target->add_to(cmd, true);
  cmd->add_option("--dev", opts->devices, "VXLAN device(s); default: all in the namespace");
  auto* uplink = cmd->add_option("--uplink", opts->uplinks,
                                 "underlay interface(s) whose VXLAN traffic is counted per path; default: "
                                 "those carrying the routes to the remote VTEPs");
  cmd->add_flag("--no-uplinks", [opts](int64_t) { opts->discover_uplinks = false; },
                "count per path on no uplink (skips uplink discovery)")
      ->excludes(uplink);
  cmd->add_option("--transit", opts->transit,
                  "interface(s) VXLAN encapsulated elsewhere arrives by (host VTEPs): XDP sets its outer "
                  "source port from the inner QP before this node's ECMP");
  cmd->add_option("--vni", opts->transit_vnis, "with --transit: the VNIs to steer (default: this namespace's own)")
      ->check(CLI::Range(1u, 16777215u));
  cmd->add_option("--mark", opts->mark,
                  "skb mark set on steered packets so the tunnel route cache is bypassed; pick one "
                  "your fwmark policy routing does not use")
      ->default_str("0x5150");
  auto tc_api = std::make_shared<std::string>();
  cmd->add_option("--tc-api", *tc_api,
                  "how the tc programs go on their hooks: tcx (Linux 6.6+, cheaper per packet) or clsact "
                  "(a filter on a clsact qdisc, what `tc filter show` lists); default: tcx where the kernel has "
                  "it. An interface attached before keeps its own")
      ->check(CLI::IsMember({tc_api_name(TcApi::tcx), tc_api_name(TcApi::clsact)}));
  cmd->add_option("--mode", *mode, "mode for VNIs that have none yet")
      ->check(CLI::IsMember({"off", "qp-hash", "balance"}));
  auto gap = std::make_shared<std::string>();
  cmd->add_option("--flowlet-gap", *gap,
                  "mode balance: a QP moves to a new port only after this long without a frame (default 50ms)");
  cmd->callback([&ctx, target, opts, mode, gap, tc_api, cmd] {
    ctx.action = [&ctx, target, opts, mode, gap, tc_api] {
      opts->initial_mode = {static_cast<qps_mode>(*parse_mode(*mode)), flowlet_gap_us(*gap), 0};
      if (!tc_api->empty()) opts->tc_api = tc_api_from_name(*tc_api);
      Netns ns = Netns::open(target->resolve());
      const AttachReport r = attach(ns, *opts);
      if (!ctx.out.json && !ctx.out.pretty)
        for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
      emit(ctx.out, attach_json(ns, r), print_attach);
    };
  });
}

void add_detach(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("detach", "remove everything attach added in a namespace");
  auto target = std::make_shared<NetnsTarget>();
  target->add_to(cmd, true);
  cmd->callback([&ctx, target] {
    ctx.action = [&ctx, target] {
      Netns ns = Netns::open(target->resolve());
      DetachReport r = detach(ns);
      json j = {{"netns", ns.name()}, {"was_attached", r.was_attached}, {"devices", r.devices},
                {"qdiscs_removed", r.qdiscs_removed}};
      emit(ctx.out, j, [](const json& j) {
        if (!j["was_attached"].get<bool>()) {
          std::cout << "nothing to detach in netns " << j["netns"].get<std::string>() << "\n";
          return;
        }
        for (const auto& d : j["devices"]) std::cout << "detached: " << d.get<std::string>() << "\n";
      });
    };
  });
}

void add_status(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("status", "what is attached where, each VNI's mode, counter totals");
  auto target = std::make_shared<NetnsTarget>();
  target->add_to(cmd, false);
  cmd->callback([&ctx, target] {
    ctx.action = [&ctx, target] {
      std::vector<std::string> names =
          target->given() ? std::vector<std::string>{target->resolve()} : attached_namespaces();
      json j = {{"namespaces", json::array()}};
      for (const auto& name : names) j["namespaces"].push_back(report::status_json(status(Netns::open(name))));
      emit(ctx.out, j, print_status);
    };
  });
}

void add_mode(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("mode", "set a VNI's mode (off, qp-hash, balance); in effect when the command returns");
  auto target = std::make_shared<NetnsTarget>();
  auto vni = std::make_shared<uint32_t>(0);
  auto mode = std::make_shared<std::string>();
  auto gap = std::make_shared<std::string>();
  target->add_to(cmd, true);
  cmd->add_option("--vni", *vni, "the VNI")->required()->check(CLI::Range(1u, 16777215u));
  cmd->add_option("mode", *mode, "off, qp-hash or balance")->required();
  cmd->add_option("--flowlet-gap", *gap,
                  "mode balance: a QP moves to a new port only after this long without a frame (default 50ms)");
  cmd->callback([&ctx, target, vni, mode, gap] {
    ctx.action = [&ctx, target, vni, mode, gap] {
      auto m = parse_mode(*mode);
      if (!m) throw Error("unknown mode '" + *mode + "'; use off, qp-hash or balance");
      if (!gap->empty() && *m != QPS_MODE_BALANCE) throw Error("--flowlet-gap is mode balance's; give it with balance");
      const qps_vni_cfg cfg{static_cast<qps_mode>(*m), flowlet_gap_us(*gap), 0};
      Netns ns = Netns::open(target->resolve());
      set_mode(ns, *vni, cfg);
      json j = {{"netns", ns.name()}, {"vni", *vni}, {"mode", mode_name(*m)}};
      if (*m == QPS_MODE_BALANCE) j["flowlet_gap"] = format_duration_us(cfg.flowlet_gap_us);
      emit(ctx.out, j, [](const json& j) {
        std::cout << "VNI " << j["vni"].get<unsigned>() << " in netns " << j["netns"].get<std::string>()
                  << ": mode " << j["mode"].get<std::string>();
        if (j.contains("flowlet_gap")) std::cout << " (flowlet gap " << j["flowlet_gap"].get<std::string>() << ")";
        std::cout << "\n";
      });
    };
  });
}

// Mode balance by hand (the balance controller writes the same map): one QP's outer source port.
void add_assign(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("assign", "mode balance: give a QP an outer source port, or take it back (--clear)");
  auto target = std::make_shared<NetnsTarget>();
  auto vni = std::make_shared<uint32_t>(0);
  auto qp = std::make_shared<std::string>();
  auto sport = std::make_shared<uint32_t>(0);
  target->add_to(cmd, true);
  cmd->add_option("--vni", *vni, "the VNI")->required()->check(CLI::Range(1u, 16777215u));
  cmd->add_option("--qp", *qp, "the destination QPN (0x37e9a4 or decimal)")->required();
  auto* port = cmd->add_option("--sport", *sport, "the outer UDP source port")->check(CLI::Range(1u, 65535u));
  auto clear_it = std::make_shared<bool>(false);
  auto* clear = cmd->add_flag("--clear", *clear_it, "remove the QP's port: it goes back to its qp-hash port");
  port->excludes(clear);
  cmd->callback([&ctx, target, vni, qp, sport, port, clear_it] {
    ctx.action = [&ctx, target, vni, qp, sport, port, clear_it] {
      if (!port->count() && !*clear_it) throw Error("give --sport PORT, or --clear");
      const uint32_t qpn = parse_qpn("--qp", *qp);
      Netns ns = Netns::open(target->resolve());
      assign_ports(ns, *vni, {{qpn, static_cast<uint16_t>(*sport)}});
      json j = {{"netns", ns.name()}, {"vni", *vni}, {"qpn", qpn}, {"sport", *sport ? json(*sport) : json(nullptr)}};
      emit(ctx.out, j, [](const json& j) {
        char qpn[16];
        std::snprintf(qpn, sizeof qpn, "0x%06x", j["qpn"].get<unsigned>());
        std::cout << "VNI " << j["vni"].get<unsigned>() << " QP " << qpn << " in netns " << j["netns"].get<std::string>()
                  << ": " << (j["sport"].is_null() ? std::string("its qp-hash port")
                                                   : "port " + std::to_string(j["sport"].get<unsigned>()))
                  << " (taken after the VNI's flowlet gap)\n";
      });
    };
  });
}

}  // namespace

void NetnsTarget::add_to(CLI::App* cmd, bool required) {
  auto* ns = cmd->add_option("--netns", netns, "network namespace: a name under /run/netns or a path like /proc/PID/ns/net");
  auto* lab_opt = cmd->add_option("--lab", lab, "containerlab lab name (with --node)");
  auto* node_opt = cmd->add_option("--node", node, "containerlab node name (with --lab)");
  ns->excludes(lab_opt)->excludes(node_opt);
  (void)required;  // checked in resolve(), so the message can say both ways to name one
}

std::string NetnsTarget::resolve() const {
  if (!netns.empty()) return netns;
  if (!lab.empty() && !node.empty()) return clab_netns_name(lab, node);
  if (!lab.empty() || !node.empty()) throw Error("--lab and --node go together (netns clab-LAB-NODE)");
  throw Error("which network namespace? pass --netns NS, or --lab LAB --node NODE");
}

void register_core_commands(CLI::App& app, Context& ctx) {
  add_attach(app, ctx);
  add_detach(app, ctx);
  add_status(app, ctx);
  add_mode(app, ctx);
  add_assign(app, ctx);
  register_stats_command(app, ctx);
}

}  // namespace qpspread::cli
