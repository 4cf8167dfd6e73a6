/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-VNI mode, written by `qpspread attach/mode` and read by the VTEP (vxlan_egress) and
 * transit (underlay_xdp) programs: one definition, one pin per namespace, shared by every instance.
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

/* True when the VNI's frames get the QP's outer source port. */
static __always_inline int qps_vni_qp_hash(__u32 vni)
{
	const struct qps_vni_cfg *vc = bpf_map_lookup_elem(&vni_mode, &vni);

	return vc && vc->mode == QPS_MODE_QP_HASH;
}

#endif /* QPS_BPF_VNI_MODE_H */
