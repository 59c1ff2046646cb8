/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Distinct-key counting in fixed memory: a HyperLogLog sketch of 2^14
 * one-byte registers (16 KiB; standard error about 0.8%) read with Ertl's
 * improved estimator ("New cardinality estimation algorithms for
 * HyperLogLog sketches", 2017), which needs no empirical bias tables and is
 * unbiased from a handful of keys to billions; small counts come out as
 * linear counting does.  SHARDS uses it to learn which fraction of the
 * distinct blocks its sample really holds (agent/blk/shards.c).
 */
#ifndef KEEL_BLK_DISTINCT_H
#define KEEL_BLK_DISTINCT_H

#include <stdbool.h>
#include <linux/types.h>

#define KEEL_DISTINCT_P 14
#define KEEL_DISTINCT_M (1u << KEEL_DISTINCT_P)
#define KEEL_DISTINCT_Q (64 - KEEL_DISTINCT_P)

struct keel_distinct {
	__u8 reg[KEEL_DISTINCT_M];
	__u32 count[KEEL_DISTINCT_Q + 2]; /* registers holding each value */
};

void keel_distinct_init(struct keel_distinct *d);
/* Add a key by its 64-bit hash (well mixed: every bit counts).  True when
 * the estimate moved (rarely, once the sketch has seen a few keys). */
bool keel_distinct_add(struct keel_distinct *d, __u64 hash);
/* The estimated number of distinct hashes added. */
double keel_distinct_estimate(const struct keel_distinct *d);

#endif /* KEEL_BLK_DISTINCT_H */
