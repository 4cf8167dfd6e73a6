// qpspread: QP-aware ECMP entropy for RoCEv2 over EVPN-VXLAN. The CLI is a thin layer over the
// loader library; every command prints a table, or JSON with -j/-p.
#include <CLI/CLI.hpp>

#include <exception>

#include "common/error.h"
#include "loader/log.h"
#include "userspace/cli/commands.h"

int main(int argc, char** argv) {
  using namespace qpspread::cli;
  Context ctx;
  CLI::App app{"qpspread: spread RoCEv2 queue pairs over ECMP paths in EVPN-VXLAN fabrics"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (-j, -p, -v) may also follow the subcommand
  app.add_flag("-j,--json", ctx.out.json, "JSON output");
  app.add_flag("-p,--pretty", ctx.out.pretty, "pretty-printed JSON output");
  app.add_flag("-v,--verbose", ctx.verbose, "print libbpf's messages");
  register_core_commands(app, ctx);
  register_balance_command(app, ctx);
  register_agent_command(app, ctx);
  register_top_command(app, ctx);
  register_demo_command(app, ctx);
  register_lab_command(app, ctx);
  register_wan_relay_command(app, ctx);
  register_workload_command(app, ctx);
  register_experiment_report(register_experiment_command(app, ctx), ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // JSON mode may not be parsed yet when the error is found: look for the flag ourselves.
    for (int i = 1; i < argc; i++) {
      const std::string a = argv[i];
      if (a == "-j" || a == "--json") ctx.out.json = true;
      if (a == "-p" || a == "--pretty") ctx.out.pretty = true;
    }
    emit_error(ctx.out, e.what() + std::string("; see 'qpspread --help'"));
    return 2;
  }
  qpspread::set_libbpf_verbose(ctx.verbose);
  try {
    ctx.action();
  } catch (const qpspread::UsageError& e) {
    emit_error(ctx.out, e.what());
    return 2;
  } catch (const std::exception& e) {
    emit_error(ctx.out, e.what());
    return 1;
  }
  return 0;
}
