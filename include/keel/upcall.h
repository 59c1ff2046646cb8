/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Upcall I/O filters, user side (docs/upcall.md).
 *
 * A process registers filter functions with keel.ko; each filtered request
 * it submits (keel_filter_submit) runs the filter on the submitting thread,
 * called from the kernel in the middle of the submit system call, on a
 * stack slot registered for it.  The filter returns a verdict
 * (KEEL_FILTER_ALLOW, _REFUSE with req->error set, _REWRITE after editing
 * *req) and the kernel completes the request.  Filters may make system calls
 * and submit requests themselves (nested, up to the module's
 * upcall_max_depth).
 *
 * The library keeps one /dev/keel descriptor per process.  All functions
 * return 0 (or a filter id, or a byte count) or a negative errno.
 */
#ifndef KEEL_UPCALL_H
#define KEEL_UPCALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/keel_uapi.h"

/* A filter: returns a KEEL_FILTER_* verdict. */
typedef int (*keel_filter_fn)(struct keel_io_req *req, void *arg);

/* Open /dev/keel (close-on-exec) for this process; idempotent. */
int keel_upcall_open(void);
/* The descriptor in use, or -1. */
int keel_upcall_fd(void);
/* Close it: registered filters go with it. */
void keel_upcall_close(void);

/*
 * Register @fn with @slots stack slots of @slot_size bytes each (one per
 * thread that may be in the filter at once; 0, 0: 64 slots of 256 KiB).
 * Each slot has an inaccessible guard page at its bottom.
 */
int keel_upcall_register(keel_filter_fn fn, void *arg, unsigned int slots, size_t slot_size);
/* A filter served by a handler thread with keel_filter_serve() instead. */
int keel_upcall_register_handler(void);

/*
 * Submit a request through filter @filter: KEEL_IO_READ or KEEL_IO_WRITE of
 * @len bytes at @buf on @fd, at @off (-1: the file position).  Returns the
 * bytes transferred or a negative errno (docs/upcall.md lists them).
 */
ssize_t keel_filter_submit(unsigned int filter, unsigned int op, int fd, void *buf, size_t len,
			   int64_t off);

/* Handler thread: wait for one request for @filter, run @fn, answer it. */
int keel_filter_serve(unsigned int filter, keel_filter_fn fn, void *arg);

/*
 * Make a fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL) inside a filter fail
 * that request with ECANCELED instead of killing the process.  Installs
 * process-wide handlers (outside filters they restore the default action
 * and re-raise) and an alternate signal stack on each thread that submits.
 */
int keel_upcall_guard_faults(void);

/* Nesting depth of the calling thread: 0 outside filters. */
unsigned int keel_upcall_depth(void);

#endif /* KEEL_UPCALL_H */
