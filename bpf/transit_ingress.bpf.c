/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tc ingress on a transit interface, right after underlay_xdp rewrote the outer source port. The
 * skb may already carry a flow hash computed over the original headers (a NIC's RSS hash, or on
 * veth the sending stack's own), and L4 multipath routing (fib_multipath_hash_policy 1) takes an
 * existing L4 hash as it is: the route lookup would pick the original path. Invalidating the hash
 * of VXLAN frames makes the lookup hash the headers as they are now. Reads only the headers;
 * always TC_ACT_UNSPEC.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"
#include "lib/attachments.h" /* not used here: every object defines attachments and vni_mode */
#include "lib/parse_outer.h"
#include "lib/pkt.h"
#include "lib/vni_mode.h"

const volatile struct qps_uplink_cfg qps_transit = { .vxlan_port = 4789 };

SEC("tc")
int qps_transit_ingress(struct __sk_buff *skb)
{
	struct qps_pkt pkt = qps_pkt_from_skb(skb, QPS_OUTER_WINDOW);
	struct qps_outer o = {};

	if (qps_parse_vxlan(pkt.data, pkt.data_end, qps_transit.vxlan_port, &o) == QPS_PARSE_OK)
		bpf_set_hash_invalid(skb);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
