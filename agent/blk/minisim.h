/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The three-queue cache's own miss-ratio curve by miniature simulation
 * (Waldspurger et al., "Cache Modeling and Optimization using Miniature
 * Simulations", USENIX ATC 2017): the keys SHARDS samples (hash below the
 * threshold, the same hash and seed as agent/blk/shards.c) go through a
 * set of small keel_caches, one per point of the curve, each of capacity
 * size x rate.  A miniature cache of c entries stands for a cache of
 * c / f entries, f being the fraction of the distinct keys sampled
 * (estimated as shards.c does: HyperLogLog and rate); its misses, scaled by
 * 1 / f, estimate the full cache's (Horvitz-Thompson, which is what
 * SHARDS_adj amounts to).  SHARDS gives LRU's curve; this gives the curve of
 * the policy the model really runs, at the price of one cache per point.
 *
 * Fixed-rate only.  Memory: the miniature caches hold rate x (sum of the
 * points' sizes) entries at ~40 bytes each (entry and ghost), and the
 * sample that measures the fraction at most as many keys at ~56 bytes; the
 * caller bounds both with max_entries: a rate that would exceed it is
 * lowered.
 */
#ifndef KEEL_BLK_MINISIM_H
#define KEEL_BLK_MINISIM_H

#include <linux/types.h>

struct keel_minisim_opts {
	double rate;	   /* 0 < rate <= 1 */
	__u64 max_size;	   /* the largest cache size simulated, in keys */
	__u32 points;	   /* miniature caches, 1..1024, evenly spaced */
	__u64 max_entries; /* bound on all miniature caches' entries */
	__u64 seed;	   /* as keel_shards_opts.seed: same keys sampled */
};

struct keel_minisim_info {
	__u64 accesses, sampled;
	double rate;	 /* the rate used (lowered to fit max_entries) */
	double fraction; /* estimated fraction of distinct keys sampled */
	__u32 caches;	 /* miniature caches (equal capacities merged) */
	__u64 entries;	 /* their capacities summed */
	__u64 bytes;	 /* memory allocated */
};

struct keel_minisim;

/* 0 and *ret, or -EINVAL (bad options) / -ENOMEM. */
int keel_minisim_new(const struct keel_minisim_opts *o, struct keel_minisim **ret);
void keel_minisim_free(struct keel_minisim *m); /* NULL ok */
void keel_minisim_access(struct keel_minisim *m, __u64 key);
/*
 * The estimated miss ratio at each of @n cache sizes (in keys), linear
 * between the miniature caches' points (and a size of 0, which misses
 * every access), flat past the largest.  Returns 0, or -EAGAIN before any
 * sampled access.
 */
int keel_minisim_curve(const struct keel_minisim *m, __u32 n, const __u64 *size, double *ret_miss);
void keel_minisim_get_info(const struct keel_minisim *m, struct keel_minisim_info *ret);

#endif /* KEEL_BLK_MINISIM_H */
