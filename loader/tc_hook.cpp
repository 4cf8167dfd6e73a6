#include "loader/tc_hook.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "qpspread/abi.h"

namespace qpspread {
namespace {

bpf_tc_hook make_hook(int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
  return hook;
}

bpf_tc_opts our_filter() {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = QPS_TC_HANDLE;
  opts.priority = QPS_TC_PRIORITY;
  return opts;
}

int count_filters(nl_sock* sock, int ifindex, uint32_t parent) {
  nl_cache* cache = nullptr;
  if (int err = rtnl_cls_alloc_cache(sock, ifindex, parent, &cache); err < 0)
    throw Error(std::string("netlink: cannot list tc filters: ") + nl_geterror(err));
  const int n = nl_cache_nitems(cache);
  nl_cache_free(cache);
  return n;
}

TcAttachResult attach_at(int ifindex, int prog_fd, bpf_tc_attach_point point) {
  TcAttachResult res;
  bpf_tc_hook hook = make_hook(ifindex, point);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST)
    throw Error(errno_text("cannot create clsact qdisc on ifindex " + std::to_string(ifindex), err));
  res.created_qdisc = err == 0;

  // REPLACE only ever replaces a filter at qpspread's own handle and priority: a leftover of ours.
  bpf_tc_opts opts = our_filter();
  opts.prog_fd = prog_fd;
  opts.flags = BPF_TC_F_REPLACE;
  err = bpf_tc_attach(&hook, &opts);
  if (err) {
    if (res.created_qdisc) bpf_tc_hook_destroy(&hook);
    throw Error(errno_text("cannot attach tc filter on ifindex " + std::to_string(ifindex), err));
  }
  res.prog_id = opts.prog_id;
  return res;
}

uint32_t query_at(int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook = make_hook(ifindex, point);
  bpf_tc_opts opts = our_filter();
  if (bpf_tc_query(&hook, &opts) != 0) return 0;
  return opts.prog_id;
}

int count_clsact_filters(int ifindex) {
  std::unique_ptr<nl_sock, decltype(&nl_socket_free)> sock(nl_socket_alloc(), nl_socket_free);
  if (!sock) throw Error("netlink: out of memory");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    throw Error(std::string("netlink connect: ") + nl_geterror(err));
  return count_filters(sock.get(), ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)) +
         count_filters(sock.get(), ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));
}

bool detach_at(int ifindex, bool created_qdisc, bpf_tc_attach_point point) {
  bpf_tc_hook hook = make_hook(ifindex, point);
  bpf_tc_opts opts = our_filter();
  int err = bpf_tc_detach(&hook, &opts);
  if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL)
    throw Error(errno_text("cannot remove tc filter on ifindex " + std::to_string(ifindex), err));
  if (!created_qdisc || count_clsact_filters(ifindex) != 0) return false;
  hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
  err = bpf_tc_hook_destroy(&hook);
  return err == 0;
}

// tcx. enum bpf_attach_type's and the attach flags' values of Linux 6.6 (Debian 12's headers
// predate them; libbpf 1.1's bpf_prog_attach_opts passes them through).
constexpr uint32_t kTcxIngress = 46, kTcxEgress = 47;
constexpr uint32_t kBpfFBefore = 1U << 3;  // with no relative program: first in the chain

bpf_attach_type tcx_type(TcDir dir) { return static_cast<bpf_attach_type>(dir == TcDir::egress ? kTcxEgress : kTcxIngress); }

std::string hook_text(int ifindex, TcDir dir) {
  return std::string("tcx ") + (dir == TcDir::egress ? "egress" : "ingress") + " of ifindex " + std::to_string(ifindex);
}

std::vector<uint32_t> chain_of(int ifindex, TcDir dir) {
  std::array<uint32_t, 64> ids{};  // a chain holds at most 64 programs
  uint32_t count = ids.size();
  LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids.data(), .prog_cnt = count);
  if (int err = bpf_prog_query_opts(ifindex, tcx_type(dir), &q); err) {
    if (err == -ENODEV) return {};
    throw Error(errno_text("cannot list the programs on " + hook_text(ifindex, dir), err));
  }
  return {ids.begin(), ids.begin() + std::min<uint32_t>(q.prog_cnt, ids.size())};
}

// The programs on a tcx hook that are qpspread's (named qps_*), in chain order.
std::vector<uint32_t> tcx_ours(int ifindex, TcDir dir) {
  std::vector<uint32_t> ours;
  for (uint32_t id : chain_of(ifindex, dir)) {
    const UniqueFd prog(bpf_prog_get_fd_by_id(id));
    if (!prog) continue;  // detached meanwhile
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) == 0 && std::strncmp(info.name, "qps_", 4) == 0)
      ours.push_back(id);
  }
  return ours;
}

uint32_t prog_id_of(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(prog_fd, &info, &len); err)
    throw Error(errno_text("cannot read a program's id", err));
  return info.id;
}

TcAttachResult tcx_attach(int ifindex, TcDir dir, int prog_fd) {
  const std::vector<uint32_t> ours = tcx_ours(ifindex, dir);
  // A program of ours is there (an earlier attach's, or a leftover): replace it in place, so the
  // hook is never without one; else go first.
  const UniqueFd old(ours.empty() ? -1 : bpf_prog_get_fd_by_id(ours.front()));
  LIBBPF_OPTS(bpf_prog_attach_opts, o);
  if (old) {
    o.flags = BPF_F_REPLACE;
    o.replace_prog_fd = old.get();
  } else {
    o.flags = kBpfFBefore;
  }
  if (int err = bpf_prog_attach_opts(prog_fd, ifindex, tcx_type(dir), &o); err)
    throw Error(errno_text("cannot attach to " + hook_text(ifindex, dir), err));
  return {false, prog_id_of(prog_fd)};
}

void tcx_detach(int ifindex, TcDir dir) {
  for (uint32_t id : tcx_ours(ifindex, dir)) {
    const UniqueFd prog(bpf_prog_get_fd_by_id(id));
    if (!prog) continue;
    const int err = bpf_prog_detach2(prog.get(), ifindex, tcx_type(dir));
    if (err && err != -ENOENT && err != -ENODEV)
      throw Error(errno_text("cannot remove qpspread's program from " + hook_text(ifindex, dir), err));
  }
}

bpf_tc_attach_point point_of(TcDir dir) { return dir == TcDir::egress ? BPF_TC_EGRESS : BPF_TC_INGRESS; }

}  // namespace

const char* tc_api_name(TcApi api) { return api == TcApi::tcx ? "tcx" : "clsact"; }

bool tcx_supported() {
  // Listing a tcx hook of the loopback device (in every namespace, index 1) works where tcx exists;
  // older kernels refuse the attach type.
  static const bool supported = [] {
    uint32_t count = 0;
    LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_cnt = count);
    return bpf_prog_query_opts(1, tcx_type(TcDir::ingress), &q) == 0;
  }();
  return supported;
}

TcAttachResult tc_attach(TcApi api, int ifindex, TcDir dir, int prog_fd) {
  return api == TcApi::tcx ? tcx_attach(ifindex, dir, prog_fd) : attach_at(ifindex, prog_fd, point_of(dir));
}

uint32_t tc_query(TcApi api, int ifindex, TcDir dir) {
  if (api == TcApi::clsact) return query_at(ifindex, point_of(dir));
  const std::vector<uint32_t> ours = tcx_ours(ifindex, dir);
  return ours.empty() ? 0 : ours.front();
}

std::vector<uint32_t> tcx_chain(int ifindex, TcDir dir) { return tcx_supported() ? chain_of(ifindex, dir) : std::vector<uint32_t>{}; }

bool tc_detach(TcApi api, int ifindex, TcDir dir, bool created_qdisc) {
  if (api == TcApi::clsact) return detach_at(ifindex, created_qdisc, point_of(dir));
  tcx_detach(ifindex, dir);
  return false;
}

}  // namespace qpspread
