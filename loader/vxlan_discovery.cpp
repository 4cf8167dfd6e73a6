#include "loader/vxlan_discovery.h"

#include <arpa/inet.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>

#include <fstream>
#include <memory>

#include "common/error.h"

namespace qpspread {
namespace {

struct NlSockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct NlCacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};

std::string addr_text(nl_addr* a) {
  if (!a || nl_addr_get_len(a) == 0) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(nl_addr_get_family(a), nl_addr_get_binary_addr(a), buf, sizeof(buf))) return "";
  return buf;
}

// The driver passes its range to udp_flow_src_port(), which falls back to the local port range
// when min >= max and never produces max itself.
void fill_port_range(rtnl_link* link, VxlanDevice& dev) {
  ifla_vxlan_port_range range{};
  uint16_t low = 0, high = 0;
  if (rtnl_link_vxlan_get_port_range(link, &range) == 0) {
    low = ntohs(range.low);
    high = ntohs(range.high);
  }
  dev.range_is_default = low >= high;
  if (dev.range_is_default) local_port_range(low, high);
  dev.port_min = low;
  dev.port_count = static_cast<uint16_t>(high - low);
}

}  // namespace

void local_port_range(uint16_t& low, uint16_t& high) {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned lo = 0, hi = 0;
  if (!(f >> lo >> hi) || lo > hi || hi > 65535)
    throw Error("cannot read net.ipv4.ip_local_port_range of this namespace");
  low = static_cast<uint16_t>(lo);
  high = static_cast<uint16_t>(hi);
}

std::vector<VxlanDevice> discover_vxlan_devices() {
  std::unique_ptr<nl_sock, NlSockDeleter> sock(nl_socket_alloc());
  if (!sock) throw Error("netlink: out of memory");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    throw Error(std::string("netlink connect: ") + nl_geterror(err));
  nl_cache* raw = nullptr;
  if (int err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw); err < 0)
    throw Error(std::string("netlink: cannot list links: ") + nl_geterror(err));
  std::unique_ptr<nl_cache, NlCacheDeleter> cache(raw);

  std::vector<VxlanDevice> out;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* link = reinterpret_cast<rtnl_link*>(obj);
    if (!rtnl_link_is_vxlan(link)) continue;
    VxlanDevice dev;
    dev.ifname = rtnl_link_get_name(link);
    dev.ifindex = rtnl_link_get_ifindex(link);
    uint32_t v = 0;
    if (rtnl_link_vxlan_get_id(link, &v) == 0) dev.vni = v;
    if (rtnl_link_vxlan_get_port(link, &v) == 0) dev.dstport = static_cast<uint16_t>(v);
    nl_addr* local = nullptr;
    if (rtnl_link_vxlan_get_local(link, &local) == 0) {
      dev.local = addr_text(local);
      nl_addr_put(local);
    }
    // A vnifilter device is created "external" too, so this one test covers both.
    dev.external = rtnl_link_vxlan_get_collect_metadata(link) > 0;
    fill_port_range(link, dev);
    out.push_back(std::move(dev));
  }
  return out;
}

}  // namespace qpspread
