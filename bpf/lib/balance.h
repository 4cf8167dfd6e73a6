/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Mode balance, shared by the VTEP (vxlan_egress) and transit (underlay_xdp) programs: the port a
 * QP is assigned (qp_assign, written by userspace), taken only once the QP has been idle for the
 * VNI's flowlet gap, so a QP's frames never overtake each other (qp_flowlet). One definition, one
 * pin per namespace, shared by every instance.
 */
#ifndef QPS_BPF_BALANCE_H
#define QPS_BPF_BALANCE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QPS_MAX_QPS);
	__type(key, struct qps_qp_key);
	__type(value, struct qps_qp_assign);
} qp_assign SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, QPS_MAX_QPS);
	__type(key, struct qps_qp_key);
	__type(value, struct qps_qp_flowlet);
} qp_flowlet SEC(".maps");

/*
 * The port this frame of the QP leaves with: its assigned port if it has one in [port_min,
 * port_min + port_count) (else `hash_port`), once the QP has been idle for gap_us since its last
 * frame; until then the port it had. *held is set when a different port waits for the gap.
 */
static __always_inline __u16 qps_balance_port(__u32 vni, __u32 qpn, __u16 hash_port, __u32 gap_us,
					       __u16 port_min, __u16 port_count, int *held)
{
	struct qps_qp_key key = { .vni = vni, .qpn = qpn };
	const struct qps_qp_assign *a = bpf_map_lookup_elem(&qp_assign, &key);
	struct qps_qp_flowlet *f;
	__u64 now = bpf_ktime_get_ns();
	__u16 want = hash_port;

	if (a && a->sport >= port_min && a->sport - port_min < port_count)
		want = a->sport;
	f = bpf_map_lookup_elem(&qp_flowlet, &key);
	if (!f) {
		struct qps_qp_flowlet init = { .last_ns = now, .sport = want };

		bpf_map_update_elem(&qp_flowlet, &key, &init, BPF_ANY);
		return want;
	}
	if (f->sport != want) {
		if (now - f->last_ns >= (__u64)gap_us * 1000) {
			f->sport = want;
			__sync_fetch_and_add(&f->moves, 1);
		} else {
			*held = 1;
		}
	}
	f->last_ns = now;
	return f->sport;
}

#endif /* QPS_BPF_BALANCE_H */
