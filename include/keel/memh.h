/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Memory handles, user side (docs/memh.md).
 *
 * A creator makes a handle for a page-aligned range of its memory with
 * restrictions and sends it to a server over a Unix socket; the server
 * reads and writes the creator's memory through it, section by section.
 *
 * With keel.ko loaded (/dev/keel) the handle is the module's descriptor
 * and the kernel enforces every restriction.  Without it the library falls
 * back to a pidfd plus a small shared record of the restrictions (a memfd),
 * and the server copies with process_vm_readv/writev: the server must be
 * allowed to ptrace the creator, and the restrictions are enforced by this
 * library in the server, not by the kernel.  keel_memh_fallback() says
 * which mode a handle is in.
 *
 * All functions return 0 (or a byte count) or a negative errno.
 */
#ifndef KEEL_MEMH_H
#define KEEL_MEMH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/keel_uapi.h"

struct keel_memh;

struct keel_memh_opts {
	unsigned int prot;	    /* KEEL_MEMH_READ [| KEEL_MEMH_WRITE] */
	unsigned int peer_type;	    /* KEEL_MEMH_PEER_* */
	unsigned int peer;	    /* pid or uid */
	unsigned int section_shift; /* 0: 2 MiB sections */
	uint64_t expire_ms;	    /* 0: never */
	bool force_fallback;	    /* do not use keel.ko even if loaded */
};

/* Creator: a handle for [addr, addr + len), both page aligned. */
int keel_memh_create(void *addr, size_t len, const struct keel_memh_opts *opts,
		     struct keel_memh **ret_h);
/* Creator: end the handle for every holder. */
int keel_memh_revoke(struct keel_memh *h);
/* Either side: close the handle (NULL is fine). */
void keel_memh_free(struct keel_memh *h);

/* Send a handle over a connected Unix socket, with @len bytes of @msg. */
int keel_memh_send(int sock, const struct keel_memh *h, const void *msg, size_t len);
/*
 * Receive a handle sent with keel_memh_send(); @msg gets up to @len bytes
 * of the message and @ret_len how many.  Returns -ENOMSG if the message
 * carried no handle (the message is still returned).
 */
int keel_memh_recv(int sock, void *msg, size_t len, size_t *ret_len, struct keel_memh **ret_h);

bool keel_memh_fallback(const struct keel_memh *h);
size_t keel_memh_len(const struct keel_memh *h);
/* State as the kernel (or, in fallback, the shared record) reports it. */
int keel_memh_state(struct keel_memh *h, enum keel_memh_state *ret_state);

/*
 * Holder: copy between the creator's memory at handle offset @off and a
 * local buffer, mapping one section at a time (or process_vm_*v).
 * Returns the bytes copied or a negative errno (EACCES for a write to a
 * read-only handle, ENXIO beyond the range, EPERM, ETIME, EKEYREVOKED,
 * ESRCH as in keel_uapi.h).
 */
ssize_t keel_memh_write(struct keel_memh *h, uint64_t off, const void *buf, size_t len);
ssize_t keel_memh_read(struct keel_memh *h, uint64_t off, void *buf, size_t len);
/*
 * Holder: the same copy (@to_handle: into the creator's memory), for a
 * holder that must survive its clients: with keel.ko the bytes pass
 * through the kernel (a pipe), so a handle that dies during the copy
 * (revoked, expired, creator exited) is a negative errno (EKEYREVOKED,
 * ETIME, ESRCH, else EFAULT), never SIGBUS; costs a second copy.
 * Without keel.ko, as keel_memh_write/read.
 */
ssize_t keel_memh_copy(struct keel_memh *h, uint64_t off, void *buf, size_t len, bool to_handle);
/* Holder: read @len bytes of @fd at @file_off into the creator's memory. */
ssize_t keel_memh_pread(struct keel_memh *h, uint64_t off, int fd, off_t file_off, size_t len);

#endif /* KEEL_MEMH_H */
