#include "userspace/lab/host_resolve.h"

#include <arpa/inet.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/command.h"
#include "common/error.h"

namespace qpspread::lab {
namespace {

using nlohmann::json;
using workload::HostAddr;

std::array<uint8_t, 6> parse_mac(const std::string& s, const std::string& host) {
  std::array<uint8_t, 6> m{};
  unsigned b[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
    throw Error("host '" + host + "': '" + s + "' is not a MAC address (aa:bb:cc:dd:ee:ff)");
  for (int i = 0; i < 6; i++) m[static_cast<size_t>(i)] = static_cast<uint8_t>(b[i]);
  return m;
}

uint32_t parse_ipv4(const std::string& s, const std::string& host) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1)
    throw Error("host '" + host + "': '" + s + "' is not an IPv4 address");
  return ntohl(a.s_addr);
}

// NS:IP:MAC, NS:IP or NS; what is missing is read from the interface in that namespace (the
// lab runner's hosts are clab-<lab>-<node> with eth1 addressed).
}  // namespace

HostAddr resolve_host(const std::string& spec, const std::string& ifname) {
  HostAddr h;
  h.ifname = ifname;
  const size_t c1 = spec.find(':');
  h.netns = spec.substr(0, c1);
  std::string ip, mac;
  if (c1 != std::string::npos) {
    const size_t c2 = spec.find(':', c1 + 1);
    ip = spec.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
    if (c2 != std::string::npos) mac = spec.substr(c2 + 1);
  }
  if (ip.empty() || mac.empty()) {
    const CommandOutput r =
        run_command({"ip", "-j", "-n", h.netns, "addr", "show", "dev", ifname});
    if (r.exit_code != 0)
      throw Error("host '" + spec + "': no " + ifname + " in namespace " + h.netns +
                  " (give NS:IP:MAC, or check 'ip -n " + h.netns + " addr'): " + r.err);
    const json j = json::parse(r.out, nullptr, false);
    if (j.is_discarded() || j.empty()) throw Error("host '" + spec + "': cannot read ip -j addr");
    if (mac.empty()) mac = j[0].value("address", "");
    for (const auto& a : j[0].value("addr_info", json::array()))
      if (ip.empty() && a.value("family", "") == "inet") ip = a.value("local", "");
    if (ip.empty())
      throw Error("host '" + spec + "': " + ifname + " in " + h.netns + " has no IPv4 address");
  }
  h.ip = parse_ipv4(ip, spec);
  h.mac = parse_mac(mac, spec);
  return h;
}

}  // namespace qpspread::lab
