#include "userspace/labgen/clab_writer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace qpspread::lab {
namespace {

namespace fs = std::filesystem;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// fib_multipath_hash_fields bits (Documentation/networking/ip-sysctl.rst): source IP 0x01,
// destination IP 0x02, IP protocol 0x04, source port 0x10, destination port 0x20.
constexpr int kOuterFiveTuple = 0x37;

// Per router namespace (containerlab passes them to Docker, which sets them in the node's netns).
std::vector<std::pair<std::string, int>> router_sysctls() {
  return {
      {"net.ipv4.ip_forward", 1},
      {"net.ipv6.conf.all.forwarding", 1},
      // Custom hash over the outer 5-tuple, so the outer VXLAN source port picks the ECMP path
      // (what qpspread steers). Not policy 1: a forwarded packet that carries an L4 skb hash is
      // not hashed again, and veth hands the previous hop's hash over with the packet; policy 3
      // dissects the header, as a switch does (KERNEL-NOTES "Which hash a router uses").
      {"net.ipv4.fib_multipath_hash_policy", 3},
      {"net.ipv4.fib_multipath_hash_fields", kOuterFiveTuple},
      {"net.ipv4.conf.all.rp_filter", 0},
      {"net.ipv4.conf.default.rp_filter", 0},
      // BGP unnumbered peers over IPv6 link-local addresses.
      {"net.ipv6.conf.all.disable_ipv6", 0},
      {"net.ipv6.conf.default.disable_ipv6", 0},
  };
}

void leaf_exec(const LabNode& n, std::vector<std::string>& cmds) {
  for (const VniPort& p : n.vni_ports) {
    const std::string v = std::to_string(p.vni), br = "br" + v, vx = "vxlan" + v;
    cmds.push_back("ip link add " + br + " type bridge");
    // The recipe zebra understands (KERNEL-NOTES): FRR fills the FDB (extern_learn), the kernel
    // neither learns remote MACs nor floods ARP that EVPN already answered. `tos inherit`: the outer
    // header carries the inner ECN (and DSCP), so a WAN queue can mark RoCE frames CE; the far
    // VTEP's decapsulation copies CE back into the inner header (RFC 6040).
    cmds.push_back("ip link add " + vx + " type vxlan id " + v + " dstport 4789 local " + n.loopback +
                   " nolearning tos inherit");
    cmds.push_back("ip link set dev " + vx + " mtu " + std::to_string(kOverlayMtu));
    cmds.push_back("ip link set dev " + vx + " master " + br);
    cmds.push_back("ip link set dev " + vx + " type bridge_slave neigh_suppress on learning off");
    cmds.push_back("ip link set dev " + p.ifname + " master " + br);
    for (const auto& dev : {vx, p.ifname, br}) cmds.push_back("ip link set dev " + dev + " up");
  }
}

void write_node(std::ostringstream& y, const LabNode& n, const WriteOptions& opt) {
  y << "    " << n.name << ":\n      kind: linux\n      image: " << kLabImage << "\n"
    << "      labels:\n        role: " << role_name(n.role) << "\n        dc: dc" << n.dc << "\n";
  if (n.router()) {
    y << "      binds:\n"
      << "        - " << quoted(opt.configs_dir + "/" + n.name + "/frr.conf:/etc/frr/frr.conf") << "\n"
      << "        - " << quoted(opt.configs_dir + "/daemons:/etc/frr/daemons") << "\n"
      << "      sysctls:\n";
    for (const auto& [k, v] : router_sysctls()) y << "        " << k << ": " << v << "\n";
  }
  y << "      exec:\n";
  for (const auto& c : node_exec(n)) y << "        - " << quoted(c) << "\n";
}

void write_link(std::ostringstream& y, const LabLink& l) {
  y << "    - endpoints: [" << quoted(l.a.node + ":" + l.a.ifname) << ", "
    << quoted(l.b.node + ":" + l.b.ifname) << "]\n";
  if (!l.wan()) return;
  // Read by the lab runner's WAN relay; containerlab keeps vars for templating only.
  const Impairment& i = l.impairment;
  y << "      vars:\n        name: " << l.wan_name << "\n        impairment:\n"
    << "          delay: " << quoted(i.delay) << "\n          jitter: " << quoted(i.jitter) << "\n"
    << "          loss: " << quoted(i.loss) << "\n          rate: " << quoted(i.rate) << "\n";
}

void write_file(const fs::path& path, const std::string& text, std::vector<std::string>& written) {
  fs::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) throw Error("cannot write " + path.string() + "; is the --out directory writable?");
  written.push_back(path.string());
}

}  // namespace

RouterConfig router_config(const LabNode& n) {
  RouterConfig c;
  c.hostname = n.name;
  c.asn = n.asn;
  c.router_id = n.loopback;
  c.fabric_ifs = n.fabric_ifs;
  c.wan_ifs = n.wan_ifs;
  if (n.role == Role::leaf) c.vtep_prefix = n.loopback + "/32";
  c.evpn_nexthop_unchanged = n.role == Role::spine || n.role == Role::border;
  return c;
}

std::vector<std::string> node_exec(const LabNode& n) {
  std::vector<std::string> cmds;
  if (n.router()) {
    // Distinct per router: with one shared seed every hop would hash a flow alike (polarisation).
    // An exec entry, not a `sysctls` key: the key exists from Linux 6.11 and containerlab refuses
    // a node whose sysctl the kernel lacks; `-e` makes this a no-op there (containerlab reports a
    // failing exec entry and goes on; the lab runner fails on one).
    cmds.push_back("sysctl -w -e net.ipv4.fib_multipath_hash_seed=" + std::to_string(n.hash_seed));
    cmds.push_back("ip addr add " + n.loopback + "/32 dev lo");
    if (n.role == Role::leaf) leaf_exec(n, cmds);
    return cmds;
  }
  cmds.push_back("ip link set dev eth1 mtu " + std::to_string(kOverlayMtu));
  if (!n.mac.empty()) cmds.push_back("ip link set dev eth1 address " + n.mac);
  cmds.push_back("ip addr add " + n.host_ip + " dev eth1");
  cmds.push_back("ip link set dev eth1 up");
  return cmds;
}

std::string clab_yaml(const LabSpec& spec, const WriteOptions& opt) {
  std::ostringstream y;
  y << "# " << spec.name << ": " << spec.nodes.size() << " nodes, " << spec.links.size()
    << " links; EVPN-VXLAN (L2 VNIs";
  for (uint32_t v : spec.vnis) y << " " << v;
  y << ") stretched over the border gateways.\n# Generated by " << opt.generated_by
    << "; do not edit: change userspace/labgen/ and regenerate.\n"
    << "name: " << spec.name << "\n\ntopology:\n  nodes:\n";
  for (const LabNode& n : spec.nodes) write_node(y, n, opt);
  y << "\n  links:\n";
  for (const LabLink& l : spec.links) write_link(y, l);
  return y.str();
}

std::vector<std::string> write_lab(const LabSpec& spec, const WriteOptions& opt) {
  std::vector<std::string> written;
  const fs::path out(opt.out_dir), configs = out / opt.configs_dir;
  write_file(out / (spec.name + ".clab.yml"), clab_yaml(spec, opt), written);
  write_file(configs / "daemons", frr_daemons_file(), written);
  for (const LabNode& n : spec.nodes)
    if (n.router()) write_file(configs / n.name / "frr.conf", frr_conf(router_config(n)), written);
  return written;
}

}  // namespace qpspread::lab
