#include "loader/uplink_discovery.h"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <set>

#include "common/error.h"
#include "loader/rtnl.h"

namespace qpspread {
namespace {

struct Link {
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "vxlan", "bridge", "veth", ... ; "" for physical NICs
  bool loopback = false;
  std::string unicast_remote;  // a VXLAN device's `remote`, when it is not a multicast group
};

// An address as the kernel carries it (4 or 16 bytes) and as people read it.
std::string addr_text(const std::string& raw) {
  const int family = raw.size() == 4 ? AF_INET : AF_INET6;
  if (raw.size() != 4 && raw.size() != 16) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family, raw.data(), buf, sizeof(buf))) return "";
  return buf;
}

bool is_unicast(const std::string& raw) {
  if (raw.find_first_not_of('\0') == std::string::npos) return false;  // 0.0.0.0, ::
  const auto first = static_cast<uint8_t>(raw[0]);
  return raw.size() == 4 ? (first < 224 || first > 239) : first != 0xff;
}

std::string string_attr(const RtnlAttrs& a, uint16_t type) {
  auto it = a.find(type);
  if (it == a.end()) return "";
  return std::string(it->second.c_str());  // drops the trailing NUL
}

void parse_linkinfo(const std::string& nested, Link& link) {
  const RtnlAttrs info = rtnl_parse_attrs(nested.data(), nested.size());
  link.kind = string_attr(info, IFLA_INFO_KIND);
  auto data = info.find(IFLA_INFO_DATA);
  if (link.kind != "vxlan" || data == info.end()) return;
  const RtnlAttrs vx = rtnl_parse_attrs(data->second.data(), data->second.size());
  for (uint16_t type : {IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6}) {
    auto g = vx.find(type);
    if (g != vx.end() && is_unicast(g->second)) link.unicast_remote = g->second;
  }
}

std::map<int, Link> dump_links(RtnlSocket& sock) {
  std::map<int, Link> links;
  ifinfomsg hdr{};
  hdr.ifi_family = AF_UNSPEC;
  int err = sock.request(RtnlRequest(RTM_GETLINK, NLM_F_DUMP, hdr), [&](const nlmsghdr& m) {
    if (m.nlmsg_type != RTM_NEWLINK) return;
    const auto& ifi = rtnl_header<ifinfomsg>(m);
    const RtnlAttrs a = rtnl_attrs<ifinfomsg>(m);
    Link& link = links[ifi.ifi_index];
    link.name = string_attr(a, IFLA_IFNAME);
    link.loopback = (ifi.ifi_flags & IFF_LOOPBACK) != 0;
    if (auto it = a.find(IFLA_LINKINFO); it != a.end()) parse_linkinfo(it->second, link);
  });
  if (err < 0) throw Error(errno_text("netlink: cannot list links", err));
  return links;
}

// Remote VTEP (raw address) -> the VXLAN devices that send to it.
using VtepMap = std::map<std::string, std::set<std::string>>;

void add_fdb_destinations(RtnlSocket& sock, const std::map<int, Link>& links, const std::set<int>& vxlans,
                          VtepMap& vteps) {
  ndmsg hdr{};
  hdr.ndm_family = AF_BRIDGE;
  int err = sock.request(RtnlRequest(RTM_GETNEIGH, NLM_F_DUMP, hdr), [&](const nlmsghdr& m) {
    if (m.nlmsg_type != RTM_NEWNEIGH) return;
    const auto& ndm = rtnl_header<ndmsg>(m);
    if (!vxlans.count(ndm.ndm_ifindex)) return;
    const RtnlAttrs a = rtnl_attrs<ndmsg>(m);
    auto dst = a.find(NDA_DST);
    if (dst != a.end() && is_unicast(dst->second)) vteps[dst->second].insert(links.at(ndm.ndm_ifindex).name);
  });
  if (err < 0) throw Error(errno_text("netlink: cannot list the VXLAN devices' forwarding entries", err));
}

// A nexthop object's devices: its own, or its group members' (groups hold plain nexthops only,
// but a depth limit keeps a misread reply from recursing forever).
void add_nexthop_devs(RtnlSocket& sock, uint32_t id, std::set<int>& out, int depth = 0) {
  if (depth > 2) return;
  nhmsg hdr{};
  RtnlRequest req(RTM_GETNEXTHOP, 0, hdr);
  req.put_u32(NHA_ID, id);
  std::vector<uint32_t> members;
  int err = sock.request(req, [&](const nlmsghdr& m) {
    if (m.nlmsg_type != RTM_NEWNEXTHOP) return;
    const RtnlAttrs a = rtnl_attrs<nhmsg>(m);
    uint32_t oif = 0;
    if (rtnl_get(a, NHA_OIF, oif) && oif) out.insert(static_cast<int>(oif));
    if (auto g = a.find(NHA_GROUP); g != a.end())
      for (size_t off = 0; off + sizeof(nexthop_grp) <= g->second.size(); off += sizeof(nexthop_grp)) {
        nexthop_grp grp{};
        std::memcpy(&grp, g->second.data() + off, sizeof(grp));
        members.push_back(grp.id);
      }
  });
  // A nexthop deleted between the route lookup and this request is simply not there any more.
  if (err < 0 && err != -ENOENT) throw Error(errno_text("netlink: cannot read nexthop " + std::to_string(id), err));
  for (uint32_t member : members) add_nexthop_devs(sock, member, out, depth + 1);
}

// The legs of an RTA_MULTIPATH attribute. Bounds are checked before each header is read (the
// kernel's RTNH_OK reads rtnh_len first: past the end of the attribute once it is used up, as
// AddressSanitizer showed).
void add_multipath_devs(const std::string& mp, std::set<int>& out) {
  for (size_t off = 0; off + sizeof(rtnexthop) <= mp.size();) {
    rtnexthop nh{};
    std::memcpy(&nh, mp.data() + off, sizeof(nh));
    if (nh.rtnh_len < sizeof(rtnexthop) || off + nh.rtnh_len > mp.size()) break;
    if (nh.rtnh_ifindex) out.insert(nh.rtnh_ifindex);
    off += RTNH_ALIGN(nh.rtnh_len);
  }
}

struct RouteMatch {
  std::string prefix;  // "" when no route matches
  std::set<int> oifs;
  std::string legs;    // the next hops as the kernel lists them, in order, with their flags
};

// RTM_F_FIB_MATCH (`ip route get fibmatch`) returns the matching FIB entry with all its next hops;
// a plain lookup returns only the one ECMP leg this lookup's hash picked.
RouteMatch lookup_route(RtnlSocket& sock, const std::string& raw) {
  rtmsg hdr{};
  hdr.rtm_family = raw.size() == 4 ? AF_INET : AF_INET6;
  hdr.rtm_dst_len = static_cast<unsigned char>(raw.size() * 8);
  hdr.rtm_flags = RTM_F_FIB_MATCH;
  RtnlRequest req(RTM_GETROUTE, 0, hdr);
  req.put(RTA_DST, raw.data(), raw.size());
  RouteMatch r;
  uint32_t nhid = 0;
  int err = sock.request(req, [&](const nlmsghdr& m) {
    if (m.nlmsg_type != RTM_NEWROUTE) return;
    const auto& rtm = rtnl_header<rtmsg>(m);
    // A default route is not an underlay route: FRR does not resolve BGP next hops over one
    // (unless `ip nht resolve-via-default`), and here it would pick a management interface.
    if (rtm.rtm_type != RTN_UNICAST || rtm.rtm_dst_len == 0) return;
    const RtnlAttrs a = rtnl_attrs<rtmsg>(m);
    auto dst = a.find(RTA_DST);
    r.prefix = (dst != a.end() ? addr_text(dst->second) : addr_text(raw)) + "/" + std::to_string(rtm.rtm_dst_len);
    uint32_t oif = 0;
    if (rtnl_get(a, RTA_OIF, oif) && oif) r.oifs.insert(static_cast<int>(oif));
    if (auto mp = a.find(RTA_MULTIPATH); mp != a.end()) add_multipath_devs(mp->second, r.oifs);
    rtnl_get(a, RTA_NH_ID, nhid);
    r.legs = std::to_string(rtm.rtm_flags) + ";";
    for (uint16_t t : {RTA_OIF, RTA_GATEWAY, RTA_MULTIPATH, RTA_NH_ID, RTA_VIA})
      if (auto it = a.find(t); it != a.end()) r.legs += std::to_string(t) + ":" + it->second + ";";
  });
  // No route (or an unreachable one): this VTEP has no uplink yet.
  if (err == -ENETUNREACH || err == -EHOSTUNREACH || err == -EACCES) return {};
  if (err < 0) throw Error(errno_text("netlink: route lookup for " + addr_text(raw), err));
  if (nhid) {
    add_nexthop_devs(sock, nhid, r.oifs);
    for (int oif : r.oifs) r.legs += "nh-oif:" + std::to_string(oif) + ";";
  }
  return r;
}

std::string read_sysctl(const char* path) {
  std::ifstream f(path);
  std::string v;
  std::getline(f, v);
  return v;
}

}  // namespace

RouteToVtep route_to(const std::string& address) {
  std::string raw(16, '\0');
  if (::inet_pton(AF_INET, address.c_str(), raw.data()) == 1) {
    raw.resize(4);
  } else if (::inet_pton(AF_INET6, address.c_str(), raw.data()) != 1) {
    throw Error("not an IPv4 or IPv6 address: " + address);
  }
  RtnlSocket sock;
  const std::map<int, Link> links = dump_links(sock);
  const RouteMatch m = lookup_route(sock, raw);
  RouteToVtep r;
  r.prefix = m.prefix;
  for (int oif : m.oifs)
    if (auto it = links.find(oif); it != links.end()) r.devices.push_back(it->second.name);
  std::sort(r.devices.begin(), r.devices.end());
  const bool v4 = raw.size() == 4;
  r.fingerprint = m.prefix + "|" + m.legs + "|" +
                  read_sysctl(v4 ? "/proc/sys/net/ipv4/fib_multipath_hash_policy" : "/proc/sys/net/ipv6/fib_multipath_hash_policy") +
                  "|" +
                  read_sysctl(v4 ? "/proc/sys/net/ipv4/fib_multipath_hash_fields" : "/proc/sys/net/ipv6/fib_multipath_hash_fields") +
                  "|" + read_sysctl("/proc/sys/net/ipv4/fib_multipath_hash_seed");
  return r;
}

UplinkDiscovery discover_uplinks(const std::vector<int>& vxlan_ifindexes) {
  RtnlSocket sock;
  const std::map<int, Link> links = dump_links(sock);
  const std::set<int> vxlans(vxlan_ifindexes.begin(), vxlan_ifindexes.end());
  VtepMap vteps;
  for (int ifindex : vxlans) {
    auto it = links.find(ifindex);
    if (it != links.end() && !it->second.unicast_remote.empty())
      vteps[it->second.unicast_remote].insert(it->second.name);
  }
  add_fdb_destinations(sock, links, vxlans, vteps);

  UplinkDiscovery out;
  std::set<std::string> all;
  for (const auto& [raw, devs] : vteps) {
    RemoteVtep v{addr_text(raw), {devs.begin(), devs.end()}, "", {}};
    RouteMatch route = lookup_route(sock, raw);
    v.route = route.prefix;
    std::set<std::string> names;
    for (int oif : route.oifs) {
      auto it = links.find(oif);
      // A route over the overlay itself (VXLAN or its bridge) or lo leads to no uplink.
      if (it == links.end() || it->second.loopback || it->second.kind == "vxlan" || it->second.kind == "bridge")
        continue;
      names.insert(it->second.name);
    }
    v.uplinks.assign(names.begin(), names.end());
    all.insert(names.begin(), names.end());
    out.remote_vteps.push_back(std::move(v));
  }
  std::sort(out.remote_vteps.begin(), out.remote_vteps.end(),
            [](const RemoteVtep& a, const RemoteVtep& b) { return a.address < b.address; });
  out.uplinks.assign(all.begin(), all.end());
  return out;
}

}  // namespace qpspread
