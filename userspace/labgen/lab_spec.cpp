#include "userspace/labgen/lab_spec.h"

#include "common/error.h"

namespace qpspread::lab {
namespace {

std::string dc_name(int dc) { return "dc" + std::to_string(dc); }

void check_range(const char* what, int v, int lo, int hi) {
  if (v < lo || v > hi)
    throw Error(std::string(what) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) +
                ", not " + std::to_string(v));
}

// Builds nodes and links; node indexes stay valid because nodes are all added before any link.
class Builder {
 public:
  explicit Builder(const LabParams& p) : p_(p) {
    spec_.name = p.name;
    spec_.vnis = {100, 200};
  }

  LabSpec build() {
    for (int dc = 1; dc <= p_.dcs; dc++) add_dc_nodes(dc);
    for (int dc = 1; dc <= p_.dcs; dc++) add_dc_links(dc);
    int wan = 0;
    for (int a = 1; a <= p_.dcs; a++)
      for (int b = a + 1; b <= p_.dcs; b++)
        for (int k = 0; k < p_.wan_links; k++) {
          LabLink& l = connect(border(a), border(b));
          l.wan_name = "wan" + std::to_string(++wan);
          node(border(a)).wan_ifs.push_back(l.a.ifname);
          node(border(b)).wan_ifs.push_back(l.b.ifname);
        }
    return std::move(spec_);
  }

 private:
  // Plan: spines .1-.9 share ASN 65<dc>00; border .100, ASN 65<dc>01; leaf m .1m, ASN 65<dc>1m.
  void add_router(int dc, Role role, const std::string& suffix, int host_octet, unsigned asn) {
    LabNode n;
    n.name = dc_name(dc) + "-" + suffix;
    n.role = role;
    n.dc = dc;
    n.asn = asn;
    n.loopback = "10." + std::to_string(dc) + ".0." + std::to_string(host_octet);
    n.hash_seed = 1000 + ++routers_;
    spec_.nodes.push_back(std::move(n));
  }

  void add_dc_nodes(int dc) {
    const unsigned base = 65000u + 100u * static_cast<unsigned>(dc);
    for (int s = 1; s <= p_.spines; s++) add_router(dc, Role::spine, "spine" + std::to_string(s), s, base);
    for (int m = 1; m <= p_.leaves; m++)
      add_router(dc, Role::leaf, "leaf" + std::to_string(m), 10 + m, base + 10u + static_cast<unsigned>(m));
    add_router(dc, Role::border, "border1", 100, base + 1u);
    for (int m = 1; m <= p_.leaves; m++)
      for (uint32_t vni : spec_.vnis) {
        LabNode h;
        h.name = leaf(dc, m) + "-h" + std::to_string(vni);
        h.dc = dc;
        h.vni = vni;
        // Unique across DCs: both DCs share each VNI's subnet (one stretched L2 segment).
        h.host_ip = "10." + std::to_string(vni) + ".0." + std::to_string(10 * dc + m) + "/24";
        spec_.nodes.push_back(std::move(h));
      }
  }

  void add_dc_links(int dc) {
    for (int m = 1; m <= p_.leaves; m++)
      for (int s = 1; s <= p_.spines; s++) fabric_link(leaf(dc, m), spine(dc, s));
    for (int s = 1; s <= p_.spines; s++) fabric_link(border(dc), spine(dc, s));
    for (int m = 1; m <= p_.leaves; m++)
      for (uint32_t vni : spec_.vnis) {
        const std::string h = leaf(dc, m) + "-h" + std::to_string(vni);
        node(leaf(dc, m)).vni_ports.push_back({vni, connect(leaf(dc, m), h).a.ifname});
      }
  }

  void fabric_link(const std::string& a, const std::string& b) {
    const LabLink& l = connect(a, b);
    node(a).fabric_ifs.push_back(l.a.ifname);
    node(b).fabric_ifs.push_back(l.b.ifname);
  }

  LabLink& connect(const std::string& a, const std::string& b) {
    LabLink l;
    l.a = {a, "eth" + std::to_string(node(a).next_if++)};
    l.b = {b, "eth" + std::to_string(node(b).next_if++)};
    spec_.links.push_back(std::move(l));
    return spec_.links.back();
  }

  LabNode& node(const std::string& name) {
    for (auto& n : spec_.nodes)
      if (n.name == name) return n;
    throw Error("lab spec: no node " + name);
  }

  static std::string spine(int dc, int s) { return dc_name(dc) + "-spine" + std::to_string(s); }
  static std::string leaf(int dc, int m) { return dc_name(dc) + "-leaf" + std::to_string(m); }
  static std::string border(int dc) { return dc_name(dc) + "-border1"; }

  const LabParams& p_;
  LabSpec spec_;
  int routers_ = 0;
};

}  // namespace

const char* role_name(Role r) {
  switch (r) {
    case Role::spine: return "spine";
    case Role::leaf: return "leaf";
    case Role::border: return "border";
    case Role::host: return "host";
  }
  return "?";
}

const LabNode* LabSpec::find(const std::string& node) const {
  for (const auto& n : nodes)
    if (n.name == node) return &n;
  return nullptr;
}

LabSpec build_lab(const LabParams& p) {
  check_range("--dcs", p.dcs, 2, 4);
  check_range("--spines", p.spines, 1, 9);
  check_range("--leaves", p.leaves, 1, 9);
  check_range("--wan-links", p.wan_links, 1, 8);
  if (p.name.empty()) throw Error("the lab needs a name");
  return Builder(p).build();
}

}  // namespace qpspread::lab
