#include "loader/rtnl.h"

#include <sys/socket.h>

#include <cerrno>

#include "common/error.h"

namespace qpspread {

void RtnlRequest::append(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  body_.insert(body_.end(), p, p + len);
  body_.resize(NLMSG_ALIGN(body_.size()), 0);
}

void RtnlRequest::put(uint16_t attr, const void* data, size_t len) {
  rtattr rta{};
  rta.rta_type = attr;
  rta.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  const size_t start = body_.size();
  body_.resize(start + RTA_SPACE(len), 0);
  std::memcpy(body_.data() + start, &rta, sizeof(rta));
  std::memcpy(body_.data() + start + RTA_LENGTH(0), data, len);
}

RtnlAttrs rtnl_parse_attrs(const void* data, size_t len) {
  RtnlAttrs out;
  auto* rta = static_cast<const rtattr*>(data);
  int left = static_cast<int>(len);
  for (; RTA_OK(rta, left); rta = RTA_NEXT(rta, left)) {
    // NLA_F_NESTED and NLA_F_NET_BYTEORDER are flags, not part of the type.
    const uint16_t type = rta->rta_type & NLA_TYPE_MASK;
    out[type].assign(static_cast<const char*>(RTA_DATA(rta)), RTA_PAYLOAD(rta));
  }
  return out;
}

RtnlSocket::RtnlSocket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
  if (!fd_) throw Error(errno_text("cannot open a netlink socket", errno));
  // Without strict checking the kernel ignores what a dump request filters on; set it where the
  // kernel knows it, and filter replies ourselves either way.
  int one = 1;
  ::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
    throw Error(errno_text("cannot bind a netlink socket", errno));
}

RtnlEvents::RtnlEvents(std::initializer_list<int> groups) : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE)) {
  if (!fd_) throw Error(errno_text("cannot open a netlink socket", errno));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
    throw Error(errno_text("cannot bind a netlink socket", errno));
  for (int group : groups)
    if (::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0)
      throw Error(errno_text("cannot subscribe to netlink group " + std::to_string(group), errno));
}

bool RtnlEvents::changed() {
  bool any = false;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      any = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOBUFS) {
      any = true;
      continue;
    }
    return any;  // EAGAIN: drained
  }
}

int RtnlSocket::request(const RtnlRequest& req, const std::function<void(const nlmsghdr&)>& on_msg) {
  std::vector<uint8_t> msg(NLMSG_HDRLEN + req.body().size());
  auto* h = reinterpret_cast<nlmsghdr*>(msg.data());
  h->nlmsg_len = static_cast<uint32_t>(msg.size());
  h->nlmsg_type = req.type();
  h->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | req.flags());
  h->nlmsg_seq = ++seq_;
  std::memcpy(msg.data() + NLMSG_HDRLEN, req.body().data(), req.body().size());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    throw Error(errno_text("netlink send", errno));

  // The kernel fills dump replies up to 32 KiB at most; MSG_TRUNC reports a longer one rather
  // than cutting a message in half silently.
  std::vector<uint8_t> buf(65536);
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(errno_text("netlink receive", errno));
    }
    if (static_cast<size_t>(n) > buf.size())
      throw Error("netlink reply longer than " + std::to_string(buf.size()) + " bytes");
    int left = static_cast<int>(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(m, left); m = NLMSG_NEXT(m, left)) {
      if (m->nlmsg_seq != seq_) continue;  // a stale reply to an earlier request
      if (m->nlmsg_type == NLMSG_DONE) {
        // A dump that failed part way says so in the DONE message's payload.
        int err = 0;
        if (m->nlmsg_len >= NLMSG_LENGTH(sizeof(err))) std::memcpy(&err, NLMSG_DATA(m), sizeof(err));
        return err;
      }
      if (m->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(m));
        return e->error;  // 0: the acknowledgement ending a non-dump request
      }
      on_msg(*m);
    }
  }
}

}  // namespace qpspread
