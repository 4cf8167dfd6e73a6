#include "loader/tc_hook.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
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

// tcx. The attach flags of Linux 6.6 (Debian 12's headers predate them).
constexpr uint32_t kBpfFBefore = 1U << 3;  // with no relative program: first in the chain

std::string hook_text(int ifindex, TcDir dir) {
  return std::string("tcx ") + (dir == TcDir::egress ? "egress" : "ingress") + " of ifindex " + std::to_string(ifindex);
}

// BPF_PROG_QUERY's attributes as Linux 6.6 has them: libbpf 1.1 passes no link ids.
struct TcxQueryAttr {
  uint32_t target_ifindex;
  uint32_t attach_type;
  uint32_t query_flags;
  uint32_t attach_flags;
  uint64_t prog_ids;
  uint32_t count;
  uint32_t pad;
  uint64_t prog_attach_flags;
  uint64_t link_ids;
  uint64_t link_attach_flags;
  uint64_t revision;
};

std::vector<TcxProgram> chain_of(int ifindex, TcDir dir) {
  std::array<uint32_t, 64> ids{}, links{};  // a chain holds at most 64 programs
  TcxQueryAttr attr{};
  attr.target_ifindex = static_cast<uint32_t>(ifindex);
  attr.attach_type = tcx_attach_type(dir);
  attr.prog_ids = reinterpret_cast<uintptr_t>(ids.data());
  attr.link_ids = reinterpret_cast<uintptr_t>(links.data());
  attr.count = ids.size();
  if (::syscall(__NR_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)) != 0) {
    if (errno == ENODEV) return {};
    throw Error(errno_text("cannot list the programs on " + hook_text(ifindex, dir), errno));
  }
  std::vector<TcxProgram> chain;
  for (uint32_t i = 0; i < std::min<uint32_t>(attr.count, ids.size()); ++i) {
    TcxProgram p{ids[i], "", links[i] != 0};
    const UniqueFd prog(bpf_prog_get_fd_by_id(p.id));
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (prog && bpf_obj_get_info_by_fd(prog.get(), &info, &len) == 0) p.name = info.name;
    chain.push_back(std::move(p));
  }
  return chain;
}

// qpspread's programs on a tcx hook, in chain order: those named qps_*, attached without a link
// (qpspread makes none; one a link holds is someone else's and could not be replaced or detached).
std::vector<uint32_t> tcx_ours(int ifindex, TcDir dir) {
  std::vector<uint32_t> ours;
  for (const TcxProgram& p : chain_of(ifindex, dir))
    if (!p.link_owned && p.name.rfind("qps_", 0) == 0) ours.push_back(p.id);
  return ours;
}

uint32_t prog_id_of(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(prog_fd, &info, &len); err)
    throw Error(errno_text("cannot read a program's id", err));
  return info.id;
}

// Removes one program of ours; one gone meanwhile is fine.
void tcx_remove(int ifindex, TcDir dir, uint32_t id) {
  const UniqueFd prog(bpf_prog_get_fd_by_id(id));
  if (!prog) return;
  const int err = bpf_prog_detach2(prog.get(), ifindex, tcx_attach_type(dir));
  if (err && err != -ENOENT && err != -ENODEV)
    throw Error(errno_text("cannot remove qpspread's program from " + hook_text(ifindex, dir), err));
}

TcAttachResult tcx_attach(int ifindex, TcDir dir, int prog_fd) {
  // Twice at most: a program of ours someone removes between the listing and the replace (ENOENT)
  // sends the second round to an empty hook.
  for (int round = 0;; ++round) {
    const std::vector<uint32_t> ours = tcx_ours(ifindex, dir);
    // A program of ours is there (an earlier attach's, or a leftover): replace it in place, so the
    // hook is never without one; else go first.
    const UniqueFd old(ours.empty() ? -1 : bpf_prog_get_fd_by_id(ours.front()));
    if (!ours.empty() && !old && round == 0) continue;
    LIBBPF_OPTS(bpf_prog_attach_opts, o);
    if (old) {
      o.flags = BPF_F_REPLACE;
      o.replace_prog_fd = old.get();
    } else {
      o.flags = kBpfFBefore;
    }
    const int err = bpf_prog_attach_opts(prog_fd, ifindex, tcx_attach_type(dir), &o);
    if (err == -ENOENT && old && round == 0) continue;
    if (err) throw Error(errno_text("cannot attach to " + hook_text(ifindex, dir), err));
    // More than one of ours (left by an older qpspread, which did not lock): every frame would be
    // counted twice. Only the one just put there stays.
    for (size_t i = 1; i < ours.size(); ++i) tcx_remove(ifindex, dir, ours[i]);
    return {false, prog_id_of(prog_fd)};
  }
}

void tcx_detach(int ifindex, TcDir dir) {
  for (uint32_t id : tcx_ours(ifindex, dir)) tcx_remove(ifindex, dir, id);
}

bpf_tc_attach_point point_of(TcDir dir) { return dir == TcDir::egress ? BPF_TC_EGRESS : BPF_TC_INGRESS; }

}  // namespace

bpf_attach_type tcx_attach_type(TcDir dir) {
  return static_cast<bpf_attach_type>(dir == TcDir::egress ? 47 : 46);  // BPF_TCX_EGRESS, BPF_TCX_INGRESS
}

bool tcx_supported() {
  // Listing a tcx hook of the loopback device (in every namespace, index 1) works where tcx exists;
  // older kernels refuse the attach type.
  static const bool supported = [] {
    uint32_t count = 0;
    LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_cnt = count);
    return bpf_prog_query_opts(1, tcx_attach_type(TcDir::ingress), &q) == 0;
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

std::vector<TcxProgram> tcx_programs(int ifindex, TcDir dir) { return tcx_supported() ? chain_of(ifindex, dir) : std::vector<TcxProgram>{}; }

bool tc_detach(TcApi api, int ifindex, TcDir dir, bool created_qdisc) {
  if (api == TcApi::clsact) return detach_at(ifindex, created_qdisc, point_of(dir));
  tcx_detach(ifindex, dir);
  return false;
}

}  // namespace qpspread
