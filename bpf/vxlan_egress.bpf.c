/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tc egress on a VXLAN device, before encapsulation. For RoCEv2 frames of a VNI in mode qp-hash it
 * chooses the outer UDP source port from the destination QP, in mode balance the port assigned to
 * the QP (lib/balance.h), and makes the driver use it, through skb->hash (udp_flow_src_port derives
 * the port from skb_get_hash). It never changes a byte of the
 * frame and never drops: every verdict is TC_ACT_UNSPEC, so filters after ours (containerlab's
 * stats program at pref 42420, say) still run and the frame is sent as usual. It counts frames per
 * reason, and per QP only where no uplink program does (qps_dev.count_qps).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"
#include "qpspread/flow_hash.h"
#include "lib/counters.h"
#include "lib/parse_inner.h"
#include "lib/pkt.h"
#include "lib/attachments.h"
#include "lib/balance.h"
#include "lib/vni_mode.h" /* not read here: every object defines attachments and vni_mode */

QPS_REASONS_MAP(reasons);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, QPS_MAX_QPS);
	__type(key, struct qps_qp_key);
	__type(value, struct qps_qp_stats);
} qp_stats SEC(".maps");

/* Set by the loader before load; one program instance per VXLAN device. */
const volatile struct qps_dev_cfg qps_dev = {};



/* Makes the driver derive exactly qps_port_for_hash(h) from the skb hash. */
static __always_inline void qps_steer(struct __sk_buff *skb, __u32 h)
{
	bpf_set_hash(skb, qps_skb_hash_for(h));
	/*
	 * A non-zero mark makes ip_tunnel_dst_cache_usable() skip the per-remote route cache, so
	 * the underlay route (and its ECMP leg) is looked up again with this outer port. An
	 * operator's own mark is left alone: it bypasses the cache just as well.
	 */
	if (!skb->mark)
		skb->mark = qps_dev.mark;
}

static __always_inline void qps_count_qp(__u32 vni, __u32 qpn, __u32 len, __u16 sport)
{
	struct qps_qp_key key = { .vni = vni, .qpn = qpn };
	struct qps_qp_stats *s = bpf_map_lookup_elem(&qp_stats, &key);

	if (s) {
		s->packets++;
		s->bytes += len;
		s->sport = sport;
		return;
	}
	{
		struct qps_qp_stats init = { .packets = 1, .bytes = len, .sport = sport };

		bpf_map_update_elem(&qp_stats, &key, &init, BPF_NOEXIST);
	}
}

SEC("tc")
int qps_vxlan_egress(struct __sk_buff *skb)
{
	struct qps_pkt pkt = qps_pkt_from_skb(skb, QPS_INNER_WINDOW);
	struct qps_roce_flow flow = {};
	enum qps_reason reason;
	__u32 vni = qps_dev.vni;
	__u16 sport = 0;

	reason = qps_parse_rocev2(pkt.data, pkt.data_end, &flow);
	if (reason != QPS_R_STEERED) {
		qps_count_reason(&reasons, reason, pkt.len);
		return TC_ACT_UNSPEC;
	}

	/* The mode is the instance's (a read-only global): the verifier drops the other modes' code. */
	if (qps_dev.vni_cfg.mode != QPS_MODE_OFF && qps_dev.port_count) {
		__u32 h = 0;

		if (qps_dev.vni_cfg.mode == QPS_MODE_BALANCE) {
			__u64 gap_ns = qps_gap_ns(qps_dev.vni_cfg.flowlet_gap_us, qps_dev.vni_cfg.coarse_res_ns);
			int held = 0;

			sport = qps_balance_port(vni, &flow, gap_ns, qps_dev.port_min, qps_dev.port_count, &h, &held);
			reason = held ? QPS_R_MOVE_HELD : QPS_R_BALANCED;
		} else {
			h = qps_qp_hash(flow.addr, flow.nwords, flow.dest_qp);
			sport = qps_port_for_hash(h, qps_dev.port_min, qps_dev.port_count);
		}
		qps_steer(skb, h);
	} else {
		reason = QPS_R_MODE_OFF;
	}

	qps_count_reason(&reasons, reason, pkt.len);
	if (qps_dev.count_qps)
		qps_count_qp(vni, flow.dest_qp, pkt.len, sport);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
