/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The underlay interface the kernel picks for a VXLAN frame with a given outer header: userspace
 * runs this program with BPF_PROG_TEST_RUN in the VTEP's namespace, the test frame holding a
 * struct qps_fib_query, and reads the answer back from the frame. bpf_fib_lookup() without
 * BPF_FIB_LOOKUP_OUTPUT hashes the flow (addresses, UDP, ports) and calls fib_select_path() as
 * the VXLAN driver's own output lookup does, under every fib_multipath_hash_policy (policy 3
 * included, where `ip route get` from userspace hashes a built skb and may differ). Not modelled:
 * the skb mark (no field for it before Linux 6.10's headers), so fwmark policy rules on
 * qpspread's mark are not seen. GPL-only helper: dual licensed.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"

SEC("xdp")
int qps_fib_probe(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct qps_fib_query *q = data;
	struct bpf_fib_lookup p = {};

	if ((void *)(q + 1) > end)
		return XDP_PASS;
	p.family = q->family;
	p.l4_protocol = IPPROTO_UDP;
	p.sport = q->sport;
	p.dport = q->dport;
	p.ifindex = q->iif;
	if (q->family == 2 /* AF_INET */) {
		p.ipv4_src = q->src[0];
		p.ipv4_dst = q->dst[0];
	} else {
		__builtin_memcpy(p.ipv6_src, q->src, 16);
		__builtin_memcpy(p.ipv6_dst, q->dst, 16);
	}
	q->rc = bpf_fib_lookup(ctx, &p, sizeof(p), BPF_FIB_LOOKUP_SKIP_NEIGH);
	q->oif = p.ifindex;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
