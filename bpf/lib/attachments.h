/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * attachments: userspace-only bookkeeping (what attach added, per ifindex) kept in a pinned map so
 * that later commands know it. Defined in every object (as is vni_mode), so whichever program a namespace gets
 * first creates it; the datapath never reads it.
 */
#ifndef QPS_BPF_ATTACHMENTS_H
#define QPS_BPF_ATTACHMENTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QPS_MAX_DEVS);
	__type(key, __u32); /* ifindex */
	__type(value, struct qps_attachment);
} attachments SEC(".maps");

#endif /* QPS_BPF_ATTACHMENTS_H */
