/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-disk limits from the disks' live miss-ratio curves.  keel-rcache
 * sees every read of every disk it serves as a LOOKUP of (disk ID, block),
 * so it keeps, per disk, the SHARDS sampler that blk's model uses
 * (agent/blk/shards.h: the same code, not a copy) over the blocks looked
 * up, and every interval splits the cache among the sampled disks with
 * keel_rcache_size (sizing.h), setting each disk's limit to its share.
 *
 * Why here and not from blk's curves: blk models the host's block devices
 * (a loop device, an NVMe namespace), while the cache's disks are VMDK
 * layers, many to a device and stacked in delta chains; the reads a layer
 * gets are exactly the lookups the cache filter sends for it, so the
 * cache's own view is the curve of the thing being sized.
 *
 * Memory, bounded: at most max_disks samplers of at most max_samples keys
 * each (~56 B per key, 16 KiB of HyperLogLog, 8 B per bin).  A disk past
 * max_disks is not sampled and keeps its limit.  A disk without lookups
 * for idle_runs intervals loses its sampler and goes back to the default
 * limit, so the capacity it was given returns to the others.
 */
#ifndef KEEL_RCACHE_AUTOSIZE_H
#define KEEL_RCACHE_AUTOSIZE_H

#include <jansson.h>
#include <stdint.h>

#include "rcache/store.h"

struct keel_rcache_autosize_opts {
	unsigned int max_disks;	  /* samplers; 0: 64 */
	unsigned int max_samples; /* keys per sampler, >= 16; 0: 4096 */
	unsigned int idle_runs;	  /* 0: 6 */
	uint64_t min_reads;	  /* a disk with fewer blocks looked up is not sized yet; 0: 256 */
};

struct keel_rcache_autosize;

int keel_rcache_autosize_new(const struct keel_rcache_autosize_opts *o,
			     struct keel_rcache_store *st, struct keel_rcache_autosize **ret);
void keel_rcache_autosize_free(struct keel_rcache_autosize *a); /* NULL ok */
/* @n blocks of @disk_id from @block on were looked up (any thread). */
void keel_rcache_autosize_access(struct keel_rcache_autosize *a, uint64_t disk_id, uint64_t block,
				 unsigned int n);
/* Size the sampled disks from their curves now and set their limits.
 * Returns the disks sized, 0 when none has enough reads yet, or -errno. */
int keel_rcache_autosize_run(struct keel_rcache_autosize *a);
/* Add to each disk of @disks (keel_rcache_store_disks_json's array) what
 * the sizing says of it: "sized" (bool), "target_blocks", "curve_reads",
 * "expected_hit_ratio", "curve" ([[blocks, miss ratio], ...]). */
void keel_rcache_autosize_annotate(struct keel_rcache_autosize *a, json_t *disks);
/* {"runs", "sampled_disks", "last_expected_hit_ratio", "memory_bytes"} */
json_t *keel_rcache_autosize_json(struct keel_rcache_autosize *a);

#endif /* KEEL_RCACHE_AUTOSIZE_H */
