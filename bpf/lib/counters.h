/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The counters every program keeps: per reason (a per-CPU array indexed by enum qps_reason) and
 * per path (a per-CPU hash keyed by interface, VNI and remote VTEP). Per-CPU: no atomics needed.
 */
#ifndef QPS_BPF_COUNTERS_H
#define QPS_BPF_COUNTERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"

#define QPS_MAX_PATHS 4096

/* A per-CPU array of struct qps_reason_stats; its keys are enum qps_reason (plain integers, as
 * array keys must be). */
#define QPS_REASONS_MAP(name)                                   \
	struct {                                                \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);        \
		__uint(max_entries, QPS_R__MAX);                \
		__type(key, __u32);                             \
		__type(value, struct qps_reason_stats);         \
	} name SEC(".maps")

/* A per-CPU hash of struct qps_path_stats keyed by struct qps_path_key. */
#define QPS_PATHS_MAP(name)                                     \
	struct {                                                \
		__uint(type, BPF_MAP_TYPE_PERCPU_HASH);         \
		__uint(max_entries, QPS_MAX_PATHS);             \
		__type(key, struct qps_path_key);               \
		__type(value, struct qps_path_stats);           \
	} name SEC(".maps")

static __always_inline void qps_count_reason(void *reasons_map, __u32 reason, __u32 len)
{
	struct qps_reason_stats *s = bpf_map_lookup_elem(reasons_map, &reason);

	if (s) {
		s->packets++;
		s->bytes += len;
	}
}

/* One VXLAN frame on its path, RoCEv2 inside counted apart. */
static __always_inline void qps_count_path(void *paths_map, const struct qps_path_key *key, __u32 len, int roce,
					   int ce, int cnp)
{
	struct qps_path_stats *s = bpf_map_lookup_elem(paths_map, key);

	if (!s) {
		struct qps_path_stats init = {};

		bpf_map_update_elem(paths_map, key, &init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(paths_map, key);
		if (!s)
			return;
	}
	s->packets++;
	s->bytes += len;
	if (roce) {
		s->roce_packets++;
		s->roce_bytes += len;
	}
	s->ecn_ce += ce;
	s->cnp += cnp;
}

/*
 * Never called: a global function's prototype is how enum qps_reason reaches the object's BTF
 * (array map keys must be plain integers), where layout_test compares it with the C++ side.
 */
__attribute__((noinline)) int qps_btf_reason_anchor(enum qps_reason reason)
{
	return reason;
}

#endif /* QPS_BPF_COUNTERS_H */
