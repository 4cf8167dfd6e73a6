// qpspread's tc programs on a device's egress or ingress hook (VXLAN devices, uplinks, transit
// interfaces), one per hook, through either of the kernel's two ways in. Call inside the device's
// namespace.
// - clsact: a filter with qpspread's handle and priority on a clsact qdisc; only that filter is
//   ever touched, and the qdisc is removed only if qpspread created it and no filter of anyone
//   else is left on it.
// - tcx (Linux 6.6+): a program of the device's tcx chain, put first (qpspread's programs only
//   observe and steer: they return TC_ACT_UNSPEC, so the chain and any clsact filters still run).
//   qpspread's program on a hook is the one named qps_*; no other program is touched. Cheaper per
//   packet than a clsact filter (no qdisc, no classifier), so attach's default where it exists.
#pragma once

#include <cstdint>
#include <vector>

#include "qpspread/abi.h"

namespace qpspread {

enum class TcApi : uint8_t { clsact = QPS_TC_CLSACT, tcx = QPS_TC_TCX };
enum class TcDir { ingress, egress };

const char* tc_api_name(TcApi api);  // "clsact", "tcx"
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
// Every program of the hook's tcx chain, anyone's, in the order they run ({} without tcx).
std::vector<uint32_t> tcx_chain(int ifindex, TcDir dir);

}  // namespace qpspread
