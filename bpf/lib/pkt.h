/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The frame a program parses, taken from its context once: tc and XDP programs then hand the
 * same [data, data_end) to the parsers. The one place that makes a tc frame's headers linear.
 */
#ifndef QPS_BPF_PKT_H
#define QPS_BPF_PKT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct qps_pkt {
	void *data;     /* the frame's first byte */
	void *data_end; /* the end of what direct packet access may read */
	__u32 len;      /* the whole frame, non-linear parts and XDP fragments included */
};

/*
 * tc: the first `window` bytes (all of a shorter frame) are made linear, so the parsers can read
 * every header they look at. Only when they are not already: bpf_skb_pull_data also makes the
 * head writable, which copies a cloned skb. The bytes stay the same. The pull invalidates packet
 * pointers, so they are read after it.
 */
static __always_inline struct qps_pkt qps_pkt_from_skb(struct __sk_buff *skb, __u32 window)
{
	__u32 want = skb->len < window ? skb->len : window;
	struct qps_pkt p;

	if ((void *)(long)skb->data + want > (void *)(long)skb->data_end)
		bpf_skb_pull_data(skb, want);
	p.data = (void *)(long)skb->data;
	p.data_end = (void *)(long)skb->data_end;
	p.len = skb->len;
	return p;
}

/*
 * XDP: nothing to pull; in a multi-buffer frame (xdp.frags) the headers are in the first buffer,
 * which is what data..data_end covers.
 */
static __always_inline struct qps_pkt qps_pkt_from_xdp(struct xdp_md *ctx)
{
	struct qps_pkt p;

	p.data = (void *)(long)ctx->data;
	p.data_end = (void *)(long)ctx->data_end;
	p.len = bpf_xdp_get_buff_len(ctx);
	return p;
}

#endif /* QPS_BPF_PKT_H */
