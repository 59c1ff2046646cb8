/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Maps and records shared by bpf/guard.bpf.c and agent/exec/guard.c: the
 * exec subsystem's self-protection (docs/exec.md, "Self-protection").
 *
 * keeld is recognised by the file it runs from, not by its pid: a keeld
 * started after a clean stop, or after a kill -9, must take over the
 * pinned objects, and a recycled pid must not inherit keeld's rights.
 * Same rules as records.h: fixed-width fields, explicit padding.
 */
#ifndef KEEL_GUARD_H
#define KEEL_GUARD_H

#include "keel/records.h"

/* An inode: keeld's executable, or a directory of keel's pins. */
struct keel_guard_inode {
	__u64 ino;
	__u32 dev; /* kernel dev_t of the superblock (s_dev) */
	__u32 gen; /* i_generation */
};

/* guard_conf[0]: written by keeld. */
struct keel_guard_conf {
	/*
	 * keeld's executable, and the one at the same path when keeld last
	 * stopped (an upgrade installed while keeld ran): either is keeld.
	 */
	struct keel_guard_inode exe[2];
	__u32 pin_dev; /* s_dev of the bpffs holding the pins: no umount */
	__u32 pad;
};

/* guard_ids: key.  The value is a __u8, 1. */
struct keel_guard_id {
	__u32 kind; /* enum keel_guard_kind */
	__u32 id;   /* the kernel's object id */
};

enum keel_guard_kind {
	KEEL_GUARD_MAP = 1,
	KEEL_GUARD_LINK = 2,
	KEEL_GUARD_PROG = 3,
};

/* What was attempted against keel. */
enum keel_guard_what {
	KEEL_GUARD_MAP_OPEN_WRITE = 1, /* a writable fd of a keel map (by id or pin) */
	KEEL_GUARD_MAP_UPDATE = 2,     /* update, delete, batch, freeze through an fd */
	KEEL_GUARD_LINK_CHANGE = 3,    /* BPF_LINK_DETACH, BPF_LINK_UPDATE */
	KEEL_GUARD_PIN_UNLINK = 4,
	KEEL_GUARD_PIN_RENAME = 5,
	KEEL_GUARD_PIN_SETATTR = 6, /* chmod, chown of a pin or of the pin directory */
	KEEL_GUARD_PIN_RMDIR = 7,
	KEEL_GUARD_UMOUNT = 8,	 /* the bpffs holding the pins */
	KEEL_GUARD_PTRACE = 9,	 /* attach, /proc/PID/mem, process_vm_*, pidfd_getfd */
	KEEL_GUARD_TRACEME = 10, /* keeld asking to be traced */
	KEEL_GUARD_MAP_OPEN_READ =
		11, /* a read-only fd of a keel map: a program could write through it */
	KEEL_GUARD_PROG_MAP = 12,    /* an fd of a program, not keel's, that uses a keel map */
	KEEL_GUARD_TRACED_EXEC = 13, /* exec of keeld's executable by a traced process */
	KEEL_GUARD_PROG_ATTACH = 14, /* fentry/fexit/freplace on keel's program, or a link to it */
};

/* Per-CPU counters in "guard_stats", index 0. */
struct keel_guard_stats {
	__u64 denied;
	__u64 audited;
	__u64 dropped;
};

struct keel_guard_event {
	struct keel_event_hdr hdr;
	__u32 pid;
	__u32 uid;
	__u32 what;	 /* enum keel_guard_what */
	__u32 mode;	 /* enum keel_exec_mode at the time */
	__u32 denied;	 /* 1: refused with EPERM (enforce) */
	__u32 target_id; /* map, link or program id, keeld's pid; 0 for a pin */
	char comm[KEEL_COMM_LEN];
	char target[64]; /* map name or pin name; empty otherwise */
};

#endif /* KEEL_GUARD_H */
