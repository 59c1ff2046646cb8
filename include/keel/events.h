/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Records that keel's BPF programs send to keeld through ring buffers.
 *
 * Shared by the BPF side (the bpf/ programs, which includes vmlinux.h first) and
 * user space (which includes <linux/types.h> first).  Only fixed-width
 * fields, explicit padding: the layout must not depend on the compiler.
 * Every record starts with the same header so one handler can switch on
 * the type; docs/events.md documents the JSON that keeld makes of them.
 */
#ifndef KEEL_EVENTS_H
#define KEEL_EVENTS_H

enum keel_event_type {
	KEEL_EV_EXEC = 1,	/* a program is about to be executed */
};

struct keel_event_hdr {
	__u32 type;		/* enum keel_event_type */
	__u32 size;		/* bytes of the whole record, header included */
	__u64 time_ns;		/* bpf_ktime_get_boot_ns() */
};

#define KEEL_COMM_LEN 16
#define KEEL_PATH_LEN 256

struct keel_exec_event {
	struct keel_event_hdr hdr;
	__u32 pid;		/* thread group id of the caller */
	__u32 uid;
	__u64 cgroup_id;
	char comm[KEEL_COMM_LEN];	/* caller's name before the exec */
	char filename[KEEL_PATH_LEN];	/* as passed to execve, maybe relative */
};

/* Per-CPU counters of exec.bpf.c, in the "exec_counters" array, index 0. */
struct keel_exec_counters {
	__u64 execs;
	__u64 dropped;		/* ring buffer full: record lost, counted */
};

/* blk.bpf.c's records and counters are in keel/blk.h. */

#endif /* KEEL_EVENTS_H */
