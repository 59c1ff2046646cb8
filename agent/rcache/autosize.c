// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-disk limits from live miss-ratio curves (autosize.h): a SHARDS
 * sampler per disk over the blocks looked up, and a periodic split of the
 * cache by keel_rcache_size.  One mutex guards the table and the
 * samplers: a lookup holds it for the few hash-table steps of its blocks,
 * a sizing run for 256 steps of dynamic programming over the disks.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk/shards.h"
#include "rcache/autosize.h"
#include "rcache/sizing.h"

#define BINS 256 /* curve points: the sizing's steps */

struct sampled {
	uint64_t id;
	struct keel_shards *mrc; /* NULL: the slot is free */
	uint64_t seen_at_run;	 /* accesses at the last run, to spot idle disks */
	unsigned int idle;	 /* runs without an access */
	bool sized;
	uint64_t target; /* blocks, from the last run */
	double expected_hit_ratio;
};

struct keel_rcache_autosize {
	struct keel_rcache_autosize_opts o;
	struct keel_rcache_store *st;
	uint64_t capacity;
	pthread_mutex_t lock;
	struct sampled *d;
	uint64_t runs;
	double last_expected;
};

int keel_rcache_autosize_new(const struct keel_rcache_autosize_opts *o,
			     struct keel_rcache_store *st, struct keel_rcache_autosize **ret)
{
	struct keel_rcache_store_stats t;
	struct keel_rcache_autosize *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->o = *o;
	if (!a->o.max_disks)
		a->o.max_disks = 64;
	if (!a->o.max_samples)
		a->o.max_samples = 4096;
	if (!a->o.idle_runs)
		a->o.idle_runs = 6;
	if (!a->o.min_reads)
		a->o.min_reads = 256;
	if (a->o.max_samples < 16 || a->o.max_disks > 65536) {
		free(a);
		return -EINVAL;
	}
	a->st = st;
	keel_rcache_store_stats(st, &t);
	a->capacity = t.capacity;
	a->d = calloc(a->o.max_disks, sizeof(*a->d));
	if (!a->d) {
		free(a);
		return -ENOMEM;
	}
	pthread_mutex_init(&a->lock, NULL);
	*ret = a;
	return 0;
}

void keel_rcache_autosize_free(struct keel_rcache_autosize *a)
{
	if (!a)
		return;
	for (unsigned int i = 0; i < a->o.max_disks; i++)
		keel_shards_free(a->d[i].mrc);
	pthread_mutex_destroy(&a->lock);
	free(a->d);
	free(a);
}

/* The disk's sampler, made on first sight; NULL when all are taken. Locked. */
static struct sampled *find(struct keel_rcache_autosize *a, uint64_t id, bool create)
{
	struct sampled *free_slot = NULL;

	for (unsigned int i = 0; i < a->o.max_disks; i++) {
		if (a->d[i].mrc && a->d[i].id == id)
			return &a->d[i];
		if (!a->d[i].mrc && !free_slot)
			free_slot = &a->d[i];
	}
	if (!create || !free_slot)
		return NULL;
	{
		/* fixed-size: every key sampled until max_samples, then the
		 * rate drops so the sampler's memory stays bounded */
		struct keel_shards_opts so = {
			.mode = KEEL_SHARDS_FIXED_SIZE,
			.rate = 1,
			.max_samples = a->o.max_samples,
			.max_size = a->capacity,
			.bins = BINS,
		};

		memset(free_slot, 0, sizeof(*free_slot));
		if (keel_shards_new(&so, &free_slot->mrc))
			return NULL;
		free_slot->id = id;
	}
	return free_slot;
}

void keel_rcache_autosize_access(struct keel_rcache_autosize *a, uint64_t disk_id, uint64_t block,
				 unsigned int n)
{
	struct sampled *s;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	s = find(a, disk_id, true);
	for (unsigned int i = 0; s && i < n; i++)
		keel_shards_access(s->mrc, block + i); /* -ENOMEM: one sample short */
	pthread_mutex_unlock(&a->lock);
}

static uint64_t accesses(const struct sampled *s)
{
	struct keel_shards_info si;

	keel_shards_get_info(s->mrc, &si);
	return si.accesses;
}

/* Free the samplers of disks idle for idle_runs runs; their limits go back
 * to the default.  Locked. */
static void expire_idle(struct keel_rcache_autosize *a)
{
	for (unsigned int i = 0; i < a->o.max_disks; i++) {
		struct sampled *s = &a->d[i];
		uint64_t n;

		if (!s->mrc)
			continue;
		n = accesses(s);
		s->idle = n == s->seen_at_run ? s->idle + 1 : 0;
		s->seen_at_run = n;
		if (s->idle < a->o.idle_runs)
			continue;
		if (s->sized)
			keel_rcache_store_set_limit(a->st, s->id, 0);
		keel_shards_free(s->mrc);
		memset(s, 0, sizeof(*s));
	}
}

int keel_rcache_autosize_run(struct keel_rcache_autosize *a)
{
	struct keel_rcache_curve *c = NULL;
	struct sampled **who = NULL;
	uint64_t *pts = NULL, *limits = NULL, given = 0;
	double *mr = NULL, hits = 0, reads = 0;
	unsigned int n = 0;
	int r = 0;

	pthread_mutex_lock(&a->lock);
	expire_idle(a);
	c = calloc(a->o.max_disks, sizeof(*c));
	who = calloc(a->o.max_disks, sizeof(*who));
	limits = calloc(a->o.max_disks, sizeof(*limits));
	pts = calloc((size_t)a->o.max_disks * BINS, sizeof(*pts));
	mr = calloc((size_t)a->o.max_disks * BINS, sizeof(*mr));
	if (!c || !who || !limits || !pts || !mr) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < a->o.max_disks; i++) {
		struct sampled *s = &a->d[i];
		__u64 size[BINS];
		uint32_t np;

		if (!s->mrc || accesses(s) < a->o.min_reads)
			continue;
		np = keel_shards_curve(s->mrc, size, mr + (size_t)n * BINS);
		if (!np)
			continue;
		for (uint32_t k = 0; k < np; k++)
			pts[(size_t)n * BINS + k] = size[k];
		c[n] = (struct keel_rcache_curve){ .disk_id = s->id,
						   .reads = (double)accesses(s),
						   .n = np,
						   .blocks = pts + (size_t)n * BINS,
						   .miss_ratio = mr + (size_t)n * BINS };
		reads += c[n].reads;
		who[n++] = s;
	}
	if (!n)
		goto out;
	r = keel_rcache_size(c, n, a->capacity, limits, &hits);
	if (r)
		goto out;
	/* what no disk's curve asks for (past every working set) is shared
	 * evenly rather than left unused: the limits add up to the capacity */
	for (unsigned int i = 0; i < n; i++)
		given += limits[i];
	for (unsigned int i = 0; i < n && given < a->capacity; i++) {
		uint64_t left = a->capacity - given, extra = left / (n - i);

		limits[i] += extra;
		given += extra;
	}
	for (unsigned int i = 0; i < n; i++) {
		who[i]->target = limits[i] ? limits[i] : 1;
		who[i]->sized = true;
		who[i]->expected_hit_ratio = 1 - keel_rcache_curve_miss(&c[i], limits[i]);
		keel_rcache_store_set_limit(a->st, who[i]->id, who[i]->target);
	}
	a->runs++;
	a->last_expected = reads > 0 ? hits / reads : 0;
	r = (int)n;
out:
	pthread_mutex_unlock(&a->lock);
	free(c);
	free(who);
	free(limits);
	free(pts);
	free(mr);
	return r;
}

static json_t *curve_json(const struct sampled *s)
{
	__u64 size[BINS];
	double miss[BINS];
	uint32_t n = keel_shards_curve(s->mrc, size, miss);
	json_t *pts = json_array();

	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(pts, json_pack("[I, f]", (json_int_t)size[i], miss[i]));
	return pts;
}

void keel_rcache_autosize_annotate(struct keel_rcache_autosize *a, json_t *disks)
{
	size_t i;
	json_t *d;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	json_array_foreach(disks, i, d) {
		const char *idtext = json_string_value(json_object_get(d, "disk_id"));
		uint64_t id = idtext ? strtoull(idtext, NULL, 16) : 0;
		struct sampled *s = idtext ? find(a, id, false) : NULL;

		json_object_set_new(d, "sized", json_boolean(s && s->sized));
		json_object_set_new(d, "target_blocks",
				    s && s->sized ? json_integer((json_int_t)s->target) :
						    json_null());
		json_object_set_new(d, "expected_hit_ratio",
				    s && s->sized ? json_real(s->expected_hit_ratio) : json_null());
		json_object_set_new(d, "curve_reads",
				    json_integer(s ? (json_int_t)accesses(s) : 0));
		json_object_set_new(d, "curve", s ? curve_json(s) : json_array());
	}
	pthread_mutex_unlock(&a->lock);
}

json_t *keel_rcache_autosize_json(struct keel_rcache_autosize *a)
{
	uint64_t bytes = 0;
	unsigned int n = 0;
	json_t *j;

	if (!a)
		return json_null();
	pthread_mutex_lock(&a->lock);
	for (unsigned int i = 0; i < a->o.max_disks; i++) {
		struct keel_shards_info si;

		if (!a->d[i].mrc)
			continue;
		keel_shards_get_info(a->d[i].mrc, &si);
		bytes += si.bytes;
		n++;
	}
	j = json_pack("{s:I, s:i, s:i, s:f, s:I}", "runs", (json_int_t)a->runs, "sampled_disks",
		      (int)n, "max_sampled_disks", (int)a->o.max_disks, "last_expected_hit_ratio",
		      a->last_expected, "memory_bytes", (json_int_t)bytes);
	pthread_mutex_unlock(&a->lock);
	return j;
}
