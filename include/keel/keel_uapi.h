/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * keel.ko's user ABI: the ioctls of /dev/keel.
 * Structs use only fixed-width types with explicit padding; a flags field
 * must be 0 today; unknown ioctls fail with ENOTTY.
 */
#ifndef KEEL_UAPI_H
#define KEEL_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped on every incompatible change; keeld refuses a mismatch. */
#define KEEL_ABI_VERSION 1

struct keel_version {
	__u32 abi;		/* KEEL_ABI_VERSION of the module */
	__u32 flags;		/* 0 */
	char version[32];	/* MODULE_VERSION, NUL-terminated */
};

#define KEEL_IOC_MAGIC 'k'
#define KEEL_IOC_VERSION _IOR(KEEL_IOC_MAGIC, 0, struct keel_version)

/*
 * Memory handles (docs/memh.md).  A process creates a handle for a range of
 * its own address space with KEEL_IOC_MEMH_CREATE on /dev/keel and gets a
 * file descriptor, which it may pass to another process (SCM_RIGHTS).  A
 * holder mmap()s one section of it at a time (MAP_SHARED, offset = section
 * index << section_shift); the creator's pages are faulted in on demand.
 *
 * KEEL_IOC_MEMH_CREATE fails with:
 *   EINVAL   flags not 0, prot not READ or READ|WRITE, addr or len not page
 *            aligned, len 0, range beyond the user address space, unknown
 *            peer_type, section_shift outside [PAGE_SHIFT, max_section_shift]
 *   ESRCH    peer_type PID and no process (thread-group leader) has that pid
 *   EDQUOT   the caller already has max_handles_per_process handles
 *   ENOSPC   max_handles handles exist on the machine
 *   EFAULT, ENOMEM, EMFILE, ENFILE as usual
 * mmap() of a handle fails with (checked in this order):
 *   EKEYREVOKED  the creator revoked the handle
 *   ESRCH        the creator exited (or exec'ed): its address space is gone
 *   ETIME        the handle expired
 *   EPERM        the caller is not the permitted peer (pid or uid)
 *   ELOOP        the caller is the creator itself (it has the memory)
 *   EACCES       PROT_WRITE on a read-only handle (mprotect too)
 *   EINVAL       not MAP_SHARED, offset not a multiple of the section
 *                size, or length beyond the section (or the range's end)
 *   ENXIO        the section lies outside the handle's range
 * Access to a mapping after revocation, expiry or creator exit, or to a
 * page the creator no longer maps (or cannot write, for a write handle),
 * gets SIGBUS.  KEEL_MEMH_IOC_INFO fails with EPERM for a caller that is
 * neither the permitted peer nor the creator; for a revoked, expired or
 * orphaned handle it succeeds and says so in @state.  KEEL_MEMH_IOC_REVOKE
 * fails with EPERM unless called by the creator process; revoking twice
 * succeeds.
 */
#define KEEL_MEMH_READ		(1U << 0)
#define KEEL_MEMH_WRITE		(1U << 1)

#define KEEL_MEMH_PEER_ANY	0	/* any holder of the descriptor */
#define KEEL_MEMH_PEER_PID	1	/* only the process with pid @peer */
#define KEEL_MEMH_PEER_UID	2	/* only processes with euid @peer */

#define KEEL_MEMH_SECTION_SHIFT_DEFAULT 21	/* 2 MiB */

struct keel_memh_create {
	__u64 addr;		/* start of the range, page aligned */
	__u64 len;		/* bytes, page aligned, not 0 */
	__u64 expire_ms;	/* handle expires this long after creation; 0: never */
	__u32 prot;		/* KEEL_MEMH_READ [| KEEL_MEMH_WRITE] */
	__u32 peer_type;	/* KEEL_MEMH_PEER_* */
	__u32 peer;		/* pid (caller's pid namespace) or uid (caller's user ns) */
	__u32 section_shift;	/* log2 of the section size; 0: the default */
	__u32 flags;		/* 0 */
	__s32 fd;		/* out: the handle, close-on-exec */
};

enum keel_memh_state {
	KEEL_MEMH_LIVE = 0,
	KEEL_MEMH_REVOKED = 1,
	KEEL_MEMH_EXPIRED = 2,
	KEEL_MEMH_EXITED = 3,
};

struct keel_memh_info {
	__u64 addr;		/* the creator's range */
	__u64 len;
	__u64 expire_ms;	/* left before expiry; 0: never expires */
	__u32 prot;
	__u32 section_shift;
	__u32 state;		/* enum keel_memh_state */
	__u32 creator_pid;	/* in the caller's pid namespace; 0 if not visible */
	__u32 flags;		/* 0 */
	__u32 pad;
};

/* On /dev/keel. */
#define KEEL_IOC_MEMH_CREATE _IOWR(KEEL_IOC_MAGIC, 0x10, struct keel_memh_create)
/* On a handle. */
#define KEEL_MEMH_IOC_INFO _IOR(KEEL_IOC_MAGIC, 0x11, struct keel_memh_info)
#define KEEL_MEMH_IOC_REVOKE _IO(KEEL_IOC_MAGIC, 0x12)

#endif /* KEEL_UAPI_H */
