// SPDX-License-Identifier: GPL-2.0-only
/*
 * keel's three-queue cache (agent/cache), run single-sharded; "keel-16"
 * cut into 16 shards by hash, as keel-rcache's index is from 16384 blocks
 * on (each shard a cache of its own with a 16th of the capacity).
 */
#include "cachesim/sim.h"
#include "keel/cache.h"

static int keel_create(__u64 cap, void **ret)
{
	struct keel_cache_opts o = { .capacity = cap, .shards = 1 };

	return keel_cache_new(&o, (struct keel_cache **)ret);
}

static int keel16_create(__u64 cap, void **ret)
{
	struct keel_cache_opts o = { .capacity = cap, .shards = 16 };

	return keel_cache_new(&o, (struct keel_cache **)ret);
}

static bool keel_access(void *p, __u64 key, __u64 next)
{
	(void)next;
	return keel_cache_access(p, key);
}

static void keel_destroy(void *p)
{
	keel_cache_free(p);
}

const struct keel_sim_policy keel_sim_keel = {
	.name = "keel",
	.what = "keel: cold FIFO, ghost, hot CLOCK, adaptive (agent/cache)",
	.create = keel_create,
	.access = keel_access,
	.destroy = keel_destroy,
};

const struct keel_sim_policy keel_sim_keel16 = {
	.name = "keel-16",
	.what = "keel in 16 shards by hash, as keel-rcache's index from 16384 blocks",
	.create = keel16_create,
	.access = keel_access,
	.destroy = keel_destroy,
};
