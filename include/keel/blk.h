/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Layouts shared by bpf/blk.bpf.c and the blk subsystem (agent/blk/).
 *
 * Include after vmlinux.h (BPF) or <linux/types.h> (user space), and after
 * keel/records.h (included here).  Only fixed-width fields and explicit padding.
 */
#ifndef KEEL_BLK_H
#define KEEL_BLK_H

#include "keel/records.h"

/* The kernel's internal dev_t encoding, as in struct gendisk. */
#define KEEL_BLK_MINORBITS     20
#define KEEL_BLK_MKDEV(ma, mi) (((__u32)(ma) << KEEL_BLK_MINORBITS) | (__u32)(mi))
#define KEEL_BLK_MAJOR(dev)    ((__u32)(dev) >> KEEL_BLK_MINORBITS)
#define KEEL_BLK_MINOR(dev)    ((__u32)(dev) & ((1u << KEEL_BLK_MINORBITS) - 1))

/* Cgroups the in-kernel filter can hold (blk_cgroups, a cgroup array). */
#define KEEL_BLK_MAX_CGROUPS 8
/* Devices the in-kernel filter can hold (blk_devices, a hash). */
#define KEEL_BLK_MAX_FILTER_DEVS 256
/* Reads in flight tracked for their latency (blk_inflight: a lock-free slot array, a hash for overflow). */
#define KEEL_BLK_MAX_INFLIGHT 16384

/* keel_blk_read.flags */
#define KEEL_BLK_F_ERROR      (1u << 0) /* completed with an error status */
#define KEEL_BLK_F_NO_LATENCY (1u << 1) /* not tracked in flight: latency 0 */

/*
 * One read request, sent when it completes (or at issue when it could not
 * be tracked in flight).  hdr.time_ns is the completion time.
 */
struct keel_blk_read {
	struct keel_event_hdr hdr; /* type KEEL_EV_BLK_READ */
	__u32 dev;		   /* whole disk, KEEL_BLK_MKDEV encoding */
	__u32 len;		   /* bytes */
	__u64 sector;		   /* first 512-byte sector on the whole disk */
	__u64 latency_ns;	   /* issue to completion */
	__u64 cgroup_id;	   /* cgroup v2 id of the issuing task */
	__u32 pid;		   /* thread group id of the issuing task */
	__u32 flags;		   /* KEEL_BLK_F_* */
};

/* Per-CPU counters of blk.bpf.c, in the "blk_counters" array, index 0. */
struct keel_blk_counters {
	__u64 reads; /* read requests issued (after the filters) */
	__u64 read_sectors;
	__u64 writes; /* write requests issued (after the filters) */
	__u64 write_sectors;
	__u64 sent;	 /* read records put in the ring buffer */
	__u64 dropped;	 /* ring buffer full: read record lost, counted */
	__u64 filtered;	 /* requests skipped by the device/cgroup filters */
	__u64 untracked; /* in-flight table full: sent without latency */
	__u64 missed;	 /* keeld fills it: programs' recursion_misses */
};

#endif /* KEEL_BLK_H */
