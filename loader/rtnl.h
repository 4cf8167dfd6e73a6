// A minimal NETLINK_ROUTE client for requests libnl-route 3.7 has no object for (nexthop objects,
// RTM_F_FIB_MATCH lookups): build one request, walk every reply message, read attributes.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace qpspread {

// One request message: a fixed header (rtmsg, ndmsg, nhmsg, ...) followed by attributes.
class RtnlRequest {
 public:
  template <typename Hdr>
  RtnlRequest(uint16_t type, uint16_t flags, const Hdr& hdr) : type_(type), flags_(flags) {
    append(&hdr, sizeof(hdr));
  }
  void put(uint16_t attr, const void* data, size_t len);
  void put_u32(uint16_t attr, uint32_t v) { put(attr, &v, sizeof(v)); }
  uint16_t type() const { return type_; }
  uint16_t flags() const { return flags_; }
  const std::vector<uint8_t>& body() const { return body_; }

 private:
  void append(const void* data, size_t len);
  uint16_t type_;
  uint16_t flags_;
  std::vector<uint8_t> body_;
};

// A reply message's attributes by type (the last one wins, as in the kernel's nla_parse).
using RtnlAttrs = std::map<uint16_t, std::string>;
RtnlAttrs rtnl_parse_attrs(const void* data, size_t len);

template <typename T>
bool rtnl_get(const RtnlAttrs& a, uint16_t type, T& out) {
  auto it = a.find(type);
  if (it == a.end() || it->second.size() < sizeof(T)) return false;
  std::memcpy(&out, it->second.data(), sizeof(T));
  return true;
}

class RtnlSocket {
 public:
  // Opens the socket in the calling thread's network namespace.
  RtnlSocket();
  // Sends req and calls on_msg for each reply message (header, then its payload) until the dump
  // ends or the kernel acknowledges. Returns 0, or the kernel's negative errno for the request.
  int request(const RtnlRequest& req, const std::function<void(const nlmsghdr&)>& on_msg);

 private:
  UniqueFd fd_;
  uint32_t seq_ = 0;
};

// Notifications of route, nexthop and link changes (or the groups given) in the calling thread's network namespace, for
// a poll loop: subscribe first, then read the state, then call changed() before each use of it.
class RtnlEvents {
 public:
  // Subscribes in the calling thread's namespace to these RTNLGRP_* groups (default: links,
  // routes and nexthops).
  explicit RtnlEvents(std::initializer_list<int> groups = {RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
                                                          RTNLGRP_NEXTHOP});
  int fd() const { return fd_.get(); }
  // Reads every notification queued; true if there was any (or the queue overflowed: ENOBUFS,
  // some were lost). Never blocks.
  bool changed();

 private:
  UniqueFd fd_;
};

// The fixed header of a reply, and the attributes after it.
template <typename Hdr>
const Hdr& rtnl_header(const nlmsghdr& m) {
  return *reinterpret_cast<const Hdr*>(NLMSG_DATA(&m));
}
template <typename Hdr>
RtnlAttrs rtnl_attrs(const nlmsghdr& m) {
  const size_t off = NLMSG_ALIGN(sizeof(Hdr));
  const size_t payload = m.nlmsg_len - NLMSG_HDRLEN;
  if (payload < off) return {};
  return rtnl_parse_attrs(static_cast<const uint8_t*>(NLMSG_DATA(&m)) + off, payload - off);
}

}  // namespace qpspread
