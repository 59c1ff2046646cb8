/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-disk model (model.c): every read offered to a three-queue cache
 * of the configured size, counters, and the miss-ratio curve.
 */
#ifndef KEEL_AGENT_BLK_MODEL_H
#define KEEL_AGENT_BLK_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <linux/types.h>

#include "blk/diskid.h"
#include "blk/minisim.h"
#include "blk/shards.h"

struct keel_blk_model_opts {
	__u64 cache_blocks; /* three-queue cache size, in blocks */
	__u32 block_size;   /* bytes, a power of two >= 512 */
	enum keel_shards_mode mrc_mode;
	double mrc_rate;
	__u32 mrc_max_samples;
	__u32 mrc_bins;
	/* the three-queue curve by miniature simulation: points (0: none) over
	 * 4 x cache_blocks, at mrc_rate, in at most this many cache entries */
	__u32 mrc_keel_points;
	__u64 mrc_keel_max_entries;
};

struct keel_blk_disk;

struct keel_blk_counts {
	__u64 reads; /* read requests */
	__u64 bytes;
	__u64 blocks; /* block accesses offered to the cache */
	__u64 hits, misses;
	__u64 latency_ns; /* sum over the reads that have one */
	__u64 timed;	  /* reads with a latency */
	__u64 errors;
};

/* Create a disk's model; @size_bytes bounds its MRC's x range. */
int keel_blk_disk_new(const struct keel_blk_model_opts *o, const struct keel_blk_diskid *id,
		      struct keel_blk_disk **ret);
void keel_blk_disk_free(struct keel_blk_disk *d);
/* Empty the model, the curve and the counters (a new start). */
int keel_blk_disk_reset(struct keel_blk_disk *d);
const struct keel_blk_diskid *keel_blk_disk_id(const struct keel_blk_disk *d);
/* One read of @len bytes at @sector: every block it touches is one access. */
void keel_blk_disk_read(struct keel_blk_disk *d, __u64 sector, __u32 len, __u64 latency_ns,
			bool has_latency, bool error);
/* The cache key of a block, the same as keel-cachesim's in block mode. */
__u64 keel_blk_block_key(__u64 disk_id64, __u64 block);
/* Counters since the start and since the last keel_blk_disk_interval(). */
void keel_blk_disk_counts(const struct keel_blk_disk *d, struct keel_blk_counts *ret_total,
			  struct keel_blk_counts *ret_interval);
/* Start a new interval (the blk.stats period). */
void keel_blk_disk_interval(struct keel_blk_disk *d);
/* The disk as JSON: identity, counters, hit ratios, the model's queues. */
json_t *keel_blk_disk_json(struct keel_blk_disk *d);
/* The MRC as JSON: {mode, rate, points: [[size_bytes, miss_ratio]...], ...} */
json_t *keel_blk_disk_mrc_json(struct keel_blk_disk *d);

#endif /* KEEL_AGENT_BLK_MODEL_H */
