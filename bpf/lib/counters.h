/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Counting into a per-CPU array of struct qps_reason_stats indexed by reason: no atomics needed. */
#ifndef QPS_BPF_COUNTERS_H
#define QPS_BPF_COUNTERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"

static __always_inline void qps_count_reason(void *reasons_map, __u32 reason, __u32 len)
{
	struct qps_reason_stats *s = bpf_map_lookup_elem(reasons_map, &reason);

	if (s) {
		s->packets++;
		s->bytes += len;
	}
}

#endif /* QPS_BPF_COUNTERS_H */
