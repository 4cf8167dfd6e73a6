/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Parsing of an underlay frame up to the VXLAN header: outer Ethernet (optional 802.1Q/802.1ad
 * tag), IPv4 or IPv6, UDP to the VXLAN port. Shared by the uplink, receive and transit programs.
 */
#ifndef QPS_BPF_PARSE_OUTER_H
#define QPS_BPF_PARSE_OUTER_H

#include "lib/parse_inner.h"

#define QPS_VXLAN_HLEN 8

/* What qps_parse_vxlan may read: Ethernet, one tag, IPv4 with options, UDP, VXLAN. */
#define QPS_OUTER_WINDOW (14 + 4 + 60 + 8 + QPS_VXLAN_HLEN)

struct qps_outer {
	__u8 src[16];  /* IPv4 as ::ffff:a.b.c.d */
	__u8 dst[16];
	__u32 vni;
	__u8 ecn;            /* the outer IP header's ECN field: 3 = CE */
	struct udphdr *udp;  /* the outer UDP header, for programs that rewrite it */
	void *inner;         /* the inner Ethernet frame */
};

static __always_inline void qps_v4_mapped(__u8 *out, __be32 addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &addr, 4);
}

/* QPS_PARSE_OK (a VXLAN frame, *o filled in), or why the frame is not one. */
static __always_inline enum qps_reason qps_parse_vxlan(void *data, void *data_end, __u16 vxlan_port,
						       struct qps_outer *o)
{
	struct ethhdr *eth = data;
	struct udphdr *udp;
	__u8 *vx;
	__u16 proto;
	void *l3;

	if (!QPS_FITS(eth, sizeof(*eth), data_end))
		return QPS_R_TRUNCATED;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct qps_vlan_hdr *vh = l3;

		if (!QPS_FITS(vh, sizeof(*vh), data_end))
			return QPS_R_TRUNCATED;
		proto = vh->encap_proto;
		l3 = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		__u32 ihl_len = 0;
		enum qps_reason r = qps_ipv4_header(ip, data_end, &ihl_len);

		if (r != QPS_PARSE_OK)
			return r;
		if (ip->protocol != IPPROTO_UDP)
			return QPS_R_NOT_VXLAN;
		qps_v4_mapped(o->src, ip->saddr);
		qps_v4_mapped(o->dst, ip->daddr);
		o->ecn = ip->tos & 3;
		udp = l3 + ihl_len;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if (!QPS_FITS(ip6, sizeof(*ip6), data_end))
			return QPS_R_TRUNCATED;
		if (ip6->nexthdr != IPPROTO_UDP)
			return QPS_R_NOT_VXLAN;
		__builtin_memcpy(o->src, &ip6->saddr, 16);
		__builtin_memcpy(o->dst, &ip6->daddr, 16);
		o->ecn = (ip6->flow_lbl[0] >> 4) & 3;  /* traffic class: priority (4 bits) then flow_lbl[0]'s top 4 */
		udp = (void *)(ip6 + 1);
	} else {
		return QPS_R_NOT_IP;
	}
	if (!QPS_FITS(udp, sizeof(*udp), data_end))
		return QPS_R_TRUNCATED;
	if (udp->dest != bpf_htons(vxlan_port))
		return QPS_R_NOT_VXLAN;
	vx = (void *)(udp + 1);
	if (!QPS_FITS(vx, QPS_VXLAN_HLEN, data_end))
		return QPS_R_TRUNCATED;
	o->vni = ((__u32)vx[4] << 16) | ((__u32)vx[5] << 8) | vx[6];
	o->udp = udp;
	o->inner = vx + QPS_VXLAN_HLEN;
	return QPS_PARSE_OK;
}

#endif /* QPS_BPF_PARSE_OUTER_H */
