#include "userspace/lab/frr_config.h"

#include <sstream>

namespace qpspread::lab {
namespace {

std::string header(const RouterConfig& r) {
  return "frr defaults datacenter\nhostname " + r.hostname + "\nlog file " + r.log_file + "\n!\n";
}

}  // namespace

std::string zebra_conf(const RouterConfig& r) { return header(r); }

std::string bfdd_conf(const RouterConfig& r) {
  std::ostringstream c;
  c << header(r) << "bfd\n profile fabric\n  detect-multiplier " << kBfdMultiplier
    << "\n  receive-interval " << kBfdIntervalMs << "\n  transmit-interval " << kBfdIntervalMs
    << "\n exit\n!\n";
  return c.str();
}

std::string bgpd_conf(const RouterConfig& r) {
  const bool vtep = !r.vtep_prefix.empty();
  std::ostringstream c;
  c << header(r) << "router bgp " << r.asn << "\n bgp router-id " << r.router_id
    << "\n no bgp ebgp-requires-policy\n bgp bestpath as-path multipath-relax\n"
    << " neighbor fabric peer-group\n neighbor fabric remote-as external\n"
    << " neighbor fabric bfd\n neighbor fabric bfd profile fabric\n";
  for (const auto& i : r.fabric_ifs) c << " neighbor " << i << " interface peer-group fabric\n";
  c << " address-family ipv4 unicast\n";
  if (vtep) c << "  network " << r.vtep_prefix << "\n";
  c << "  maximum-paths 16\n exit-address-family\n address-family l2vpn evpn\n"
    << "  neighbor fabric activate\n";
  if (vtep) c << "  advertise-all-vni\n";
  c << " exit-address-family\nexit\n!\n";
  return c.str();
}

}  // namespace qpspread::lab
