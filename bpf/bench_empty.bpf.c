/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The baselines of the benchmark: a tc and an XDP program that do nothing, timed by the same harness. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int qps_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

SEC("xdp.frags") /* as underlay_xdp: accepted on veths with MTUs above a page */
int qps_empty_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
