// qpspread's tc programs on a device's egress or ingress hook (VXLAN devices, uplinks, transit
// interfaces), one per hook, through either of the kernel's two ways in. Call inside the device's
// namespace.
// - clsact: a filter with qpspread's handle and priority on a clsact qdisc; only that filter is
//   ever touched, and the qdisc is removed only if qpspread created it and no filter of anyone
//   else is left on it.
// - tcx (Linux 6.6+): a program of the device's tcx chain, put first (qpspread's programs only
//   observe and steer: they return TC_ACT_UNSPEC, so the chain and any clsact filters still run).
//   qpspread's program on a hook is the one named qps_* that no bpf_link holds; no other program
//   is touched. Cheaper per packet than a clsact filter (no qdisc, no classifier), so attach's
//   default where it exists.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qpspread/abi.h"

namespace qpspread {

enum class TcApi : uint8_t { clsact = QPS_TC_CLSACT, tcx = QPS_TC_TCX };
enum class TcDir { ingress, egress };

// Inline: the agent's config reads them without linking the loader.
inline const char* tc_api_name(TcApi api) { return api == TcApi::tcx ? "tcx" : "clsact"; }
inline std::optional<TcApi> tc_api_from_name(std::string_view name) {  // nullopt: neither
  for (TcApi api : {TcApi::tcx, TcApi::clsact})
    if (name == tc_api_name(api)) return api;
  return std::nullopt;
}
// Whether the running kernel has tcx (a probe, made once per process).
bool tcx_supported();

struct TcAttachResult {
  bool created_qdisc = false;  // clsact only
  uint32_t prog_id = 0;
};

// Puts prog_fd on the hook, replacing qpspread's program there if there is one (atomically).
TcAttachResult tc_attach(TcApi api, int ifindex, TcDir dir, int prog_fd);
// The id of qpspread's program on the hook, or 0 when there is none.
uint32_t tc_query(TcApi api, int ifindex, TcDir dir);
// Removes qpspread's program from the hook (a missing one is fine); clsact: returns true if it also
// removed the qdisc, which it does only when created_qdisc and no one else's filter is on it.
bool tc_detach(TcApi api, int ifindex, TcDir dir, bool created_qdisc);
// The tcx hook of a direction: BPF_TCX_INGRESS or BPF_TCX_EGRESS (Linux 6.6; Debian 12's headers
// predate them, libbpf 1.1 passes them through).
bpf_attach_type tcx_attach_type(TcDir dir);

struct TcxProgram {
  uint32_t id = 0;
  std::string name;  // as the kernel keeps it: 15 characters at most
  bool link_owned = false;  // held by a bpf_link (never qpspread's)
};
// Every program of the hook's tcx chain, anyone's, in the order they run ({} without tcx).
std::vector<TcxProgram> tcx_programs(int ifindex, TcDir dir);

}  // namespace qpspread
