// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-disk model: a three-queue cache (agent/cache) of the disk's
 * blocks standing for a read cache in front of it, its hit ratios, and a
 * SHARDS estimate of the LRU miss-ratio curve.  A read touching N blocks is
 * N accesses, as keel-cachesim counts them in block mode, so a recorded
 * trace replayed there gives the same hit ratio.  Optionally the model's
 * own policy's curve too, by miniature simulation (minisim.h), over sizes
 * up to 4 x the model.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk/model.h"
#include "keel/trace.h"
#include "keel/cache.h"
#include "common/kdev.h"

struct keel_blk_disk {
	struct keel_blk_model_opts o;
	struct keel_blk_diskid id;
	struct keel_cache *cache;
	struct keel_shards *mrc;
	struct keel_minisim *mini;	    /* NULL when mrc_keel_points is 0 */
	struct keel_blk_counts total, mark; /* mark: total at the interval start */
	struct keel_blk_counts last;	    /* the last complete interval */
	unsigned int bs_shift;
};

__u64 keel_blk_block_key(__u64 disk_id64, __u64 block)
{
	return keel_trace_block_key(disk_id64, block);
}

static int build(struct keel_blk_disk *d)
{
	struct keel_cache_opts co = { .capacity = d->o.cache_blocks, .shards = 1 };
	struct keel_shards_opts so = {
		.mode = d->o.mrc_mode,
		.rate = d->o.mrc_rate,
		.max_samples = d->o.mrc_max_samples,
		.bins = d->o.mrc_bins,
	};
	__u64 disk_blocks = d->id.size_bytes >> d->bs_shift;
	int r;

	/* The curve spans the disk (no cache needs more blocks than it has),
	 * at least 4 x the model so the model's size sits on the curve. */
	so.max_size = disk_blocks > 4 * d->o.cache_blocks ? disk_blocks : 4 * d->o.cache_blocks;
	r = keel_cache_new(&co, &d->cache);
	if (r)
		return r;
	r = keel_shards_new(&so, &d->mrc);
	if (!r && d->o.mrc_keel_points) {
		struct keel_minisim_opts mo = {
			.rate = d->o.mrc_rate,
			.max_size = 4 * d->o.cache_blocks,
			.points = d->o.mrc_keel_points,
			.max_entries = d->o.mrc_keel_max_entries,
		};

		r = keel_minisim_new(&mo, &d->mini);
		if (r) {
			keel_shards_free(d->mrc);
			d->mrc = NULL;
		}
	}
	if (r) {
		keel_cache_free(d->cache);
		d->cache = NULL;
	}
	return r;
}

int keel_blk_disk_new(const struct keel_blk_model_opts *o, const struct keel_blk_diskid *id,
		      struct keel_blk_disk **ret)
{
	struct keel_blk_disk *d;
	int r;

	if (o->block_size < 512 || (o->block_size & (o->block_size - 1)) || !o->cache_blocks)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->o = *o;
	d->id = *id;
	d->bs_shift = __builtin_ctz(o->block_size);
	r = build(d);
	if (r) {
		free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void keel_blk_disk_free(struct keel_blk_disk *d)
{
	if (!d)
		return;
	keel_cache_free(d->cache);
	keel_shards_free(d->mrc);
	keel_minisim_free(d->mini);
	free(d);
}

int keel_blk_disk_reset(struct keel_blk_disk *d)
{
	struct keel_cache *c = d->cache;
	struct keel_shards *m = d->mrc;
	struct keel_minisim *mini = d->mini;
	int r;

	d->mini = NULL;
	r = build(d);
	if (r) {
		d->cache = c; /* keep the old model rather than none */
		d->mrc = m;
		d->mini = mini;
		return r;
	}
	keel_cache_free(c);
	keel_shards_free(m);
	keel_minisim_free(mini);
	memset(&d->total, 0, sizeof(d->total));
	memset(&d->mark, 0, sizeof(d->mark));
	memset(&d->last, 0, sizeof(d->last));
	return 0;
}

const struct keel_blk_diskid *keel_blk_disk_id(const struct keel_blk_disk *d)
{
	return &d->id;
}

void keel_blk_disk_read(struct keel_blk_disk *d, __u64 sector, __u32 len, __u64 latency_ns,
			bool has_latency, bool error)
{
	__u64 first, last;

	d->total.reads++;
	d->total.bytes += len;
	if (has_latency) {
		d->total.latency_ns += latency_ns;
		d->total.timed++;
	}
	if (error) {
		d->total.errors++;
		return; /* no data came back: nothing to cache */
	}
	if (!len)
		return;
	first = (sector << 9) >> d->bs_shift;
	last = ((sector << 9) + len - 1) >> d->bs_shift;
	for (__u64 b = first; b <= last; b++) {
		__u64 key = keel_blk_block_key(d->id.id64, b);

		if (keel_cache_access(d->cache, key))
			d->total.hits++;
		else
			d->total.misses++;
		keel_shards_access(d->mrc, key); /* -ENOMEM: one sample short */
		if (d->mini)
			keel_minisim_access(d->mini, key);
	}
	d->total.blocks += last - first + 1;
}

static void sub(struct keel_blk_counts *r, const struct keel_blk_counts *a,
		const struct keel_blk_counts *b)
{
	r->reads = a->reads - b->reads;
	r->bytes = a->bytes - b->bytes;
	r->blocks = a->blocks - b->blocks;
	r->hits = a->hits - b->hits;
	r->misses = a->misses - b->misses;
	r->latency_ns = a->latency_ns - b->latency_ns;
	r->timed = a->timed - b->timed;
	r->errors = a->errors - b->errors;
}

void keel_blk_disk_counts(const struct keel_blk_disk *d, struct keel_blk_counts *ret_total,
			  struct keel_blk_counts *ret_interval)
{
	if (ret_total)
		*ret_total = d->total;
	if (ret_interval)
		*ret_interval = d->last;
}

void keel_blk_disk_interval(struct keel_blk_disk *d)
{
	sub(&d->last, &d->total, &d->mark);
	d->mark = d->total;
}

static json_t *ratio(__u64 hits, __u64 misses)
{
	return hits + misses ? json_real((double)hits / (double)(hits + misses)) : json_null();
}

static json_t *counts_json(const struct keel_blk_counts *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I}", "reads", (json_int_t)c->reads,
			 "bytes", (json_int_t)c->bytes, "blocks", (json_int_t)c->blocks, "hits",
			 (json_int_t)c->hits, "misses", (json_int_t)c->misses, "hit_ratio",
			 ratio(c->hits, c->misses), "mean_latency_us",
			 (json_int_t)(c->timed ? c->latency_ns / c->timed / 1000 : 0), "errors",
			 (json_int_t)c->errors);
}

json_t *keel_blk_disk_json(struct keel_blk_disk *d)
{
	struct keel_cache_stats cs;
	char dev[24];

	keel_cache_get_stats(d->cache, &cs);
	keel_kdev_format(d->id.dev, dev, sizeof(dev));
	return json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
		"disk", d->id.id, "source", d->id.source, "name", d->id.name, "dev", dev, "backing",
		d->id.backing, "size_bytes", (json_int_t)d->id.size_bytes, "hit_ratio",
		ratio(d->total.hits, d->total.misses), "interval_hit_ratio",
		ratio(d->last.hits, d->last.misses), "total", counts_json(&d->total), "interval",
		counts_json(&d->last), "model", "block_size", (json_int_t)d->o.block_size,
		"capacity_blocks", (json_int_t)cs.capacity, "cached", (json_int_t)cs.cached, "hot",
		(json_int_t)cs.hot, "cold", (json_int_t)cs.cold, "evictions",
		(json_int_t)cs.evictions, "memory_bytes", (json_int_t)cs.bytes_total);
}

/* The three-queue curve: {rate, fraction, memory_bytes, points}, or null. */
static json_t *keel_curve_json(struct keel_blk_disk *d)
{
	struct keel_minisim_info mi;
	__u32 n = d->o.mrc_keel_points;
	__u64 *size;
	double *miss;
	json_t *pts;

	if (!d->mini)
		return json_null();
	size = calloc(n, sizeof(*size));
	miss = calloc(n, sizeof(*miss));
	pts = json_array();
	for (__u32 i = 0; size && i < n; i++)
		size[i] = 4 * d->o.cache_blocks * (i + 1) / n;
	if (size && miss && !keel_minisim_curve(d->mini, n, size, miss))
		for (__u32 i = 0; i < n; i++)
			json_array_append_new(pts, json_pack("[I, f]",
							     (json_int_t)(size[i] << d->bs_shift),
							     miss[i]));
	free(size);
	free(miss);
	keel_minisim_get_info(d->mini, &mi);
	return json_pack("{s:s, s:f, s:f, s:I, s:I, s:o}", "curve", "keel", "rate", mi.rate,
			 "fraction", mi.fraction, "sampled", (json_int_t)mi.sampled, "memory_bytes",
			 (json_int_t)mi.bytes, "points", pts);
}

json_t *keel_blk_disk_mrc_json(struct keel_blk_disk *d)
{
	struct keel_shards_info si;
	json_t *pts = json_array();
	__u64 *size = calloc(d->o.mrc_bins, sizeof(*size));
	double *miss = calloc(d->o.mrc_bins, sizeof(*miss));
	__u32 n = 0;

	if (size && miss)
		n = keel_shards_curve(d->mrc, size, miss);
	for (__u32 i = 0; i < n; i++)
		json_array_append_new(pts, json_pack("[I, f]", (json_int_t)(size[i] << d->bs_shift),
						     miss[i]));
	free(size);
	free(miss);
	keel_shards_get_info(d->mrc, &si);
	return json_pack(
		"{s:s, s:s, s:s, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
		"disk", d->id.id, "name", d->id.name, "mode",
		d->o.mrc_mode == KEEL_SHARDS_FIXED_RATE ? "fixed-rate" : "fixed-size", "rate",
		si.rate, "distinct_blocks", si.distinct, "block_size", (json_int_t)d->o.block_size,
		"accesses", (json_int_t)si.accesses, "sampled", (json_int_t)si.sampled,
		"sampled_keys", (json_int_t)si.keys, "memory_bytes", (json_int_t)si.bytes,
		"model_bytes", (json_int_t)(d->o.cache_blocks << d->bs_shift), "model_hit_ratio",
		ratio(d->total.hits, d->total.misses), "curve", json_string("lru"), "points", pts,
		"keel_curve", keel_curve_json(d));
}
