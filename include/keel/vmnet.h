/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmnet: records and map layouts shared by bpf/vmnet.bpf.c and keeld's
 * agent/vmnet/.  Only fixed-width fields, explicit padding.  Include after
 * vmlinux.h (BPF) or <linux/types.h> (user space).  The record type,
 * KEEL_EV_VMNET, is in keel/records.h with every other.
 */
#ifndef KEEL_VMNET_H
#define KEEL_VMNET_H

#include "keel/records.h"

#define KEEL_VMNET_ETH_P_RARP 0x8035

/* What a VM port or the uplink saw: the kind of a struct keel_vmnet_record. */
enum keel_vmnet_kind {
	KEEL_VMNET_RARP = 1,	  /* RARP on a VM port: QEMU announces a NIC */
	KEEL_VMNET_GARP = 2,	  /* gratuitous ARP on a VM port (IP and MAC) */
	KEEL_VMNET_ARP = 3,	  /* ARP sent by a VM: sender MAC and IP */
	KEEL_VMNET_DHCP = 4,	  /* DHCPACK sent to a VM: chaddr and yiaddr */
	KEEL_VMNET_IPSRC = 5,	  /* an IP source address sent by a VM */
	KEEL_VMNET_ELSEWHERE = 6, /* RARP or GARP on the uplink: the MAC is on another host */
	KEEL_VMNET_NA = 7,	  /* IPv6 neighbour advertisement sent by a VM: its target */
};

/* One observation, from the vmnet_events ring buffer. */
struct keel_vmnet_record {
	struct keel_event_hdr hdr; /* type KEEL_EV_VMNET */
	__u32 kind;		   /* enum keel_vmnet_kind */
	__u32 ifindex;		   /* where the frame was seen */
	__u8 mac[6];		   /* the VM NIC's MAC */
	__u16 flags;		   /* 0 today */
	__u8 ip[16];		   /* IPv6, or IPv4-mapped (::ffff:a.b.c.d); zero: none */
};

/* Key of vmnet_whitelist and vmnet_denied: an IPv6 or IPv4-mapped address. */
struct keel_vmnet_ip {
	__u8 addr[16];
};

#define KEEL_VMNET_WL_VM   1 /* a VM's IP: keeld adds and removes it */
#define KEEL_VMNET_WL_HOST 2 /* an address of this host: always allowed */

/* Value of vmnet_whitelist: counters are updated by BPF, the rest by keeld. */
struct keel_vmnet_wl {
	__u64 flags;	  /* KEEL_VMNET_WL_* */
	__u64 trigger_ns; /* boot time of the frame that triggered the add, 0: none */
	__u64 added_ns;	  /* boot time keeld wrote the entry */
	__u64 rx_packets; /* uplink ingress, to this IP */
	__u64 rx_bytes;
	__u64 tx_packets; /* uplink egress, from this IP */
	__u64 tx_bytes;
};

/* Value of vmnet_denied (LRU): traffic dropped at the uplink, per IP. */
struct keel_vmnet_denied {
	__u64 rx_packets;
	__u64 tx_packets;
	__u64 last_ns;
};

/* Per-CPU counters, in the vmnet_counters array, index 0. */
struct keel_vmnet_counters {
	__u64 port_frames; /* frames seen on VM ports */
	__u64 records;	   /* records sent to keeld */
	__u64 dropped;	   /* ring buffer full: record lost, counted */
	__u64 uplink_passed;
	__u64 uplink_denied;
	__u64 uplink_other; /* neither IPv4, IPv6, ARP nor RARP: passed */
};

/* Key of vmnet_seen (LRU): suppresses repeated learning records. */
struct keel_vmnet_seen_key {
	__u32 ifindex;
	__u32 kind;
	__u8 mac[6];
	__u8 pad[2];
	__u8 ip[16];
};

#endif /* KEEL_VMNET_H */
