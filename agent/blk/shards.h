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
 *   Both apply SHARDS_adj: the gap between the accesses the rate predicts
 *   (the rate summed over all accesses) and those sampled goes to the first
 *   bin.
 * Accuracy depends on the number of sampled keys, not the rate: about 500
 * keys (1% of a 50,000-block working set) give a mean absolute error of
 * 0.02-0.03; 8,192 keys give under 0.01 (tests/unit/test_blk_shards.c).
 * Memory: about 56 bytes per sampled key plus 8 bytes per bin.
 */
#ifndef KEEL_BLK_SHARDS_H
#define KEEL_BLK_SHARDS_H

#include <stdbool.h>
#include <linux/types.h>

enum keel_shards_mode { KEEL_SHARDS_FIXED_RATE, KEEL_SHARDS_FIXED_SIZE };

struct keel_shards_opts {
	enum keel_shards_mode mode;
	double rate;		/* 0 < rate <= 1; fixed-size starts here too */
	__u32 max_samples;	/* sampled keys kept, >= 16 */
	__u64 max_size;		/* the curve's x range, in keys (cache entries) */
	__u32 bins;		/* points on the curve, 1..65536 */
};

struct keel_shards_info {
	__u64 accesses;		/* every key offered */
	__u64 sampled;		/* accesses to sampled keys */
	__u64 keys;		/* sampled keys held now */
	double rate;		/* current sampling rate */
	__u64 bin_width;	/* keys per bin */
	__u64 bytes;		/* memory allocated */
};

struct keel_shards;

/* 0 and *ret, or -EINVAL (bad options) / -ENOMEM. */
int keel_shards_new(const struct keel_shards_opts *o, struct keel_shards **ret);
void keel_shards_free(struct keel_shards *s);	/* NULL ok */
/* Offer one access; -ENOMEM leaves the sample as it was (the key is skipped). */
int keel_shards_access(struct keel_shards *s, __u64 key);
/*
 * The curve: ret_size[i] = (i + 1) * bin_width keys and ret_miss[i] the
 * estimated LRU miss ratio at that size, for i < bins.  Returns the number
 * of points (0 before any sampled access).
 */
__u32 keel_shards_curve(const struct keel_shards *s, __u64 *ret_size, double *ret_miss);
void keel_shards_get_info(const struct keel_shards *s, struct keel_shards_info *ret);

#endif /* KEEL_BLK_SHARDS_H */
