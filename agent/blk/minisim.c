// SPDX-License-Identifier: GPL-2.0-only
/*
 * Miniature simulation of the three-queue cache (see minisim.h).  The
 * fraction of distinct keys sampled comes from a keel_shards of the same
 * rate and seed fed the same stream (its sampled-key table and HLL; its
 * curve is not used), so both estimates scale alike.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "blk/minisim.h"
#include "blk/shards.h"
#include "keel/cache.h"

#define SH_P (1u << 24)

struct mini {
	struct keel_cache *cache;
	__u64 capacity; /* miniature entries */
	__u64 misses;
};

struct keel_minisim {
	struct keel_minisim_opts o;
	__u32 t; /* sampled when hash >> 40 < t */
	__u64 accesses, sampled;
	struct keel_shards *keys; /* counts the sample for the fraction */
	struct mini *mini;
	__u32 n;
	__u64 entries, bytes;
};

void keel_minisim_free(struct keel_minisim *m)
{
	if (!m)
		return;
	for (__u32 i = 0; i < m->n; i++)
		keel_cache_free(m->mini[i].cache);
	free(m->mini);
	keel_shards_free(m->keys);
	free(m);
}

/* The miniature capacity of point @i of @points at @rate: at least 1. */
static __u64 mini_capacity(const struct keel_minisim_opts *o, double rate, __u32 i)
{
	double c = rate * (double)o->max_size * (i + 1) / o->points;

	return c < 1 ? 1 : (__u64)llround(c);
}

int keel_minisim_new(const struct keel_minisim_opts *o, struct keel_minisim **ret)
{
	struct keel_shards_opts so = { .mode = KEEL_SHARDS_FIXED_RATE, .max_size = 1, .bins = 1 };
	struct keel_minisim *m;
	double rate;
	__u64 sum = 0;
	int r;

	if (!(o->rate > 0 && o->rate <= 1) || !o->max_size || !o->points || o->points > 1024 ||
	    !o->max_entries)
		return -EINVAL;
	/* lower the rate until the caches fit in max_entries */
	for (rate = o->rate;; rate /= 2) {
		sum = 0;
		for (__u32 i = 0; i < o->points; i++)
			sum += mini_capacity(o, rate, i);
		if (sum <= o->max_entries)
			break;
		if (sum == o->points) /* every cache at 1 entry already */
			return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->o = *o;
	m->t = (__u32)(rate * SH_P);
	if (!m->t)
		m->t = 1;
	so.rate = (double)m->t / SH_P;
	so.max_samples = sum < 16 ? 16 : sum > (1u << 30) ? 1u << 30 : (__u32)sum;
	so.seed = o->seed;
	r = keel_shards_new(&so, &m->keys);
	m->mini = calloc(o->points, sizeof(*m->mini));
	if (r || !m->mini) {
		keel_minisim_free(m);
		return r ? r : -ENOMEM;
	}
	for (__u32 i = 0; i < o->points; i++) {
		struct keel_cache_opts co = { .shards = 1 };
		struct keel_cache_stats cs;

		co.capacity = mini_capacity(o, so.rate, i);
		if (m->n && m->mini[m->n - 1].capacity == co.capacity)
			continue; /* small rates give equal capacities */
		r = keel_cache_new(&co, &m->mini[m->n].cache);
		if (r) {
			keel_minisim_free(m);
			return r;
		}
		m->mini[m->n].capacity = co.capacity;
		keel_cache_get_stats(m->mini[m->n].cache, &cs);
		m->entries += co.capacity;
		m->bytes += cs.bytes_total;
		m->n++;
	}
	*ret = m;
	return 0;
}

void keel_minisim_access(struct keel_minisim *m, __u64 key)
{
	m->accesses++;
	keel_shards_access(m->keys, key); /* -ENOMEM: one key short */
	if ((keel_shards_key_hash(key, m->o.seed) >> 40) >= m->t)
		return;
	m->sampled++;
	for (__u32 i = 0; i < m->n; i++)
		if (!keel_cache_access(m->mini[i].cache, key))
			m->mini[i].misses++;
}

/*
 * The fraction of distinct keys below our threshold.  The counting sample
 * holds at most the caches' total entries; when a disk has more distinct
 * blocks than that it lowers its own threshold (fixed-size), and its
 * fraction, measured below that threshold, scales up to ours in proportion
 * (the hash is uniform; its sample is then large, so this is accurate).
 */
static double fraction(const struct keel_minisim *m)
{
	struct keel_shards_info si;

	keel_shards_get_info(m->keys, &si);
	return keel_shards_fraction(m->keys) * ((double)m->t / SH_P) / si.rate;
}

int keel_minisim_curve(const struct keel_minisim *m, __u32 n, const __u64 *size, double *ret_miss)
{
	double f = fraction(m), expected;

	if (!m->sampled || !(f > 0))
		return -EAGAIN;
	/* every sampled access stands for 1 / f accesses */
	expected = (double)m->accesses * f;
	for (__u32 k = 0; k < n; k++) {
		double x = (double)size[k], x0 = 0, y0 = 1, miss = -1;

		for (__u32 i = 0; i < m->n; i++) {
			double x1 = m->mini[i].capacity / f;
			double y1 = m->mini[i].misses / expected;

			y1 = y1 > 1 ? 1 : y1;
			if (x <= x1) {
				miss = x1 > x0 ? y0 + (y1 - y0) * (x - x0) / (x1 - x0) : y1;
				break;
			}
			x0 = x1;
			y0 = y1;
		}
		ret_miss[k] = miss < 0 ? y0 : miss;
	}
	return 0;
}

void keel_minisim_get_info(const struct keel_minisim *m, struct keel_minisim_info *ret)
{
	struct keel_shards_info si;

	keel_shards_get_info(m->keys, &si);
	ret->accesses = m->accesses;
	ret->sampled = m->sampled;
	ret->rate = (double)m->t / SH_P;
	ret->fraction = fraction(m);
	ret->caches = m->n;
	ret->entries = m->entries;
	ret->bytes = sizeof(*m) + m->o.points * sizeof(*m->mini) + m->bytes + si.bytes;
}
