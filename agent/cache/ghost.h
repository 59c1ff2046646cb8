/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Ghost queue: fingerprints of recently evicted keys, 8 bytes each.
 *
 * A set-associative table of 64-bit words, 8 ways per set (one cache line).
 * A word holds a 31-bit fingerprint, one bit saying whether the key left the
 * cold or the hot queue, and the 32-bit shard time (the shard's miss count)
 * of the key's last reference.  An entry counts as present while its last
 * reference is less than `window` misses old, which makes the table behave
 * like a queue ordered by recency without any list (LIRS keeps non-resident
 * keys the same way: only while their recency could still matter); a full
 * set replaces its oldest word.
 */
#ifndef KEEL_CACHE_GHOST_H
#define KEEL_CACHE_GHOST_H

#include <stdbool.h>
#include <linux/types.h>

#define KEEL_GHOST_WAYS 8

struct keel_ghost {
	__u64 *words;
	__u32 nsets;
	__u32 entries; /* words in the table */
	__u32 window;  /* misses a fingerprint stays live after its reference */
};

enum keel_ghost_origin {
	KEEL_GHOST_NONE = 0,
	KEEL_GHOST_FROM_COLD,
	KEEL_GHOST_FROM_HOT,
};

int keel_ghost_init(struct keel_ghost *g, __u32 capacity, __u32 window);
void keel_ghost_fini(struct keel_ghost *g);
/* hash: a 64-bit hash of the key independent of the one the table uses;
 * ref: shard time of the key's last reference; now: shard time. */
void keel_ghost_add(struct keel_ghost *g, __u64 hash, enum keel_ghost_origin o, __u32 ref,
		    __u32 now);
/* Finds and removes the fingerprint; returns where it came from or NONE,
 * and the time of the key's last reference in *ret_ref. */
enum keel_ghost_origin keel_ghost_take(struct keel_ghost *g, __u64 hash, __u32 now, __u32 *ret_ref);
enum keel_ghost_origin keel_ghost_peek(const struct keel_ghost *g, __u64 hash, __u32 now);
__u32 keel_ghost_live(const struct keel_ghost *g, __u32 now);
__u64 keel_ghost_bytes(const struct keel_ghost *g);

#endif /* KEEL_CACHE_GHOST_H */
