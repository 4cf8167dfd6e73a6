#include "loader/xdp_hook.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/unique_fd.h"

namespace qpspread {
namespace {

struct XdpState {
  uint32_t prog_id = 0;
  uint32_t flags = 0;
};

XdpState query(int ifindex) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  if (int err = bpf_xdp_query(ifindex, 0, &q); err)
    throw Error(errno_text("cannot query the XDP program of ifindex " + std::to_string(ifindex), err));
  if (q.drv_prog_id) return {q.drv_prog_id, XDP_FLAGS_DRV_MODE};
  if (q.skb_prog_id) return {q.skb_prog_id, XDP_FLAGS_SKB_MODE};
  if (q.hw_prog_id) return {q.hw_prog_id, XDP_FLAGS_HW_MODE};
  return {};
}

// Replaces exactly `old` (so a program someone attached meanwhile is not overwritten), or
// attaches only if the hook is empty.
int attach_in_mode(int ifindex, int prog_fd, uint32_t mode, const XdpState& old) {
  if (!old.prog_id) return bpf_xdp_attach(ifindex, prog_fd, mode | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  UniqueFd old_fd(bpf_prog_get_fd_by_id(old.prog_id));
  if (old_fd.get() < 0) return -errno;
  if (old.flags != mode) {  // a program in the other mode must go first: the kernel holds one per mode
    if (int err = bpf_xdp_detach(ifindex, old.flags, nullptr); err) return err;
    return bpf_xdp_attach(ifindex, prog_fd, mode | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  }
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd.get());
  return bpf_xdp_attach(ifindex, prog_fd, mode | XDP_FLAGS_REPLACE, &opts);
}

// The interface's driver is veth (ethtool's driver name), in the calling thread's namespace.
bool is_veth(const std::string& ifname) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  req.ifr_data = reinterpret_cast<char*>(&info);
  return ::ioctl(fd.get(), SIOCETHTOOL, &req) == 0 && std::strcmp(info.driver, "veth") == 0;
}

}  // namespace

XdpAttachResult xdp_attach(int ifindex, const std::string& ifname, int prog_fd, uint32_t ours) {
  const XdpState old = query(ifindex);
  if (old.prog_id && old.prog_id != ours)
    throw Error("interface " + ifname + " already has an XDP program (id " + std::to_string(old.prog_id) +
                ") that qpspread did not attach; remove it (ip link set dev " + ifname +
                " xdp off) or leave this interface out");
  XdpAttachResult r;
  int err = attach_in_mode(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, old);
  if (err == -EOPNOTSUPP || err == -EINVAL || err == -ERANGE) {
    // The driver has no native XDP, or not for this MTU: generic XDP runs after the skb is built.
    r.generic_fallback = true;
    err = attach_in_mode(ifindex, prog_fd, XDP_FLAGS_SKB_MODE, query(ifindex));
  }
  if (err) throw Error(errno_text("cannot attach XDP to " + ifname, err));
  const XdpState now = query(ifindex);
  r.prog_id = now.prog_id;
  r.flags = now.flags;
  return r;
}

uint32_t xdp_query(int ifindex) { return query(ifindex).prog_id; }

bool xdp_detach(int ifindex, uint32_t prog_id) {
  const XdpState cur = query(ifindex);
  if (!prog_id || cur.prog_id != prog_id) return false;
  UniqueFd fd(bpf_prog_get_fd_by_id(prog_id));
  if (fd.get() < 0) return false;
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd.get());
  // Detaching by replacing exactly our program with none: a concurrent replacement survives.
  return bpf_xdp_attach(ifindex, -1, cur.flags | XDP_FLAGS_REPLACE, &opts) == 0;
}

// A veth's native XDP converts every skb it receives into an XDP buffer (copying it into a new
// page when it has less than 256 bytes of headroom, as a VXLAN frame has) and back into an skb;
// generic XDP runs on the skb but still costs more than a tc hook. On the lab's path
// (qpspread-bench-path, docs/benchmarks.md) an empty program on the uplinks cost 9 % of the frame
// rate in native mode, 5 % in generic mode, nothing measurable on tc ingress. On a NIC, XDP sees
// each frame before the skb is built and before GRO could merge frames: it stays there.
bool xdp_costs_more_than_tc(const std::string& ifname) { return is_veth(ifname); }

}  // namespace qpspread
