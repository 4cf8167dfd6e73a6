// qpspread-labgen: writes the multi-DC lab (containerlab topology + FRR configs). The files in
// lab/ are this program's output; tests regenerate them and compare byte for byte.
#include <CLI/CLI.hpp>

#include <iostream>

#include "common/error.h"
#include "userspace/labgen/clab_writer.h"

namespace {

using qpspread::lab::LabParams;

// The command line in the topology's header: only what shapes the output, never --out (a test
// writes to a temp dir and must get the same bytes).
std::string generated_by(const LabParams& p, const qpspread::lab::WriteOptions& o) {
  const LabParams d;
  std::string s = "qpspread-labgen";
  auto opt = [&](const char* flag, const std::string& v, bool dflt) {
    if (!dflt) s += std::string(" ") + flag + " " + v;
  };
  opt("--name", p.name, p.name == d.name);
  opt("--dcs", std::to_string(p.dcs), p.dcs == d.dcs);
  opt("--spines", std::to_string(p.spines), p.spines == d.spines);
  opt("--leaves", std::to_string(p.leaves), p.leaves == d.leaves);
  opt("--wan-links", std::to_string(p.wan_links), p.wan_links == d.wan_links);
  opt("--configs-dir", o.configs_dir, o.configs_dir == "configs");
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generate the multi-DC EVPN-VXLAN lab: <out>/<name>.clab.yml and FRR configs"};
  LabParams p;
  qpspread::lab::WriteOptions o;
  bool quiet = false;
  app.add_option("--out", o.out_dir, "output directory")->capture_default_str();
  app.add_option("--name", p.name, "lab name (containerlab `name`, file name)")->capture_default_str();
  app.add_option("--dcs", p.dcs, "data centers (2..4)")->capture_default_str();
  app.add_option("--spines", p.spines, "spines per DC (1..9)")->capture_default_str();
  app.add_option("--leaves", p.leaves, "leaves (VTEPs) per DC (1..9)")->capture_default_str();
  app.add_option("--wan-links", p.wan_links, "parallel WAN links per border pair (1..8)")->capture_default_str();
  app.add_option("--configs-dir", o.configs_dir, "FRR config directory, relative to --out")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "do not list the files written");
  CLI11_PARSE(app, argc, argv);
  try {
    o.generated_by = generated_by(p, o);
    const auto spec = qpspread::lab::build_lab(p);
    for (const auto& f : qpspread::lab::write_lab(spec, o))
      if (!quiet) std::cout << f << "\n";
  } catch (const qpspread::Error& e) {
    std::cerr << "qpspread-labgen: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {  // std::filesystem errors
    std::cerr << "qpspread-labgen: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
