/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Incremental Internet checksum update, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in one's
 * complement arithmetic over 16-bit words. Compiled into the XDP program (which has no
 * bpf_l4_csum_replace) and into the WAN relay (which marks ECN in IPv4 headers). Byte order does
 * not matter as long as all three values are in the same one: one's complement sums are byte-order
 * independent.
 */
#ifndef QPSPREAD_CSUM_H
#define QPSPREAD_CSUM_H

#include <linux/types.h>

#ifdef __cplusplus
#define QPS_CSUM_INLINE static inline
#else
#define QPS_CSUM_INLINE static __always_inline
#endif

QPS_CSUM_INLINE __u16 qps_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* A checksum after one 16-bit word changed from old_word to new_word. */
QPS_CSUM_INLINE __u16 qps_csum_replace16(__u16 check, __u16 old_word, __u16 new_word)
{
	return (__u16)~qps_csum_fold((__u32)(__u16)~check + (__u16)~old_word + new_word);
}

/*
 * The same for a UDP checksum, where 0 means "no checksum": a computed 0 is sent as 0xffff
 * (RFC 768), which is the same value in one's complement.
 */
QPS_CSUM_INLINE __u16 qps_udp_csum_replace16(__u16 check, __u16 old_word, __u16 new_word)
{
	__u16 res = qps_csum_replace16(check, old_word, new_word);

	return res ? res : 0xffff;
}

#endif /* QPSPREAD_CSUM_H */
