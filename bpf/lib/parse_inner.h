/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Parsing of an Ethernet frame up to the RoCEv2 BTH, with direct packet access. Shared by every
 * program that looks at an inner frame. Never writes to the packet.
 */
#ifndef QPS_BPF_PARSE_INNER_H
#define QPS_BPF_PARSE_INNER_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"

#define QPS_MAX_VLAN_TAGS 2
#define QPS_IP_MF 0x2000
#define QPS_IP_OFFSET 0x1fff

struct qps_roce_flow {
	__u32 addr[8];  /* inner source then destination address words, network order */
	__u32 nwords;   /* 2 (IPv4) or 8 (IPv6) */
	__u32 dest_qp;  /* 24 bits */
	__u32 psn;      /* 24 bits */
	__u8 opcode;
};

struct qps_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* What qps_parse_rocev2 may read: Ethernet, two VLAN tags, IPv4 with options (longer than IPv6's
 * 40 bytes), UDP, BTH. */
#define QPS_INNER_WINDOW (14 + 8 + 60 + 8 + QPS_BTH_LEN)

/* Bounds check of [p, p + len) against the end of the linear data. */
#define QPS_FITS(p, len, end) ((void *)(p) + (len) <= (void *)(end))

/* What the parsers return when the frame is what they look for (the value of QPS_R_STEERED). */
#define QPS_PARSE_OK QPS_R_STEERED

/* The IPv4 checks every parser makes: the header fits, IHL >= 5, not a fragment. */
static __always_inline enum qps_reason qps_ipv4_header(struct iphdr *ip, void *data_end, __u32 *ihl_len)
{
	if (!QPS_FITS(ip, sizeof(*ip), data_end))
		return QPS_R_TRUNCATED;
	*ihl_len = ip->ihl * 4;
	if (*ihl_len < sizeof(*ip))
		return QPS_R_BAD_IP_HEADER;
	if (ip->frag_off & bpf_htons(QPS_IP_MF | QPS_IP_OFFSET))
		return QPS_R_FRAGMENT;
	return QPS_PARSE_OK;
}

static __always_inline int qps_ipv6_ext_header(__u8 nexthdr)
{
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_MH:
	case 139: /* HIP */
	case 140: /* Shim6 */
		return 1;
	}
	return 0;
}

/*
 * Walks Ethernet, up to two VLAN tags, IPv4 or IPv6, UDP to port 4791 and the BTH. Returns
 * QPS_R_STEERED when *flow holds a RoCEv2 frame's flow, otherwise the reason it is not one.
 * `l3_len_out` is not needed by callers: lengths are checked against both the linear data and
 * the lengths the IP and UDP headers declare (Ethernet padding must not pass for a BTH).
 */
static __always_inline enum qps_reason qps_parse_rocev2(void *data, void *data_end,
							struct qps_roce_flow *flow)
{
	struct ethhdr *eth = data;
	struct udphdr *udp;
	__u16 proto;
	__u32 l4_room; /* bytes from the UDP header to the end of the IP payload */
	void *l3;
	int i;

	if (!QPS_FITS(eth, sizeof(*eth), data_end))
		return QPS_R_TRUNCATED;
	proto = eth->h_proto;
	l3 = eth + 1;

#pragma unroll
	for (i = 0; i < QPS_MAX_VLAN_TAGS; i++) {
		struct qps_vlan_hdr *vh = l3;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (!QPS_FITS(vh, sizeof(*vh), data_end))
			return QPS_R_TRUNCATED;
		proto = vh->encap_proto;
		l3 = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return QPS_R_VLAN_DEPTH;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		__u32 ihl_len = 0, tot_len;
		enum qps_reason r = qps_ipv4_header(ip, data_end, &ihl_len);

		if (r != QPS_PARSE_OK)
			return r;
		if (ip->protocol != IPPROTO_UDP)
			return QPS_R_NOT_UDP;
		tot_len = bpf_ntohs(ip->tot_len);
		if (tot_len < ihl_len)
			return QPS_R_BAD_IP_HEADER;
		l4_room = tot_len - ihl_len;
		udp = l3 + ihl_len;
		flow->addr[0] = ip->saddr;
		flow->addr[1] = ip->daddr;
		flow->nwords = 2;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if (!QPS_FITS(ip6, sizeof(*ip6), data_end))
			return QPS_R_TRUNCATED;
		if (ip6->nexthdr == IPPROTO_FRAGMENT)
			return QPS_R_FRAGMENT;
		if (qps_ipv6_ext_header(ip6->nexthdr))
			return QPS_R_IPV6_EXT;
		if (ip6->nexthdr != IPPROTO_UDP)
			return QPS_R_NOT_UDP;
		l4_room = bpf_ntohs(ip6->payload_len);
		udp = (void *)(ip6 + 1);
		__builtin_memcpy(flow->addr, &ip6->saddr, 16);
		__builtin_memcpy(&flow->addr[4], &ip6->daddr, 16);
		flow->nwords = 8;
	} else {
		return QPS_R_NOT_IP;
	}

	if (!QPS_FITS(udp, sizeof(*udp), data_end) || l4_room < sizeof(*udp))
		return QPS_R_TRUNCATED;
	if (udp->dest != bpf_htons(QPS_ROCEV2_UDP_PORT))
		return QPS_R_NOT_ROCE;
	if (l4_room < sizeof(*udp) + QPS_BTH_LEN ||
	    bpf_ntohs(udp->len) < sizeof(*udp) + QPS_BTH_LEN)
		return QPS_R_TRUNCATED;
	{
		__u8 *bth = (void *)(udp + 1);

		if (!QPS_FITS(bth, QPS_BTH_LEN, data_end))
			return QPS_R_TRUNCATED;
		flow->opcode = bth[0];
		flow->dest_qp = ((__u32)bth[5] << 16) | ((__u32)bth[6] << 8) | bth[7];
		flow->psn = ((__u32)bth[9] << 16) | ((__u32)bth[10] << 8) | bth[11];
	}
	return QPS_PARSE_OK;
}

#endif /* QPS_BPF_PARSE_INNER_H */
