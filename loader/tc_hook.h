// qpspread's tc filter on a device's clsact egress or ingress hook (transit interfaces, veth
// uplinks), one per hook. Call inside the device's namespace.
// Only the filter with qpspread's handle and priority is ever touched; a clsact qdisc is removed
// only if qpspread created it and no filter of anyone else is left on it.
#pragma once

#include <cstdint>

namespace qpspread {

struct TcAttachResult {
  bool created_qdisc = false;
  uint32_t prog_id = 0;
};

TcAttachResult tc_attach_egress(int ifindex, int prog_fd);
// The id of the program in qpspread's filter on ifindex's egress hook, or 0 when there is none.
uint32_t tc_query_egress(int ifindex);
// Removes qpspread's filter (a missing one is fine); returns true if it also removed the qdisc.
bool tc_detach_egress(int ifindex, bool created_qdisc);
// The same on the ingress hook (transit interfaces, veth uplinks).
TcAttachResult tc_attach_ingress(int ifindex, int prog_fd);
uint32_t tc_query_ingress(int ifindex);
bool tc_detach_ingress(int ifindex, bool created_qdisc);
// How many filters, anyone's, sit on ifindex's clsact ingress and egress hooks.
int tc_count_clsact_filters(int ifindex);

}  // namespace qpspread
