/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The baseline of the benchmark: a tc program that does nothing, timed by the same harness. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int qps_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
