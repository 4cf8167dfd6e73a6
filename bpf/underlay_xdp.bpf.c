/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * XDP on underlay interfaces, before the node's own route lookup (the receive role also as a tc
 * ingress program, qps_underlay_tc). Two roles, chosen per instance in .rodata (the verifier drops
 * the code of a role that is off):
 *  - rx (uplinks of a VTEP): counts every received VXLAN frame per path (ingress interface, VNI,
 *    remote VTEP), RoCEv2 inside apart, CE-marked frames and CNPs apart, and tracks each QP's
 *    PSNs: reordered and gaps (and its CE marks and CNPs);
 *  - transit (a node forwarding VXLAN it did not encapsulate): rewrites the outer UDP source port
 *    from the inner destination QP exactly as a VTEP in mode qp-hash would choose it, keeping the
 *    outer UDP checksum valid. No other byte changes.
 * Always XDP_PASS (TC_ACT_UNSPEC): this program observes and steers, it never drops.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"
#include "qpspread/csum.h"
#include "qpspread/flow_hash.h"
#include "lib/attachments.h"
#include "lib/counters.h"
#include "lib/parse_outer.h"
#include "lib/pkt.h"
#include "lib/balance.h"
#include "lib/vni_mode.h"

#define QPS_PSN_MASK 0xffffffu
#define QPS_PSN_HALF 0x800000u

/* BTH opcodes whose PSN is not a new position in the QP's send sequence. */
#define QPS_OP_RC_ACK 0x11
#define QPS_OP_RC_ATOMIC_ACK 0x12
#define QPS_OP_CNP 0x81

const volatile struct qps_xdp_cfg qps_xdp = { .vxlan_port = 4789 };

QPS_PATHS_MAP(rx_paths);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, QPS_MAX_QPS);
	__type(key, struct qps_qp_key);
	__type(value, struct qps_qp_rx);
} qp_rx SEC(".maps");

QPS_REASONS_MAP(xdp_reasons);

/* Only acknowledgements and congestion notifications do not advance a QP's PSN sequence. */
static __always_inline int qps_psn_in_sequence(__u8 opcode)
{
	return opcode != QPS_OP_RC_ACK && opcode != QPS_OP_RC_ATOMIC_ACK && opcode != QPS_OP_CNP;
}

/*
 * A QP's frames normally arrive on one CPU (one flow, one rx queue), so the expected PSN is plain
 * last-writer-wins; the counters are atomic because a path change can briefly split a QP over two.
 */
static __always_inline void qps_track_psn(__u32 vni, const struct qps_roce_flow *flow, __u32 ifindex,
					  __u32 len, int ce)
{
	struct qps_qp_key key = { .vni = vni, .qpn = flow->dest_qp };
	struct qps_qp_rx *q = bpf_map_lookup_elem(&qp_rx, &key);
	__u32 ahead;

	if (!q) {
		struct qps_qp_rx init = {
			.packets = 1,
			.bytes = len,
			.next_psn = (flow->psn + 1) & QPS_PSN_MASK,
			.ifindex = ifindex,
			.ecn_ce = ce,
			.cnp = flow->opcode == QPS_OP_CNP,
		};

		bpf_map_update_elem(&qp_rx, &key, &init, BPF_NOEXIST);
		return;
	}
	__sync_fetch_and_add(&q->packets, 1);
	__sync_fetch_and_add(&q->bytes, len);
	if (ce)
		__sync_fetch_and_add(&q->ecn_ce, 1);
	if (flow->opcode == QPS_OP_CNP)
		__sync_fetch_and_add(&q->cnp, 1);
	q->ifindex = ifindex;
	if (!qps_psn_in_sequence(flow->opcode))
		return;
	/* Distance ahead of the expected PSN, modulo 2^24: the wrap from 0xffffff to 0 is in order. */
	ahead = (flow->psn - q->next_psn) & QPS_PSN_MASK;
	if (ahead >= QPS_PSN_HALF) {
		__sync_fetch_and_add(&q->reordered, 1);
		return;
	}
	if (ahead)
		__sync_fetch_and_add(&q->gaps, 1);
	q->next_psn = (flow->psn + 1) & QPS_PSN_MASK;
}

/*
 * The port a VTEP in mode qp-hash gives this QP, in mode balance the port assigned to it here
 * (lib/balance.h); rewritten in place with the checksum kept valid.
 */
static __always_inline enum qps_reason qps_transit_rewrite(struct qps_outer *o, const struct qps_roce_flow *flow)
{
	const struct qps_vni_cfg *vc = qps_vni(o->vni);
	enum qps_reason done = QPS_R_STEERED;
	__u16 port;
	__be16 want;

	if (!vc || vc->mode == QPS_MODE_OFF || !qps_xdp.port_count)
		return QPS_R_MODE_OFF;
	if (vc->mode == QPS_MODE_BALANCE) {
		__u32 hash = 0; /* the VTEP's steering hash: not needed to rewrite the port */
		int held = 0;

		port = qps_balance_port(o->vni, flow, qps_gap_ns(vc->flowlet_gap_us, vc->coarse_res_ns),
					qps_xdp.port_min, qps_xdp.port_count, &hash, &held);
		done = held ? QPS_R_MOVE_HELD : QPS_R_BALANCED;
	} else {
		port = qps_port_for_hash(qps_qp_hash(flow->addr, flow->nwords, flow->dest_qp), qps_xdp.port_min,
					 qps_xdp.port_count);
	}
	want = bpf_htons(port);
	if (o->udp->source == want)
		return done == QPS_R_STEERED ? QPS_R_PORT_KEPT : done;
	/* A zero checksum means none was sent (IPv4, or an IPv6 tunnel per RFC 6935): keep it so. */
	if (o->udp->check)
		o->udp->check = qps_udp_csum_replace16(o->udp->check, o->udp->source, want);
	o->udp->source = want;
	return done;
}

/*
 * One frame, with the roles of the hook it arrived by: the verifier drops a role's code when the
 * entry passes it as a constant (tc) or reads it from .rodata (XDP).
 */
static __always_inline void qps_underlay(const struct qps_pkt *pkt, __u32 ifindex, __u8 roles)
{
	struct qps_roce_flow flow = {};
	struct qps_outer o = {};
	enum qps_reason reason, roce;

	reason = qps_parse_vxlan(pkt->data, pkt->data_end, qps_xdp.vxlan_port, &o);
	if (reason != QPS_PARSE_OK) {
		if (roles & QPS_XDP_RX) {
			/* Counted per interface too, so every frame it receives is in rx_paths once. */
			struct qps_path_key other = { .ifindex = ifindex, .vni = QPS_VNI_OTHER };

			qps_count_path(&rx_paths, &other, pkt->len, 0, 0, 0);
		}
		qps_count_reason(&xdp_reasons, reason, pkt->len);
		return;
	}
	roce = qps_parse_rocev2(o.inner, pkt->data_end, &flow);
	reason = roce == QPS_PARSE_OK ? QPS_R_RECEIVED : roce;
	if ((roles & QPS_XDP_TRANSIT) && roce == QPS_PARSE_OK)
		reason = qps_transit_rewrite(&o, &flow);
	if (roles & QPS_XDP_RX) {
		struct qps_path_key key = { .ifindex = ifindex, .vni = o.vni };

		int ce = o.ecn == 3, cnp = roce == QPS_PARSE_OK && flow.opcode == QPS_OP_CNP;

		__builtin_memcpy(key.remote, o.src, 16);
		qps_count_path(&rx_paths, &key, pkt->len, roce == QPS_PARSE_OK, ce, cnp);
		if (roce == QPS_PARSE_OK)
			qps_track_psn(o.vni, &flow, ifindex, pkt->len, ce);
	}
	qps_count_reason(&xdp_reasons, reason, pkt->len);
}

/*
 * xdp.frags: the program reads only headers, which are in the first buffer, so it can declare
 * multi-buffer support; native XDP on a veth then accepts MTUs above a page (containerlab's 9500).
 * The whole frame's length comes from bpf_xdp_get_buff_len().
 */
SEC("xdp.frags")
int qps_underlay_xdp(struct xdp_md *ctx)
{
	struct qps_pkt pkt = qps_pkt_from_xdp(ctx);

	qps_underlay(&pkt, ctx->ingress_ifindex, qps_xdp.roles);
	return XDP_PASS;
}

/*
 * The receive role on tc ingress, where XDP would cost more than the program: on a veth, whose
 * native XDP copies every frame with less than 256 bytes of headroom (a VXLAN frame) into a new
 * page, and whose generic XDP costs more than a tc hook (docs/benchmarks.md). At tc ingress the
 * frame starts at its MAC header, as in XDP, and skb->len counts the same bytes. Always
 * TC_ACT_UNSPEC.
 */
SEC("tc")
int qps_underlay_tc(struct __sk_buff *skb)
{
	struct qps_pkt pkt = qps_pkt_from_skb(skb, QPS_OUTER_WINDOW + QPS_INNER_WINDOW);

	qps_underlay(&pkt, skb->ifindex, QPS_XDP_RX); /* at ingress, the device it arrived by */
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
