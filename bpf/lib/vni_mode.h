/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-VNI mode, written by `qpspread attach/mode` and read by the transit program (underlay_xdp)
 * per frame; the loader gives a VTEP instance (vxlan_egress) its VNI's entry in its read-only
 * config. One definition, one pin per namespace, shared by every instance.
 */
#ifndef QPS_BPF_VNI_MODE_H
#define QPS_BPF_VNI_MODE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "qpspread/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QPS_MAX_VNIS);
	__type(key, __u32); /* VNI; a missing entry means off */
	__type(value, struct qps_vni_cfg);
} vni_mode SEC(".maps");

/* The VNI's config; NULL when it has none (mode off). */
static __always_inline const struct qps_vni_cfg *qps_vni(__u32 vni)
{
	return bpf_map_lookup_elem(&vni_mode, &vni);
}

#endif /* QPS_BPF_VNI_MODE_H */
