/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Incremental Internet checksum update for XDP, which has no bpf_l4_csum_replace. RFC 1624
 * eqn. 3: HC' = ~(~HC + ~m + m'), in one's complement arithmetic over 16-bit words. Every value is
 * in network byte order: one's complement sums are byte-order independent.
 */
#ifndef QPS_BPF_CSUM_H
#define QPS_BPF_CSUM_H

#include <linux/types.h>

static __always_inline __u16 qps_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/*
 * A UDP checksum after one 16-bit word changed from old to new. The result 0 means "no checksum"
 * in UDP, so a computed 0 is sent as 0xffff (RFC 768), which is the same value in one's complement.
 */
static __always_inline __u16 qps_udp_csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u16 res = ~qps_csum_fold((__u32)(__u16)~check + (__u16)~old + new);

	return res ? res : 0xffff;
}

#endif /* QPS_BPF_CSUM_H */
