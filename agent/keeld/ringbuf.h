/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading a subsystem's BPF ring buffer from keeld's loop. */
#ifndef KEEL_RINGBUF_H
#define KEEL_RINGBUF_H

#include <bpf/libbpf.h>

#include "keeld/daemon.h"

/*
 * Open a reader of ring buffer @map calling @fn(@ctx, ...) per record, and
 * watch it with @w, whose cb and data the caller has set (the cb consumes).
 * Returns 0, or a negative errno with the failed step in @why.
 */
int keel_ringbuf_open(struct keel_daemon *d, const struct bpf_map *map,
		      ring_buffer_sample_fn fn, void *ctx, struct keel_watch *w,
		      struct ring_buffer **ret_rb, char *why, size_t len);

#endif /* KEEL_RINGBUF_H */
