/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The QP hash and the outer-source-port mapping, compiled into both the BPF programs and the C++
 * side so the port a test or `stats` predicts is, by construction, the one the datapath chooses.
 *
 * Hash: MurmurHash3's 32-bit block mix and finalizer (fmix32) over the inner source address, inner
 * destination address and the 24-bit destination QP. Chosen because its finalizer has full
 * avalanche: QPNs are allocated sequentially, so neighbouring QPNs must land on unrelated ports, and
 * the result must not depend on the inner UDP source port (which many NICs keep fixed).
 */
#ifndef QPSPREAD_FLOW_HASH_H
#define QPSPREAD_FLOW_HASH_H

#include <linux/types.h>

#ifdef __cplusplus
#define QPS_INLINE static inline
#else
#define QPS_INLINE static __always_inline
#endif

#define QPS_HASH_SEED 0x71707370u /* "qpsp" */

QPS_INLINE __u32 qps_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

QPS_INLINE __u32 qps_murmur_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = qps_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = qps_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

QPS_INLINE __u32 qps_fmix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/*
 * addr_words: the inner source then destination address as 32-bit words in network byte order as
 * loaded from the packet (1+1 for IPv4, 4+4 for IPv6). nwords is 2 or 8.
 */
QPS_INLINE __u32 qps_qp_hash(const __u32 *addr_words, int nwords, __u32 qpn)
{
	__u32 h = QPS_HASH_SEED;
	int i;

	for (i = 0; i < 8; i++) {
		if (i >= nwords)
			break;
		h = qps_murmur_mix(h, addr_words[i]);
	}
	h = qps_murmur_mix(h, qpn & 0xffffffu);
	h ^= (__u32)(nwords * 4 + 4);
	return qps_fmix32(h);
}

/* The port the hash chooses: an even (multiply-shift) reduction into [port_min, port_min + count). */
QPS_INLINE __u16 qps_port_for_hash(__u32 hash, __u16 port_min, __u16 port_count)
{
	return (__u16)(port_min + (__u16)(((__u64)hash * port_count) >> 32));
}

/*
 * A hash that qps_port_for_hash maps to `port`, for a port in [port_min, port_min + port_count):
 * the smallest h with (h * count) >> 32 == port - min, ceil((port - min) 2^32 / count). Mode
 * balance steers a QP to a chosen port with it.
 */
QPS_INLINE __u32 qps_hash_for_port(__u16 port, __u16 port_min, __u16 port_count)
{
	__u64 k = (__u16)(port - port_min);

	return (__u32)(((k << 32) + port_count - 1) / port_count);
}

/*
 * The kernel's mapping from skb->hash to the VXLAN outer source port (include/net/udp.h,
 * udp_flow_src_port): mixed = h ^ (h << 16); port = min + ((u64)mixed * (max - min)) >> 32.
 * The maximum itself is never produced: ports are min .. max - 1, so port_count = max - min.
 * A zero hash makes the driver fall back to hashing the Ethernet addresses.
 */
QPS_INLINE __u16 qps_kernel_port_for_skb_hash(__u32 skb_hash, __u16 port_min, __u16 port_count)
{
	__u32 mixed = skb_hash ^ (skb_hash << 16);

	return (__u16)(port_min + (__u16)(((__u64)mixed * port_count) >> 32));
}

/*
 * The inverse of the kernel's mix: the skb hash h with h ^ (h << 16) == hash (the low 16 bits of h
 * are hash's, the high 16 are hash's high XOR low). With it the kernel's port is exactly
 * qps_port_for_hash(hash): both apply the same multiply-shift to the same value, no division
 * needed. A zero skb hash would make the driver hash the Ethernet addresses instead, so 0 becomes
 * 1, which maps to the same port for every range.
 */
QPS_INLINE __u32 qps_skb_hash_for(__u32 hash)
{
	__u32 lo, hi;

	if (!hash)
		hash = 1;
	lo = hash & 0xffffu;
	hi = (hash >> 16) ^ lo;
	return (hi << 16) | lo;
}

#endif /* QPSPREAD_FLOW_HASH_H */
