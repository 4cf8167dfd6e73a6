#include "loader/tc_hook.h"

#include <bpf/libbpf.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>

#include <cerrno>
#include <memory>
#include <string>

#include "common/error.h"
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


bool detach_at(int ifindex, bool created_qdisc, bpf_tc_attach_point point) {
  bpf_tc_hook hook = make_hook(ifindex, point);
  bpf_tc_opts opts = our_filter();
  int err = bpf_tc_detach(&hook, &opts);
  if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL)
    throw Error(errno_text("cannot remove tc filter on ifindex " + std::to_string(ifindex), err));
  if (!created_qdisc || tc_count_clsact_filters(ifindex) != 0) return false;
  hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
  err = bpf_tc_hook_destroy(&hook);
  return err == 0;
}

}  // namespace

int tc_count_clsact_filters(int ifindex) {
  std::unique_ptr<nl_sock, decltype(&nl_socket_free)> sock(nl_socket_alloc(), nl_socket_free);
  if (!sock) throw Error("netlink: out of memory");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    throw Error(std::string("netlink connect: ") + nl_geterror(err));
  return count_filters(sock.get(), ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)) +
         count_filters(sock.get(), ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));
}

TcAttachResult tc_attach_egress(int ifindex, int prog_fd) { return attach_at(ifindex, prog_fd, BPF_TC_EGRESS); }
TcAttachResult tc_attach_ingress(int ifindex, int prog_fd) { return attach_at(ifindex, prog_fd, BPF_TC_INGRESS); }
uint32_t tc_query_egress(int ifindex) { return query_at(ifindex, BPF_TC_EGRESS); }
uint32_t tc_query_ingress(int ifindex) { return query_at(ifindex, BPF_TC_INGRESS); }
bool tc_detach_egress(int ifindex, bool created_qdisc) { return detach_at(ifindex, created_qdisc, BPF_TC_EGRESS); }
bool tc_detach_ingress(int ifindex, bool created_qdisc) { return detach_at(ifindex, created_qdisc, BPF_TC_INGRESS); }

}  // namespace qpspread
