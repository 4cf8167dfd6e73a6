/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of everything the BPF programs and the C++ side share: map keys and values,
 * modes, skip reasons, limits. Fixed-width types and explicit padding only; layout_test compares
 * these with the BTF of the compiled object.
 */
#ifndef QPSPREAD_ABI_H
#define QPSPREAD_ABI_H

#include <linux/types.h>

#define QPS_ROCEV2_UDP_PORT 4791
#define QPS_BTH_LEN 12

/* Map sizes. qp_stats is an LRU: past this many (VNI, QP) pairs the least recently seen is evicted. */
#define QPS_MAX_DEVS 1024 /* attachments */
#define QPS_MAX_VNIS 16384
#define QPS_MAX_QPS 131072

/*
 * Mode balance's default flowlet gap: a QP moves to a new path only after this long without a frame.
 * It must exceed the largest difference between two paths' one-way delays, or frames on the new
 * path overtake those still on the old one. In the lab that is the WAN relay's queue, up to 50 ms
 * at its rate limit (the links' delays being equal); a data-center fabric needs far less.
 */
#define QPS_DEFAULT_FLOWLET_GAP_US 50000

/* Default skb mark set on steered packets so the VXLAN route cache (dst_cache) is bypassed. */
#define QPS_DEFAULT_MARK 0x5150

/* tc filter identity on the VXLAN device's clsact egress hook; containerlab uses 42420. */
#define QPS_TC_HANDLE 0x5150
#define QPS_TC_PRIORITY 0x5150

enum qps_mode {
	QPS_MODE_OFF = 0,
	QPS_MODE_QP_HASH = 1,
	QPS_MODE_BALANCE = 2, /* the QP's assigned port (qp_assign; else its qp-hash port), moved after an idle gap */
	QPS_MODE__MAX,
};

/*
 * Why a packet was (or was not) steered. X-macro so the enum and the names users see come from one
 * list. Every packet the tc program sees is counted under exactly one reason.
 */
#define QPS_REASONS(X)                                                                            \
	X(STEERED, "steered")             /* RoCEv2, mode qp-hash: outer port chosen, mark set */ \
	X(MODE_OFF, "mode_off")           /* RoCEv2, but the VNI's mode is off */                 \
	X(NOT_IP, "not_ip")               /* ARP, LLDP, ... */                                     \
	X(NOT_UDP, "not_udp")             /* TCP, ICMP, ... */                                     \
	X(NOT_ROCE, "not_roce")           /* UDP, but not to port 4791 */                          \
	X(FRAGMENT, "fragment")           /* IPv4/IPv6 fragment: no UDP header to trust */         \
	X(TRUNCATED, "truncated")         /* a header (Ethernet, VLAN, IP, UDP, BTH) cut short */   \
	X(IPV6_EXT, "ipv6_ext_header")    /* IPv6 extension header not walked */                   \
	X(BAD_IP_HEADER, "bad_ip_header") /* IPv4 IHL < 5 */                                        \
	X(VLAN_DEPTH, "vlan_depth")       /* more than two VLAN tags */                           \
	X(NOT_VXLAN, "not_vxlan")         /* uplink: not UDP to the VXLAN port */                  \
	X(RECEIVED, "received")           /* XDP rx: RoCEv2 in VXLAN, counted per path and QP */   \
	X(PORT_KEPT, "port_kept")         /* XDP transit, qp-hash: the port was already the QP's */     \
	X(BALANCED, "balanced")           /* RoCEv2, mode balance: the QP's port (assigned or its hash) */ \
	X(MOVE_HELD, "move_held")         /* mode balance: a new port waits for the QP's idle gap */

enum qps_reason {
#define QPS_REASON_ENUM(name, str) QPS_R_##name,
	QPS_REASONS(QPS_REASON_ENUM)
#undef QPS_REASON_ENUM
	QPS_R__MAX,
};

/*
 * vni_mode: key is the VNI. A missing entry means off. The transit program reads it per frame; the
 * VTEP program gets its VNI's entry in its read-only config (qps_dev_cfg.vni_cfg).
 */
struct qps_vni_cfg {
	enum qps_mode mode;    /* typed so that the enum reaches the objects' BTF */
	__u32 flowlet_gap_us;  /* balance: a QP moves to a new port only after this long without a frame */
	/*
	 * Set by the loader, not a setting: the resolution of the coarse clock the datapath times the
	 * gap with (bpf_ktime_get_coarse_ns: a tick; clock_getres(CLOCK_MONOTONIC_COARSE)). Two
	 * readings may be up to one tick off from the real interval, so a QP moves only after its
	 * coarse idle time reached the gap plus this: never before the real gap.
	 */
	__u32 coarse_res_ns;
};

/*
 * One VXLAN device's config, a read-only global of the program instance attached to it (set by
 * the loader before load, so the datapath needs no lookup for it).
 */
struct qps_dev_cfg {
	__u32 vni;
	__u32 mark;       /* skb mark for steered packets; never 0 */
	__u16 port_min;   /* the device's source-port range as the kernel computes it: */
	__u16 port_count; /* ports port_min .. port_min + port_count - 1 */
	/*
	 * 1: the instance counts the QPs it sees (qp_stats). 0: the namespace's uplink programs count
	 * them (qp_paths), so a frame costs one per-QP update, not two.
	 */
	__u8 count_qps;
	__u8 _pad[3];
	/*
	 * The VNI's mode when the instance was loaded (its vni_mode entry, or off). The VTEP program
	 * reads it here, not from vni_mode: no lookup per frame, and the verifier drops the other
	 * modes' code. `qpspread mode` replaces the VNI's instances (tc replace is atomic).
	 */
	struct qps_vni_cfg vni_cfg;
};

/*
 * Mode balance. qp_assign (hash, key qps_qp_key): the outer source port userspace chose for a QP
 * (the balance controller, `qpspread assign`); a QP without one keeps its qp-hash port.
 * qp_assign_gen (array of one __u64): incremented by userspace after every change of qp_assign, so
 * the datapath looks a QP's assignment up only when it may have changed. qp_flowlet (LRU hash
 * shared by all CPUs, key qps_qp_key): the port the QP leaves with now and when its last frame
 * left; a changed assignment is taken once the QP has been idle for the VNI's gap, so frames on the
 * new path cannot overtake those still on the old one.
 */
struct qps_qp_assign {
	__u16 sport;
	__u16 _pad[3];
};

struct qps_qp_flowlet {
	__u64 last_ns; /* bpf_ktime_get_ns() of the QP's last frame */
	__u64 moves;   /* times the QP took a new port */
	__u16 sport;   /* the port it leaves with now */
	__u16 want;    /* the port it should leave with: its assigned one, else its qp-hash port */
	__u32 gen;     /* the qp_assign_gen `want` was read at (its low 32 bits) */
	__u32 hash;    /* the flow hash that makes the VXLAN driver send `sport` (qps_hash_for_port) */
	__u32 _pad;
};

/* qp_stats: per-CPU LRU hash. */
struct qps_qp_key {
	__u32 vni;
	__u32 qpn; /* 24-bit destination QP */
};

struct qps_qp_stats {
	__u64 packets;
	__u64 bytes;
	__u16 sport;  /* outer UDP source port last chosen for this QP (0: never steered) */
	__u16 _pad[3];
};

/* reasons: per-CPU array indexed by enum qps_reason. */
struct qps_reason_stats {
	__u64 packets;
	__u64 bytes;
};

/*
 * How a record's tc programs sit on their hooks: a filter (QPS_TC_HANDLE, QPS_TC_PRIORITY) on a
 * clsact qdisc, or a program of the device's tcx chain (Linux 6.6+, first in it, named qps_*).
 */
enum qps_tc_api {
	QPS_TC_CLSACT = 0,
	QPS_TC_TCX = 1,
};

enum qps_attach_kind {
	QPS_ATTACH_VXLAN = 0,  /* vxlan_egress on a VXLAN device */
	QPS_ATTACH_UPLINK = 1, /* uplink_egress (tc egress) and underlay_xdp's rx (XDP, or tc ingress) on an uplink */
	QPS_ATTACH_TRANSIT = 2, /* underlay_xdp (transit rewrite) on an interface VXLAN arrives by */
};

/* underlay_xdp roles, combined in qps_xdp_cfg.roles. */
enum qps_xdp_role {
	QPS_XDP_RX = 1,      /* count received VXLAN per path, track each QP's PSNs */
	QPS_XDP_TRANSIT = 2, /* rewrite the outer UDP source port from the inner destination QP */
};

/* Read-only config of an underlay_xdp instance. */
struct qps_xdp_cfg {
	__u16 vxlan_port; /* outer UDP destination port, normally 4789 */
	__u16 port_min;   /* transit: the source-port range the VTEPs use, as in qps_dev_cfg */
	__u16 port_count;
	__u8 roles;       /* enum qps_xdp_role bits */
	__u8 _pad;
};

/*
 * attachments: key is ifindex. Userspace-only bookkeeping kept in a pinned map so a later process
 * (detach, status) knows exactly what attach added.
 */
struct qps_attachment {
	__u32 ifindex;
	__u32 vni;
	__u32 prog_id;
	__u32 handle;
	__u32 priority;
	__u8 created_qdisc; /* 1: attach created the clsact qdisc, detach may remove it */
	__u8 kind;          /* enum qps_attach_kind */
	__u8 tc_api;        /* enum qps_tc_api: how its tc programs are attached (0 before tcx existed) */
	__u8 _pad;
	char ifname[16];
	struct qps_dev_cfg cfg; /* what the attached program instance was loaded with */
	__u32 xdp_prog_id;      /* underlay_xdp attached by qpspread (0: none) */
	__u32 xdp_flags;        /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE, as attached */
	struct qps_xdp_cfg xdp; /* what the XDP instance (or the rx tc instance) was loaded with */
	__u32 rx_prog_id;       /* uplink: underlay_xdp's rx as a tc ingress program, a veth's (0: none) */
};

/*
 * Underlay (uplink) programs. A path is (interface, VNI, remote VTEP); addresses are 16 bytes,
 * IPv4 as an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
 */
#define QPS_VNI_OTHER 0xffffffffu /* path key of an interface's frames that are not VXLAN (ARP, BGP, BFD) */
/*
 * The VNI of mode balance's path probes: VXLAN frames a controller sends between two VTEPs with
 * chosen outer source ports (a RoCEv2 header inside, its QPN naming the probe) so that the uplink
 * programs of the routers on the way record which link each port takes. No VTEP has this VNI, so
 * the receiving one drops them.
 */
#define QPS_PROBE_VNI 0xffffffu

struct qps_path_key {
	__u32 ifindex;
	__u32 vni;        /* or QPS_VNI_OTHER, remote all zeros */
	__u8 remote[16];
};

struct qps_path_stats {
	__u64 packets;       /* every VXLAN frame of the path */
	__u64 bytes;
	__u64 roce_packets;  /* ... of which RoCEv2 inside */
	__u64 roce_bytes;
	__u64 ecn_ce;        /* received (rx): VXLAN frames whose outer header says CE */
	__u64 cnp;           /* received (rx): RoCEv2 CNPs (BTH opcode 0x81) inside */
};

/*
 * Where a QP's frames leave: the uplink, outer source port and remote VTEP (the outer destination)
 * last used, and how often its uplink changed.
 */
struct qps_qp_path {
	__u32 ifindex;
	__u16 sport;
	__u16 _pad;
	__u64 moves;
	__u8 remote[16];
	__u64 packets; /* the QP's frames that left by the uplinks */
	__u64 bytes;   /* their inner frames' bytes, as a VTEP program counts them */
};

/* Read-only config of the uplink program instance. */
struct qps_uplink_cfg {
	__u16 vxlan_port; /* outer UDP destination port, normally 4789 */
	__u16 _pad[3];
};

/*
 * qp_rx: what the receive program saw of a QP (LRU hash shared by all CPUs, key qps_qp_key; past
 * QPS_MAX_QPS QPs the least recently seen is evicted and starts afresh when it comes back).
 * PSNs are 24 bits: a PSN up to 2^23 - 1 ahead of next_psn is a gap (frames missing or still on
 * their way), one behind it is reordered (a late frame or a retransmission).
 */
struct qps_qp_rx {
	__u64 packets;
	__u64 bytes;
	__u64 reordered; /* frames whose PSN was lower than expected */
	__u64 gaps;      /* times the PSN jumped ahead of the expected one */
	__u64 ecn_ce;    /* frames whose outer header said CE */
	__u64 cnp;       /* CNPs to this QP */
	__u32 next_psn;  /* the PSN expected next */
	__u32 ifindex;   /* the interface it last arrived by */
};

/*
 * fib_probe: one question to the kernel's FIB, asked through BPF_PROG_TEST_RUN. The test frame's
 * bytes are this struct; the program writes rc and oif into them. Addresses in network order
 * (IPv4 in src[0]/dst[0]), ports in network order.
 */
struct qps_fib_query {
	__u8 family;   /* AF_INET or AF_INET6 */
	__u8 _pad;
	__be16 sport;  /* the outer UDP source port asked about */
	__be16 dport;  /* the VXLAN port, 4789 */
	__u16 _pad2;
	__u32 iif;     /* the lookup's input interface: 1 (lo), as for the host's own packets */
	__u32 src[4];  /* the VTEP's own (local) address */
	__u32 dst[4];  /* the remote VTEP */
	__s32 rc;      /* out: BPF_FIB_LKUP_RET_*, or a negative errno */
	__u32 oif;     /* out: the interface the kernel would send by */
};

#endif /* QPSPREAD_ABI_H */
