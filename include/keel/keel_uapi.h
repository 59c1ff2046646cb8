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
	__u32 abi;	  /* KEEL_ABI_VERSION of the module */
	__u32 flags;	  /* 0 */
	char version[32]; /* MODULE_VERSION, NUL-terminated */
};

#define KEEL_IOC_MAGIC	 'k'
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
#define KEEL_MEMH_READ	(1U << 0)
#define KEEL_MEMH_WRITE (1U << 1)

#define KEEL_MEMH_PEER_ANY 0 /* any holder of the descriptor */
#define KEEL_MEMH_PEER_PID 1 /* only the process with pid @peer */
#define KEEL_MEMH_PEER_UID 2 /* only processes with euid @peer */

#define KEEL_MEMH_SECTION_SHIFT_DEFAULT 21 /* 2 MiB */

struct keel_memh_create {
	__u64 addr;	     /* start of the range, page aligned */
	__u64 len;	     /* bytes, page aligned, not 0 */
	__u64 expire_ms;     /* handle expires this long after creation; 0: never */
	__u32 prot;	     /* KEEL_MEMH_READ [| KEEL_MEMH_WRITE] */
	__u32 peer_type;     /* KEEL_MEMH_PEER_* */
	__u32 peer;	     /* pid (caller's pid namespace) or uid (caller's user ns) */
	__u32 section_shift; /* log2 of the section size; 0: the default */
	__u32 flags;	     /* 0 */
	__s32 fd;	     /* out: the handle, close-on-exec */
};

enum keel_memh_state {
	KEEL_MEMH_LIVE = 0,
	KEEL_MEMH_REVOKED = 1,
	KEEL_MEMH_EXPIRED = 2,
	KEEL_MEMH_EXITED = 3,
};

struct keel_memh_info {
	__u64 addr; /* the creator's range */
	__u64 len;
	__u64 expire_ms; /* left before expiry; 0: never expires */
	__u32 prot;
	__u32 section_shift;
	__u32 state;	   /* enum keel_memh_state */
	__u32 creator_pid; /* in the caller's pid namespace; 0 if not visible */
	__u32 flags;	   /* 0 */
	__u32 pad;
};

/* On /dev/keel. */
#define KEEL_IOC_MEMH_CREATE _IOWR(KEEL_IOC_MAGIC, 0x10, struct keel_memh_create)
/* On a handle. */
#define KEEL_MEMH_IOC_INFO   _IOR(KEEL_IOC_MAGIC, 0x11, struct keel_memh_info)
#define KEEL_MEMH_IOC_REVOKE _IO(KEEL_IOC_MAGIC, 0x12)

/*
 * Upcalls and the I/O filter (docs/upcall.md).  A process registers a filter
 * on its /dev/keel descriptor: an entry point in its own code and a stack
 * area split into per-thread slots (KEEL_IOC_UPCALL_REGISTER).  A thread then
 * submits an I/O request (KEEL_IOC_FILTER_SUBMIT); keel.ko parks the
 * submit on the thread's kernel stack and, on a second kernel stack, enters
 * user mode at the entry point on a stack slot with rdi = a copy of the
 * request on that stack, rsi = the registration's arg, rdx = the nesting
 * depth (0 for the first upcall).  The filter may make any system calls
 * (they run on the second kernel stack), including a nested submit.  It
 * ends with KEEL_IOC_UPCALL_RETURN and its verdict: the thread goes back to
 * the parked submit on the first stack, which completes the request in
 * kernel mode (allow: as submitted; rewrite: as the filter edited its copy;
 * refuse: fails with the filter's errno) and returns the result (bytes
 * transferred) to its caller.
 * A filter registered with KEEL_UPCALL_HANDLER is instead served by a
 * handler thread (KEEL_IOC_FILTER_RECV / KEEL_IOC_FILTER_ANSWER) while the
 * submitter sleeps in the kernel: the classic design, for comparison.
 *
 * KEEL_IOC_UPCALL_REGISTER fails with:
 *   EINVAL   flags unknown, entry or stack 0 or not user addresses (without
 *            KEEL_UPCALL_HANDLER), slot_size not a multiple of 16 or below
 *            4096, stack_size not a multiple of slot_size, over 1024 slots
 *   EDQUOT   the descriptor already has max_upcall_filters filters
 *   EOPNOTSUPP  called from a 32-bit (compat) task
 * KEEL_IOC_FILTER_SUBMIT fails with (the submit itself, before any upcall):
 *   EINVAL   flags not 0, op unknown, len above max_upcall_io_bytes
 *   ENOENT   no filter with that id on this descriptor
 *   ELOOP    the thread already has max_upcall_depth upcalls in progress
 *   EBUSY    every stack slot of the filter is in use by other threads
 *   ENOSPC   max_upcall_frames upcalls are in progress on the machine
 *   EOPNOTSUPP  not a 64-bit system call (compat task, io_uring, kernel)
 *   EFAULT   the request or the stack slot cannot be read or written
 * and, after the filter ran, with the filter's errno (refuse), EPROTO (an
 * unknown verdict), ECANCELED (the filter gave up: KEEL_FILTER_ABORT, as the
 * library's fault guard does when the filter faults), EINVAL (a rewritten
 * request that is not valid), or the I/O's own error (EBADF for an fd not
 * open for that direction, ESPIPE, EFAULT, ...).  If the thread exits or is
 * killed inside the filter, the submit fails with EINTR on the first stack
 * and the thread then exits as it was going to.  exec inside a filter fails
 * with EBUSY.
 * KEEL_IOC_UPCALL_RETURN fails with EINVAL (flags not 0, or no upcall in
 * progress for this thread on this descriptor, or not called on that
 * upcall's second stack, as in a child forked by the filter), EFAULT; on
 * success it does not return to its caller: the thread resumes where it
 * submitted, with the result.
 * KEEL_IOC_FILTER_RECV fails with EINVAL (the filter is not a
 * KEEL_UPCALL_HANDLER filter), ENOENT (no such filter), EINTR (a signal);
 * KEEL_IOC_FILTER_ANSWER with ENOENT (no such request waiting: answered,
 * or its submitter was killed).
 */
#define KEEL_UPCALL_HANDLER (1U << 0) /* served by a handler thread */

struct keel_upcall_register {
	__u64 entry;	  /* user address the filter starts at */
	__u64 arg;	  /* passed to it in rsi */
	__u64 stack;	  /* lowest address of the stack area */
	__u64 stack_size; /* bytes: number of slots * slot_size */
	__u32 slot_size;  /* bytes of stack per thread in an upcall */
	__u32 flags;	  /* KEEL_UPCALL_* */
	__u32 id;	  /* out: the filter id */
	__u32 pad;
};

#define KEEL_IO_READ  1 /* read len bytes from fd into buf */
#define KEEL_IO_WRITE 2 /* write len bytes of buf to fd */

struct keel_io_req {
	__u32 op; /* KEEL_IO_* */
	__s32 fd;
	__u64 buf;
	__u64 len;
	__s64 off;    /* file offset; -1: the file position */
	__u32 filter; /* filter id */
	__u32 flags;  /* 0 */
	__s32 error;  /* filter: errno for KEEL_FILTER_REFUSE */
	__u32 depth;  /* to the filter: nesting depth, 0 first */
};

#define KEEL_FILTER_ALLOW   0 /* complete the request as submitted */
#define KEEL_FILTER_REFUSE  1 /* fail it with error (EPERM if 0) */
#define KEEL_FILTER_REWRITE 2 /* complete the filter's edited copy */
#define KEEL_FILTER_ABORT   3 /* the filter failed: ECANCELED */

struct keel_upcall_return {
	__u32 verdict; /* KEEL_FILTER_* */
	__s32 error;   /* errno for KEEL_FILTER_REFUSE */
	__u32 flags;   /* 0 */
	__u32 pad;
};

struct keel_filter_msg {
	__u64 id;		/* RECV: out; ANSWER: in */
	struct keel_io_req req; /* RECV: out; ANSWER: in for REWRITE */
	__u32 filter;		/* RECV: in, the handler filter to serve */
	__u32 verdict;		/* ANSWER: KEEL_FILTER_* */
	__s32 error;		/* ANSWER: errno for KEEL_FILTER_REFUSE */
	__u32 pad;
};

#define KEEL_IOC_UPCALL_REGISTER _IOWR(KEEL_IOC_MAGIC, 0x20, struct keel_upcall_register)
#define KEEL_IOC_FILTER_SUBMIT	 _IOWR(KEEL_IOC_MAGIC, 0x21, struct keel_io_req)
#define KEEL_IOC_UPCALL_RETURN	 _IOW(KEEL_IOC_MAGIC, 0x22, struct keel_upcall_return)
#define KEEL_IOC_FILTER_RECV	 _IOWR(KEEL_IOC_MAGIC, 0x23, struct keel_filter_msg)
#define KEEL_IOC_FILTER_ANSWER	 _IOW(KEEL_IOC_MAGIC, 0x24, struct keel_filter_msg)

#endif /* KEEL_UAPI_H */
