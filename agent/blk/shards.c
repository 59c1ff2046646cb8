// SPDX-License-Identifier: GPL-2.0-only
/*
 * SHARDS miss-ratio curves (see shards.h).
 *
 * Reuse distances among the sampled keys come from a Fenwick tree over
 * "time slots": each sampled key owns the slot of its last access, so the
 * number of keys touched since that access is the count of owned slots
 * after it.  Slots run out every 2 x capacity accesses; they are then
 * renumbered in order (O(n)), which keeps memory proportional to the keys
 * held, never to the length of the stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk/distinct.h"
#include "blk/shards.h"
#include "common/mix64.h"

#define SH_P	(1u << 24) /* hash space for the sampling threshold */
#define NIL	0xffffffffu
#define MIN_CAP 16u

struct ent {
	__u64 key;
	__u32 h;    /* sampling hash, < SH_P */
	__u32 slot; /* NIL while the entry is free */
};

struct keel_shards {
	struct keel_shards_opts o;
	__u32 t; /* threshold: sampled when h < t */
	__u64 width;
	__u64 accesses, sampled;
	double *hist;		  /* o.bins bins of width `width` */
	double total;		  /* sampled accesses, rescaled as t drops */
	__u64 seed;		  /* mixed into every key: picks the sample */
	double distinct;	  /* the HLL's last estimate of the distinct keys */
	bool distinct_stale;	  /* a register moved since */
	struct keel_distinct hll; /* every key offered */
	struct ent *ent;
	__u32 n, cap;	 /* live entries, allocated entries */
	__u32 free_head; /* free entries, linked through .key */
	__u32 *heap;	 /* live entries, max-heap on h */
	__u32 *tab;	 /* open addressing: entry index or NIL */
	__u32 tmask;
	__u32 *owner; /* slot -> entry index or NIL */
	__u32 *bit;   /* Fenwick tree over slots, 1-based */
	__u32 nslots, now;
};

/* The key's hash: table position, sampling threshold (top 24 bits). */
static __u64 key_hash(const struct keel_shards *s, __u64 key)
{
	return keel_mix64(key ^ s->seed);
}

static void bit_add(struct keel_shards *s, __u32 slot, int v)
{
	for (__u32 i = slot + 1; i <= s->nslots; i += i & -i)
		s->bit[i] += v;
}

static __u32 bit_prefix(const struct keel_shards *s, __u32 k)
{
	__u32 sum = 0;

	for (__u32 i = k; i > 0; i -= i & -i)
		sum += s->bit[i];
	return sum;
}

static __u32 tab_find(const struct keel_shards *s, __u64 key, __u64 m)
{
	for (__u32 i = m & s->tmask;; i = (i + 1) & s->tmask) {
		__u32 e = s->tab[i];

		if (e == NIL || s->ent[e].key == key)
			return i;
	}
}

/* Backward-shift deletion keeps probe chains without tombstones. */
static void tab_delete(struct keel_shards *s, __u32 i)
{
	for (__u32 j = (i + 1) & s->tmask;; j = (j + 1) & s->tmask) {
		__u32 e = s->tab[j], home;

		if (e == NIL)
			break;
		home = key_hash(s, s->ent[e].key) & s->tmask;
		/* may e move to i?  yes unless its home lies in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			s->tab[i] = e;
			i = j;
		}
	}
	s->tab[i] = NIL;
}

static void heap_swap(__u32 *h, __u32 a, __u32 b)
{
	__u32 t = h[a];

	h[a] = h[b];
	h[b] = t;
}

static void heap_push(struct keel_shards *s, __u32 e, __u32 nheap)
{
	__u32 i = nheap;

	s->heap[i] = e;
	while (i && s->ent[s->heap[(i - 1) / 2]].h < s->ent[s->heap[i]].h) {
		heap_swap(s->heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static __u32 heap_pop(struct keel_shards *s, __u32 nheap)
{
	__u32 top = s->heap[0], i = 0;

	s->heap[0] = s->heap[--nheap];
	for (;;) {
		__u32 l = 2 * i + 1, r = l + 1, m = i;

		if (l < nheap && s->ent[s->heap[l]].h > s->ent[s->heap[m]].h)
			m = l;
		if (r < nheap && s->ent[s->heap[r]].h > s->ent[s->heap[m]].h)
			m = r;
		if (m == i)
			break;
		heap_swap(s->heap, i, m);
		i = m;
	}
	return top;
}

/* Renumber the owned slots 0..n-1 in order into arrays of nslots. */
static void compact(struct keel_shards *s, __u32 *owner, __u32 *bit, __u32 nslots)
{
	__u32 k = 0;

	for (__u32 i = 0; i < s->now; i++) {
		__u32 e = s->owner[i];

		if (e == NIL)
			continue;
		s->ent[e].slot = k;
		owner[k++] = e;
	}
	for (__u32 i = k; i < nslots; i++)
		owner[i] = NIL;
	memset(bit, 0, (nslots + 1) * sizeof(*bit));
	/* linear Fenwick build: each node passes its sum to its parent */
	for (__u32 i = 1; i <= nslots; i++) {
		__u32 p = i + (i & -i);

		bit[i] += i <= k;
		if (p <= nslots)
			bit[p] += bit[i];
	}
	s->now = k;
}

static int grow(struct keel_shards *s, __u32 cap)
{
	__u32 tsize = 1, nslots = 2 * cap;
	struct ent *ent;
	__u32 *heap, *tab, *owner, *bit;

	while (tsize < 2 * cap)
		tsize <<= 1;
	ent = realloc(s->ent, cap * sizeof(*ent));
	if (!ent)
		return -ENOMEM;
	s->ent = ent;
	heap = realloc(s->heap, cap * sizeof(*heap));
	if (!heap)
		return -ENOMEM;
	s->heap = heap;
	tab = malloc(tsize * sizeof(*tab));
	owner = malloc(nslots * sizeof(*owner));
	bit = malloc((nslots + 1) * sizeof(*bit));
	if (!tab || !owner || !bit) {
		free(tab);
		free(owner);
		free(bit);
		return -ENOMEM;
	}
	for (__u32 i = s->cap; i < cap; i++) {
		ent[i].slot = NIL;
		ent[i].key = s->free_head;
		s->free_head = i;
	}
	memset(tab, 0xff, tsize * sizeof(*tab));
	free(s->tab);
	s->tab = tab;
	s->tmask = tsize - 1;
	for (__u32 i = 0; i < s->cap; i++)
		if (ent[i].slot != NIL)
			tab[tab_find(s, ent[i].key, key_hash(s, ent[i].key))] = i;
	compact(s, owner, bit, nslots);
	free(s->owner);
	free(s->bit);
	s->owner = owner;
	s->bit = bit;
	s->nslots = nslots;
	s->cap = cap;
	return 0;
}

int keel_shards_new(const struct keel_shards_opts *o, struct keel_shards **ret)
{
	struct keel_shards *s;
	int r;

	if (!(o->rate > 0 && o->rate <= 1) || o->max_samples < MIN_CAP || !o->max_size ||
	    !o->bins || o->bins > 65536 ||
	    (o->mode != KEEL_SHARDS_FIXED_RATE && o->mode != KEEL_SHARDS_FIXED_SIZE))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	s->t = (__u32)(o->rate * SH_P);
	if (!s->t)
		s->t = 1;
	s->width = (o->max_size + o->bins - 1) / o->bins;
	s->free_head = NIL;
	/* seed 0 keeps the plain hash, so curves stay as they were */
	s->seed = o->seed ? keel_mix64(o->seed) : 0;
	keel_distinct_init(&s->hll);
	s->distinct_stale = true;
	s->hist = calloc(o->bins, sizeof(*s->hist));
	r = s->hist ? grow(s, MIN_CAP) : -ENOMEM;
	if (r) {
		keel_shards_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void keel_shards_free(struct keel_shards *s)
{
	if (!s)
		return;
	free(s->hist);
	free(s->ent);
	free(s->heap);
	free(s->tab);
	free(s->owner);
	free(s->bit);
	free(s);
}

/*
 * The fraction of the distinct keys the sample holds, from two estimates
 * weighed by the inverse of their variances: the HLL's K / U (relative
 * variance 1.04^2 / 2^14, whatever K) and the rate (binomial: (1 - rate) / K
 * relative).  With a few hundred keys the HLL's is far better; with tens
 * of thousands the rate's is, and at rate 1 it is exact.  @others asks for
 * the fraction among the keys other than one sampled key (a reuse's own key
 * is sampled for sure): (K - 1) / (U - 1).
 */
static double sample_fraction(const struct keel_shards *s, double u, bool others)
{
	double rate = (double)s->t / SH_P, k = s->n, f, w_hll, w_rate;

	if (u < k)
		u = k;
	if (others) {
		k -= 1;
		u -= 1;
	}
	if (k <= 0 || u <= 0 || rate >= 1)
		return rate;
	f = k / u;
	w_hll = KEEL_DISTINCT_M / (1.04 * 1.04);
	w_rate = k / (1 - rate);
	return (f * w_hll + rate * w_rate) / (w_hll + w_rate);
}

/*
 * A reuse with @dist sampled keys in between: each of them stands for
 * 1 / fraction of the other distinct keys.
 */
static void record(struct keel_shards *s, __u64 dist, bool cold)
{
	double scaled = 0;
	__u64 bin;

	s->total += 1;
	if (cold)
		return;
	if (s->t == SH_P) {
		scaled = dist;
	} else if (dist) {
		if (s->distinct_stale) {
			s->distinct = keel_distinct_estimate(&s->hll);
			s->distinct_stale = false;
		}
		scaled = dist / sample_fraction(s, s->distinct, true);
	}
	bin = (__u64)(scaled / (double)s->width);
	if (bin < s->o.bins)
		s->hist[bin] += 1;
}

/* Lower the threshold to @t: the histogram now stands for fewer samples. */
static void lower_t(struct keel_shards *s, __u32 t)
{
	double f = (double)t / s->t;

	for (__u32 i = 0; i < s->o.bins; i++)
		s->hist[i] *= f;
	s->total *= f;
	s->t = t;
}

static void release(struct keel_shards *s, __u32 e)
{
	struct ent *x = &s->ent[e];

	tab_delete(s, tab_find(s, x->key, key_hash(s, x->key)));
	s->owner[x->slot] = NIL;
	bit_add(s, x->slot, -1);
	x->slot = NIL;
	x->key = s->free_head;
	s->free_head = e;
	s->n--;
}

/* Full at max_samples: make room for a key of hash @h, or refuse it. */
static bool make_room(struct keel_shards *s, __u32 h)
{
	__u32 hm = s->ent[s->heap[0]].h;

	if (h >= hm) {
		lower_t(s, h > hm ? h : hm);
		if (h == hm)
			goto evict;
		return false;
	}
	lower_t(s, hm);
evict:
	while (s->n && s->ent[s->heap[0]].h >= s->t)
		release(s, heap_pop(s, s->n));
	return h < s->t;
}

int keel_shards_access(struct keel_shards *s, __u64 key)
{
	__u64 m = key_hash(s, key);
	__u32 h = m >> 40, i, e;
	struct ent *x;

	s->accesses++;
	/* an independent hash for the sketch: its error must not follow the
	 * sample's */
	if (keel_distinct_add(&s->hll, keel_mix64(m + 0x9e3779b97f4a7c15ull)))
		s->distinct_stale = true;
	if (h >= s->t)
		return 0;
	i = tab_find(s, key, m);
	e = s->tab[i];
	if (e != NIL) {
		x = &s->ent[e];
		s->sampled++;
		record(s, bit_prefix(s, s->now) - bit_prefix(s, x->slot + 1), false);
		s->owner[x->slot] = NIL;
		bit_add(s, x->slot, -1);
	} else {
		if (s->n == s->cap) {
			if (s->cap < s->o.max_samples) {
				__u64 nc = (__u64)s->cap * 2;
				int r = grow(s, nc > s->o.max_samples ? s->o.max_samples : nc);

				if (r)
					return r;
			} else if (!make_room(s, h)) {
				return 0; /* no longer sampled at the new rate */
			}
			i = tab_find(s, key, m);
		}
		s->sampled++;
		record(s, 0, true);
		e = s->free_head;
		x = &s->ent[e];
		s->free_head = (__u32)x->key;
		x->key = key;
		x->h = h;
		s->tab[i] = e;
		heap_push(s, e, s->n);
		s->n++;
	}
	if (s->now == s->nslots)
		compact(s, s->owner, s->bit, s->nslots);
	x->slot = s->now;
	s->owner[s->now] = e;
	bit_add(s, s->now, 1);
	s->now++;
	return 0;
}

__u32 keel_shards_curve(const struct keel_shards *s, __u64 *ret_size, double *ret_miss)
{
	double expected, cum;

	if (!s->sampled || s->total <= 0)
		return 0;
	/* SHARDS_adj: the sample should have drawn N K / U accesses (its share
	 * of the distinct keys times all accesses); one that drew more or
	 * fewer is off mostly in its first bin, through its hottest keys.  So
	 * the misses are the sample's misses scaled by U / K, and the curve
	 * ends at the cold-miss ratio U / N. */
	expected = (double)s->accesses * keel_shards_fraction(s);
	if (expected <= 0)
		return 0;
	cum = expected - s->total;
	for (__u32 i = 0; i < s->o.bins; i++) {
		double miss;

		cum += s->hist[i];
		miss = 1 - cum / expected;
		ret_size[i] = (i + 1) * s->width;
		ret_miss[i] = miss < 0 ? 0 : miss > 1 ? 1 : miss;
	}
	return s->o.bins;
}

double keel_shards_fraction(const struct keel_shards *s)
{
	if (s->t == SH_P)
		return 1;
	return sample_fraction(s, keel_distinct_estimate(&s->hll), false);
}

__u64 keel_shards_key_hash(__u64 key, __u64 seed)
{
	return keel_mix64(key ^ (seed ? keel_mix64(seed) : 0));
}

void keel_shards_get_info(const struct keel_shards *s, struct keel_shards_info *ret)
{
	ret->accesses = s->accesses;
	ret->sampled = s->sampled;
	ret->keys = s->n;
	ret->rate = (double)s->t / SH_P;
	ret->distinct = s->t == SH_P ? s->n : keel_distinct_estimate(&s->hll);
	ret->bin_width = s->width;
	ret->bytes = sizeof(*s) + s->o.bins * sizeof(*s->hist) +
		     s->cap * (sizeof(*s->ent) + sizeof(*s->heap)) +
		     (s->tmask + 1) * sizeof(*s->tab) + s->nslots * sizeof(*s->owner) +
		     (s->nslots + 1) * sizeof(*s->bit);
}
