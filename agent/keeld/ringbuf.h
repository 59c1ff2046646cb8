/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A subsystem's BPF ring buffer, read from keeld's loop, with the kernel's
 * drops reported the same way for every subsystem.
 *
 * The BPF side counts each record it could not reserve (ring buffer full)
 * in a per-CPU counter; the frame reads that count once a second through
 * @read_dropped and emits one @drop_event {count, total} for each new batch
 * (docs/events.md), so that a drop is never silent.
 */
#ifndef KEEL_RINGBUF_H
#define KEEL_RINGBUF_H

#include <bpf/libbpf.h>
#include <linux/types.h>

#include "keeld/daemon.h"

struct keel_ringbuf {
	/* Set by the subsystem before keel_ringbuf_open(): */
	const char *subsystem;	/* the drop event's subsystem: "exec" */
	const char *drop_event; /* its type: "exec.dropped" */
	/* The kernel's count of lost records so far; 0 or a negative errno. */
	int (*read_dropped)(void *ctx, __u64 *ret_total);
	/*
	 * Optional: consume every @poll_ms too, for records the kernel queued
	 * without waking keeld (BPF_RB_NO_WAKEUP); 0: only when woken.
	 */
	unsigned int poll_ms;
	/*
	 * Optional: called instead of keel_ringbuf_consume() when the ring
	 * buffer has records, for a subsystem that works around each batch.
	 */
	void (*woken)(void *ctx);

	/* The frame's own: */
	struct keel_daemon *d;
	struct ring_buffer *rb;
	void *ctx;
	struct keel_watch watch, timer;
	unsigned int ticks;
	__u64 dropped_reported;
};

/*
 * Read ring buffer @map, calling @fn(@ctx, record, size) per record, from
 * keeld's loop, and start reporting its drops.  Returns 0, or a negative
 * errno with the failed step in @why (keel_ringbuf_close() then undoes
 * what was done).
 */
int keel_ringbuf_open(struct keel_ringbuf *r, struct keel_daemon *d, const struct bpf_map *map,
		      ring_buffer_sample_fn fn, void *ctx, char *why, size_t len);
/* Deliver the records queued now. */
void keel_ringbuf_consume(struct keel_ringbuf *r);
/* Deliver what is queued, stop.  Safe on a zeroed or closed one. */
void keel_ringbuf_close(struct keel_ringbuf *r);

#endif /* KEEL_RINGBUF_H */
