// Finds the uplinks of the calling thread's network namespace: the interfaces that carry the
// routes to the remote VTEPs its VXLAN devices send to.
#pragma once

#include <string>
#include <vector>

namespace qpspread {

struct RemoteVtep {
  std::string address;                     // "10.0.0.2", "2001:db8::2"
  std::vector<std::string> vxlan_devices;  // the VXLAN devices that send to it
  std::string route;                       // the route the kernel uses, "10.0.0.2/32"; "" if none
  std::vector<std::string> uplinks;        // that route's outgoing interfaces, sorted
};

struct UplinkDiscovery {
  std::vector<std::string> uplinks;      // union of the remote VTEPs' uplinks, sorted, unique
  std::vector<RemoteVtep> remote_vteps;  // sorted by address
};

// The route the calling thread's namespace has to an address (a remote VTEP, seen from this node
// or from a router on the way): its prefix ("" when none), its outgoing devices (sorted), and a
// fingerprint that changes whenever the port -> next hop mapping of its ECMP may change: the next
// hops in the kernel's order with their flags, the multipath hash policy, fields and seed.
struct RouteToVtep {
  std::string prefix;
  std::vector<std::string> devices;
  std::string fingerprint;
};
RouteToVtep route_to(const std::string& address);

// Remote VTEPs are the FDB destinations of the given VXLAN devices (FRR's flood entries and
// its extern_learn MACs) and their unicast remote (`remote X`). Call inside the namespace
// (Netns::run). A namespace without remote VTEPs or without routes to them yields no uplinks.
UplinkDiscovery discover_uplinks(const std::vector<int>& vxlan_ifindexes);

}  // namespace qpspread
