/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Miss-ratio curves of an LRU cache from a sample of the keys (SHARDS:
 * Waldspurger et al., "Efficient MRC Construction with SHARDS", FAST 2015).
 *
 * A key is sampled when hash(key) mod P < T (P = 2^24), so every access to
 * a sampled key is seen and its reuse distance among sampled keys, divided
 * by the rate R = T / P, estimates its LRU stack distance.
 *   fixed-rate: T stays put; the sampled keys are still capped at
 *     max_samples, past which it behaves as fixed-size, so memory stays
 *     bounded whatever the disk size.
 *   fixed-size: at most max_samples keys; past that the keys with the
 *     largest hash leave, T drops to that hash and the histogram is rescaled.
 * The estimate (improving on the paper's, which is tuned for millions of
 * keys; see docs/blk.md for the figures):
 *   - distances are scaled by the sample's real fraction of the distinct
 *     keys, not the nominal rate: a HyperLogLog of every key offered
 *     (agent/blk/distinct.h) counts the distinct keys U, the sample holds K,
 *     and c sampled keys between two accesses stand for c (U-1)/(K-1)
 *     others (leave-one-out: the key itself is sampled for sure).  With a
 *     few hundred sampled keys K is off from rate x U by 5-20%, which
 *     stretched or squeezed the whole curve;
 *   - SHARDS_adj with that fraction: the sampled accesses should number
 *     N K / U; the gap goes to the first bin, so the curve ends exactly at
 *     the cold-miss ratio U / N (a Horvitz-Thompson estimate of the misses).
 * Accuracy depends on the number of sampled keys, not the rate: ~500 keys
 * (1% of a 50,000-block working set) give a mean absolute error of about
 * 0.011 averaged over hash seeds, close to what 500 keys can give at all
 * (0.008 with every distance exact); 4,000 keys give under 0.005.
 * Memory: about 56 bytes per sampled key, 8 bytes per bin, 16 KiB of HLL.
 */
#ifndef KEEL_BLK_SHARDS_H
#define KEEL_BLK_SHARDS_H

#include <stdbool.h>
#include <linux/types.h>

enum keel_shards_mode { KEEL_SHARDS_FIXED_RATE, KEEL_SHARDS_FIXED_SIZE };

struct keel_shards_opts {
	enum keel_shards_mode mode;
	double rate;	   /* 0 < rate <= 1; fixed-size starts here too */
	__u32 max_samples; /* sampled keys kept, >= 16 */
	__u64 max_size;	   /* the curve's x range, in keys (cache entries) */
	__u32 bins;	   /* points on the curve, 1..65536 */
	__u64 seed;	   /* picks the sampled keys; 0 is keel's default */
};

struct keel_shards_info {
	__u64 accesses;	 /* every key offered */
	__u64 sampled;	 /* accesses to sampled keys */
	__u64 keys;	 /* sampled keys held now */
	double rate;	 /* current sampling rate (threshold / 2^24) */
	double distinct; /* distinct keys offered (HyperLogLog estimate) */
	__u64 bin_width; /* keys per bin */
	__u64 bytes;	 /* memory allocated */
};

struct keel_shards;

/* 0 and *ret, or -EINVAL (bad options) / -ENOMEM. */
int keel_shards_new(const struct keel_shards_opts *o, struct keel_shards **ret);
void keel_shards_free(struct keel_shards *s); /* NULL ok */
/* Offer one access; -ENOMEM leaves the sample as it was (the key is skipped). */
int keel_shards_access(struct keel_shards *s, __u64 key);
/*
 * The curve: ret_size[i] = (i + 1) * bin_width keys and ret_miss[i] the
 * estimated LRU miss ratio at that size, for i < bins.  Returns the number
 * of points (0 before any sampled access).
 */
__u32 keel_shards_curve(const struct keel_shards *s, __u64 *ret_size, double *ret_miss);
void keel_shards_get_info(const struct keel_shards *s, struct keel_shards_info *ret);
/* The estimated fraction of the distinct keys offered that the sample holds
 * (1 at rate 1); what a sampled key stands for is 1 / this. */
double keel_shards_fraction(const struct keel_shards *s);
/* The hash that picks the sample: a key is sampled while
 * (hash >> 40) < rate x 2^24.  Other samplers use it to see the same keys. */
__u64 keel_shards_key_hash(__u64 key, __u64 seed);

#endif /* KEEL_BLK_SHARDS_H */
