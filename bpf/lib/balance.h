/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Mode balance, shared by the VTEP (vxlan_egress) and transit (underlay_xdp) programs: the port a
 * QP is assigned (qp_assign, written by userspace, which then moves qp_assign_gen), taken only once
 * the QP has been idle for the VNI's flowlet gap, so a QP's frames never overtake each other
 * (qp_flowlet). One definition, one
 * pin per namespace, shared by every instance.
 */
#ifndef QPS_BPF_BALANCE_H
#define QPS_BPF_BALANCE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"
#include "qpspread/flow_hash.h"
#include "lib/parse_inner.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QPS_MAX_QPS);
	__type(key, struct qps_qp_key);
	__type(value, struct qps_qp_assign);
} qp_assign SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} qp_assign_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, QPS_MAX_QPS);
	__type(key, struct qps_qp_key);
	__type(value, struct qps_qp_flowlet);
} qp_flowlet SEC(".maps");

/* The idle time after which a QP may move: the VNI's gap, widened by a coarse clock tick. */
static __always_inline __u64 qps_gap_ns(__u32 flowlet_gap_us, __u32 coarse_res_ns)
{
	return (__u64)flowlet_gap_us * 1000 + coarse_res_ns;
}

/* The port the QP should leave with: its assigned one if in range, else its qp-hash port. */
static __always_inline __u16 qps_wanted_port(const struct qps_qp_key *key, const struct qps_roce_flow *flow,
					      __u16 port_min, __u16 port_count)
{
	const struct qps_qp_assign *a = bpf_map_lookup_elem(&qp_assign, key);

	if (a && a->sport >= port_min && a->sport - port_min < port_count)
		return a->sport;
	return qps_port_for_hash(qps_qp_hash(flow->addr, flow->nwords, flow->dest_qp), port_min, port_count);
}

/*
 * The port this frame of the QP leaves with: the one it should (qps_wanted_port, looked up again
 * only when qp_assign_gen moved), once the QP has been idle for gap_us since its last frame; until
 * then the port it had. *hash: the flow hash that makes the VXLAN driver send that port, kept with
 * it. *held is set when a different port waits for the gap. A frame of a QP that keeps its port
 * costs two lookups (the generation, an array slot; the QP's flowlet) and a read of the coarse
 * clock (the precise one cost as much as the rest together on this project's VMs; the gap is
 * widened by the coarse clock's resolution, so no move comes early: qps_gap_ns).
 */
static __always_inline __u16 qps_balance_port(__u32 vni, const struct qps_roce_flow *flow, __u64 gap_ns,
					       __u16 port_min, __u16 port_count, __u32 *hash, int *held)
{
	struct qps_qp_key key = { .vni = vni, .qpn = flow->dest_qp };
	__u32 zero = 0;
	const __u64 *genp = bpf_map_lookup_elem(&qp_assign_gen, &zero);
	__u32 gen = genp ? (__u32)*genp : 0;
	struct qps_qp_flowlet *f = bpf_map_lookup_elem(&qp_flowlet, &key);
	__u64 now = bpf_ktime_get_coarse_ns();

	if (!f) {
		__u16 want = qps_wanted_port(&key, flow, port_min, port_count);
		struct qps_qp_flowlet init = { .last_ns = now, .sport = want, .want = want, .gen = gen };

		init.hash = qps_hash_for_port(want, port_min, port_count);
		bpf_map_update_elem(&qp_flowlet, &key, &init, BPF_ANY);
		*hash = init.hash;
		return want;
	}
	if (f->gen != gen) {
		f->want = qps_wanted_port(&key, flow, port_min, port_count);
		f->gen = gen;
	}
	if (f->sport != f->want) {
		if (now - f->last_ns >= gap_ns) {
			f->sport = f->want;
			f->hash = qps_hash_for_port(f->sport, port_min, port_count);
			__sync_fetch_and_add(&f->moves, 1);
		} else {
			*held = 1;
		}
	}
	f->last_ns = now;
	*hash = f->hash;
	return f->sport;
}

#endif /* QPS_BPF_BALANCE_H */
