/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tc egress on a VTEP's underlay uplinks: counts every VXLAN frame per path (uplink, VNI, remote
 * VTEP), RoCEv2 inside apart, and per QP its frames and bytes and the uplink, outer source port and
 * remote VTEP it last left by, counting a move each time the uplink changes. Reads only; always
 * TC_ACT_UNSPEC.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"
#include "lib/attachments.h"
#include "lib/counters.h"
#include "lib/parse_outer.h"
#include "lib/pkt.h"
#include "lib/vni_mode.h" /* not read here: every object defines attachments and vni_mode */

const volatile struct qps_uplink_cfg qps_uplink = { .vxlan_port = 4789 };

QPS_PATHS_MAP(path_stats);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, QPS_MAX_QPS);
	__type(key, struct qps_qp_key);
	__type(value, struct qps_qp_path);
} qp_paths SEC(".maps");

QPS_REASONS_MAP(uplink_reasons);

/*
 * The QP's entry, shared by all CPUs: the frame and byte counts are atomic, the move count too; the
 * last uplink, port and remote are last-writer-wins. This is the one per-QP update a frame costs on
 * a VTEP with uplink programs: its VXLAN devices' programs then count nothing per QP (count_qps).
 */
static __always_inline void qps_track_qp(__u32 vni, __u32 qpn, __u32 ifindex, __u16 sport,
					 const __u8 *remote, __u32 inner_len)
{
	struct qps_qp_key key = { .vni = vni, .qpn = qpn };
	struct qps_qp_path *p = bpf_map_lookup_elem(&qp_paths, &key);

	if (!p) {
		struct qps_qp_path init = { .ifindex = ifindex, .sport = sport, .packets = 1, .bytes = inner_len };

		__builtin_memcpy(init.remote, remote, 16);
		if (bpf_map_update_elem(&qp_paths, &key, &init, BPF_NOEXIST) == 0)
			return;
		/* Another CPU created it first: count on its entry. */
		p = bpf_map_lookup_elem(&qp_paths, &key);
		if (!p)
			return;
	}
	__sync_fetch_and_add(&p->packets, 1);
	__sync_fetch_and_add(&p->bytes, inner_len);
	if (p->ifindex != ifindex) {
		__sync_fetch_and_add(&p->moves, 1);
		p->ifindex = ifindex;
	}
	p->sport = sport;
	__builtin_memcpy(p->remote, remote, 16);
}

SEC("tc")
int qps_uplink_egress(struct __sk_buff *skb)
{
	/* The outer headers and the inner ones. */
	struct qps_pkt pkt = qps_pkt_from_skb(skb, QPS_OUTER_WINDOW + QPS_INNER_WINDOW);
	struct qps_roce_flow flow = {};
	struct qps_path_key key = {};
	struct qps_outer o = {};
	enum qps_reason reason;

	key.ifindex = skb->ifindex;
	reason = qps_parse_vxlan(pkt.data, pkt.data_end, qps_uplink.vxlan_port, &o);
	if (reason != QPS_PARSE_OK) {
		/* Counted per interface too, so every frame it sends is in path_stats once. */
		key.vni = QPS_VNI_OTHER;
		qps_count_path(&path_stats, &key, pkt.len, 0, 0, 0);
		qps_count_reason(&uplink_reasons, reason, pkt.len);
		return TC_ACT_UNSPEC;
	}
	key.vni = o.vni;
	__builtin_memcpy(key.remote, o.dst, 16);
	reason = qps_parse_rocev2(o.inner, pkt.data_end, &flow);
	qps_count_path(&path_stats, &key, pkt.len, reason == QPS_PARSE_OK, 0, 0);
	if (reason == QPS_PARSE_OK)
		qps_track_qp(o.vni, flow.dest_qp, skb->ifindex, bpf_ntohs(o.udp->source), key.remote,
			     pkt.len - (__u32)(o.inner - pkt.data));
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
