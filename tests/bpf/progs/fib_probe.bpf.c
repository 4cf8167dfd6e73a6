/* SPDX-License-Identifier: GPL-2.0 */
/* Test-only: asks the kernel which next hop it picks for given flow fields (bpf_fib_lookup), run
 * with BPF_PROG_TEST_RUN from a thread inside the router's namespace. The helper builds a flow
 * (fl4) and calls fib_select_path() without a skb, as a VTEP's own VXLAN output lookup does; a
 * forwarded packet is hashed from the skb instead, which differs under hash policy 3. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* Set by the test before each run (network byte order for addresses and ports). */
__u32 q_ifindex;
__u32 q_src, q_dst;
__u16 q_sport, q_dport;
__u8 q_proto;
/* Read by the test after the run. */
int r_ret;
__u32 r_ifindex;

SEC("tc")
int fib_probe(struct __sk_buff *skb)
{
	struct bpf_fib_lookup p = {};

	p.family = 2; /* AF_INET */
	p.l4_protocol = q_proto;
	p.sport = q_sport;
	p.dport = q_dport;
	p.ipv4_src = q_src;
	p.ipv4_dst = q_dst;
	p.ifindex = q_ifindex;
	/* Not BPF_FIB_LOOKUP_OUTPUT: it sets the flow's oif, and fib_select_path() then skips the
	 * multipath hash. SKIP_NEIGH: the answer must not depend on a resolved neighbour. */
	r_ret = bpf_fib_lookup(skb, &p, sizeof(p), BPF_FIB_LOOKUP_SKIP_NEIGH);
	r_ifindex = p.ifindex;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
