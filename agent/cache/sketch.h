/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Frequency sketch: how often a key was referenced lately, in at most one
 * byte per cached entry (TinyLFU's count-min sketch, shrunk).
 *
 * 4-bit counters, two per byte; a key maps to four of them (double hashing
 * from one 64-bit hash) and its estimate is their minimum.  An increment
 * raises only the counters at that minimum (conservative update), so a
 * key's estimate does not grow with its neighbours' references.  After
 * `period` increments every counter is halved: the estimate is a count
 * decayed over the last `period` references, recent frequency rather than
 * all-time popularity.
 *
 * Only the cache's miss path, under the shard lock, reads or writes it.
 */
#ifndef KEEL_CACHE_SKETCH_H
#define KEEL_CACHE_SKETCH_H

#include <linux/types.h>

struct keel_sketch {
	__u8 *nib;    /* counters, two per byte */
	__u32 mask;   /* counters - 1 */
	__u32 adds;   /* increments since the last halving */
	__u32 period; /* increments between halvings */
};

/* counters: at most this many, rounded down to a power of two (>= 64). */
int keel_sketch_init(struct keel_sketch *k, __u32 counters, __u32 period);
void keel_sketch_fini(struct keel_sketch *k);
/* hash: a 64-bit hash of the key. */
void keel_sketch_add(struct keel_sketch *k, __u64 hash);
__u32 keel_sketch_estimate(const struct keel_sketch *k, __u64 hash);
__u64 keel_sketch_bytes(const struct keel_sketch *k);

#endif /* KEEL_CACHE_SKETCH_H */
