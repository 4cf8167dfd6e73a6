/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-CPU counters: one per skip/steer reason, one per (VNI, QP). No atomics needed per CPU. */
#ifndef QPS_BPF_COUNTERS_H
#define QPS_BPF_COUNTERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QPS_R__MAX);
	__type(key, __u32);
	__type(value, struct qps_reason_stats);
} reasons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, QPS_MAX_QPS);
	__type(key, struct qps_qp_key);
	__type(value, struct qps_qp_stats);
} qp_stats SEC(".maps");

static __always_inline void qps_count_reason(__u32 reason, __u32 len)
{
	struct qps_reason_stats *s = bpf_map_lookup_elem(&reasons, &reason);

	if (s) {
		s->packets++;
		s->bytes += len;
	}
}

static __always_inline void qps_count_qp(__u32 vni, __u32 qpn, __u32 len, __u16 sport)
{
	struct qps_qp_key key = { .vni = vni, .qpn = qpn };
	struct qps_qp_stats *s = bpf_map_lookup_elem(&qp_stats, &key);

	if (s) {
		s->packets++;
		s->bytes += len;
		s->sport = sport;
		return;
	}
	{
		struct qps_qp_stats init = { .packets = 1, .bytes = len, .sport = sport };

		bpf_map_update_elem(&qp_stats, &key, &init, BPF_NOEXIST);
	}
}

#endif /* QPS_BPF_COUNTERS_H */
