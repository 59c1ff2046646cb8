/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Records that keel's BPF programs send to keeld through ring buffers: the
 * header every record starts with and the one list of record types, so that
 * two subsystems can never pick the same number and a handler can switch on
 * the type.  Each record's layout lives with its subsystem (keel/exec.h,
 * keel/guard.h, keel/blk.h, keel/vmnet.h); docs/events.md documents the
 * JSON that keeld makes of them.
 *
 * Shared by the BPF side (the bpf/ programs, which include vmlinux.h first)
 * and user space (which includes <linux/types.h> first).  Only fixed-width
 * fields, explicit padding: the layout must not depend on the compiler.
 */
#ifndef KEEL_RECORDS_H
#define KEEL_RECORDS_H

/* Each subsystem owns a range of 0x100 types. */
enum keel_record_type {
	KEEL_EV_EXEC = 1,	      /* exec: a program is about to be executed */
	KEEL_EV_EXEC_VERDICT = 0x400, /* exec: a refusal, an audited allow or a taint */
	KEEL_EV_EXEC_INSTALL = 0x401, /* exec: an installer closed, renamed or linked a file */
	KEEL_EV_EXEC_GUARD = 0x410,   /* exec's guard: keel's objects were touched */
	KEEL_EV_BLK_READ = 0x500,     /* blk: a read completed */
	KEEL_EV_VMNET = 0x600,	      /* vmnet: what a VM port or the uplink saw */
};

struct keel_event_hdr {
	__u32 type;    /* enum keel_record_type */
	__u32 size;    /* bytes of the whole record, header included */
	__u64 time_ns; /* bpf_ktime_get_boot_ns() */
};

#define KEEL_COMM_LEN 16
#define KEEL_PATH_LEN 256

#endif /* KEEL_RECORDS_H */
