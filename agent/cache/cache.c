// SPDX-License-Identifier: GPL-2.0
/*
 * keel three-queue cache.  The policy and the concurrency design are
 * described at the top of include/keel/cache.h; this file follows it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "keel/cache.h"
#include "cache/ghost.h"

#define NIL 0xffffffffu
#define FREQ_MAX 3
#define MIN_SHARD_SLOTS 16
#define MAX_LOOKUP_TRIES 8

enum slot_state { S_FREE = 0, S_COLD, S_HOT, S_DEAD };

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

struct fifo {
	__u32 head, tail;
};

struct shard {
	pthread_mutex_t lock;
	__u32 cap;		/* slots */
	__u32 base;		/* global number of slot 0 */
	__u32 nbuckets;
	__u32 stripe_mask;
	__u64 *keys;
	__u32 *next;		/* hash chain, or free list when free */
	__u32 *buckets;
	__u32 *seq;		/* one per stripe of buckets */
	__u8 *freq;		/* written by lookups, hence separate */
	__u8 *state;
	__u32 *qnext;		/* link on the cold or the hot queue */
	struct fifo cold, hot;
	__u32 free_head;
	__u32 ncold, nhot;
	__u32 cold_target, cold_min, cold_max;
	bool fixed;
	/* Share of recent ghost insertions that came from hot, averaged
	 * over the ghost window: ARC's |B2| / (|B1| + |B2|). */
	double ghost_hot_share;
	double cold_target_f;
	struct keel_ghost ghost;
	__u64 hits, misses, ghost_hits, promotions, evictions;
} __attribute__((aligned(64)));

struct keel_cache {
	__u32 nshards;
	__u32 shard_shift;	/* 64 - log2(nshards) */
	__u32 slots;
	__u64 capacity, ghost_capacity;
	struct shard *shards;
};

static __u64 mix64(__u64 x)
{
	/* splitmix64 finaliser: cheap and every input bit reaches every
	 * output bit, which both the bucket and shard choice rely on. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static __u64 ghost_hash(__u64 key)
{
	/* Independent of mix64(key) so the fingerprint does not repeat the
	 * bits that chose the shard. */
	return mix64(key ^ 0x9e3779b97f4a7c15ull);
}

static struct shard *shard_of(const struct keel_cache *c, __u64 h)
{
	return &c->shards[c->nshards == 1 ? 0 : h >> c->shard_shift];
}

static __u32 bucket_of(const struct shard *s, __u64 h)
{
	return (__u32)(((h & 0xffffffffull) * s->nbuckets) >> 32);
}

static void shard_fini(struct shard *s)
{
	free(s->keys);
	free(s->next);
	free(s->buckets);
	free(s->seq);
	free(s->freq);
	free(s->state);
	free(s->qnext);
	keel_ghost_fini(&s->ghost);
	pthread_mutex_destroy(&s->lock);
}

static __u64 shard_bytes(const struct shard *s)
{
	/* keys, chain, queue link, freq, state; then buckets, stripes */
	return (__u64)s->cap * (8 + 4 + 4 + 1 + 1) +
	       (__u64)s->nbuckets * sizeof(__u32) +
	       (__u64)(s->stripe_mask + 1) * sizeof(__u32) + sizeof(*s);
}

static int shard_init(struct shard *s, __u32 cap, __u32 base, __u32 ghost_cap,
		      const struct keel_cache_opts *o)
{
	__u32 nstripes = 1;
	__u32 pct = o->cold_pct ? o->cold_pct : 10;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->cap = cap;
	s->base = base;
	s->nbuckets = cap;
	while (nstripes * 8 < s->nbuckets && nstripes < 4096)
		nstripes <<= 1;
	s->stripe_mask = nstripes - 1;
	s->keys = calloc(cap, sizeof(*s->keys));
	s->next = calloc(cap, sizeof(*s->next));
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	s->seq = calloc(nstripes, sizeof(*s->seq));
	s->freq = calloc(cap, 1);
	s->state = calloc(cap, 1);
	s->qnext = calloc(cap, sizeof(*s->qnext));
	s->cold.head = s->cold.tail = s->hot.head = s->hot.tail = NIL;
	if (!s->keys || !s->next || !s->buckets || !s->seq || !s->freq ||
	    !s->state || !s->qnext || keel_ghost_init(&s->ghost, ghost_cap))
		return -ENOMEM;
	for (__u32 i = 0; i < s->nbuckets; i++)
		s->buckets[i] = NIL;
	for (__u32 i = 0; i < cap; i++)
		s->next[i] = i + 1 < cap ? i + 1 : NIL;
	s->free_head = 0;
	s->cold_min = cap / 100 ? cap / 100 : 1;
	s->cold_max = cap - cap / 10;
	s->cold_target = (__u32)((__u64)cap * pct / 100);
	if (s->cold_target < s->cold_min)
		s->cold_target = s->cold_min;
	if (s->cold_target > s->cold_max)
		s->cold_target = s->cold_max;
	s->fixed = o->fixed;
	s->cold_target_f = s->cold_target;
	return 0;
}

int keel_cache_new(const struct keel_cache_opts *o, struct keel_cache **ret)
{
	struct keel_cache *c;
	__u32 nshards = o->shards ? o->shards : 1;
	__u64 ghost = o->ghost_capacity ? o->ghost_capacity : o->capacity;
	__u32 base = 0;
	int err;

	if (!o->capacity || o->capacity >= NIL || ghost >= NIL ||
	    (nshards & (nshards - 1)) || o->cold_pct > 90)
		return -EINVAL;
	while (nshards > 1 && o->capacity / nshards < MIN_SHARD_SLOTS)
		nshards >>= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nshards = nshards;
	c->shard_shift = 64 - __builtin_ctz(nshards);
	c->capacity = o->capacity;
	c->ghost_capacity = ghost;
	c->slots = (__u32)o->capacity;
	c->shards = aligned_alloc(64, sizeof(*c->shards) * nshards);
	if (!c->shards) {
		free(c);
		return -ENOMEM;
	}
	memset(c->shards, 0, sizeof(*c->shards) * nshards);
	for (__u32 i = 0; i < nshards; i++) {
		__u32 cap = (__u32)(o->capacity / nshards +
				    (i < o->capacity % nshards));
		__u32 gcap = (__u32)(ghost / nshards + (i < ghost % nshards));

		err = shard_init(&c->shards[i], cap, base, gcap, o);
		base += cap;
		if (err) {
			c->nshards = i + 1;
			keel_cache_free(c);
			return err;
		}
	}
	*ret = c;
	return 0;
}

void keel_cache_free(struct keel_cache *c)
{
	if (!c)
		return;
	for (__u32 i = 0; i < c->nshards; i++)
		shard_fini(&c->shards[i]);
	free(c->shards);
	free(c);
}

/* Seqlock write side: readers of this stripe retry while it is odd. */
static void stripe_begin(struct shard *s, __u32 b)
{
	__u32 *q = &s->seq[b & s->stripe_mask];

	STORE_RLX(q, LOAD_RLX(q) + 1);
	/* The release stores that follow keep the odd value ordered first. */
}

static void stripe_end(struct shard *s, __u32 b)
{
	__u32 *q = &s->seq[b & s->stripe_mask];

	STORE(q, LOAD_RLX(q) + 1);
}

static __u32 find_locked(const struct shard *s, __u64 key, __u32 b)
{
	for (__u32 i = s->buckets[b]; i != NIL; i = s->next[i])
		if (s->keys[i] == key)
			return i;
	return NIL;
}

static void link_slot(struct shard *s, __u32 slot, __u64 key, __u32 b)
{
	stripe_begin(s, b);
	STORE(&s->keys[slot], key);
	STORE(&s->next[slot], s->buckets[b]);
	STORE(&s->buckets[b], slot);
	stripe_end(s, b);
}

static void unlink_slot(struct shard *s, __u32 slot)
{
	__u32 b = bucket_of(s, mix64(s->keys[slot]));
	__u32 *pp = &s->buckets[b];

	while (*pp != slot)
		pp = &s->next[*pp];
	stripe_begin(s, b);
	STORE(pp, s->next[slot]);
	stripe_end(s, b);
}

/* Intrusive singly-linked FIFO; a slot is on at most one queue. */
static void q_push(struct shard *s, struct fifo *q, __u32 slot)
{
	s->qnext[slot] = NIL;
	if (q->tail != NIL)
		s->qnext[q->tail] = slot;
	else
		q->head = slot;
	q->tail = slot;
}

static __u32 q_pop(struct shard *s, struct fifo *q)
{
	__u32 slot = q->head;

	q->head = s->qnext[slot];
	if (q->head == NIL)
		q->tail = NIL;
	return slot;
}

static void evicted(struct shard *s, __u32 slot, enum keel_ghost_origin o,
		    bool *ret_evicted, __u64 *ret_key)
{
	__u64 key = s->keys[slot];

	unlink_slot(s, slot);
	keel_ghost_add(&s->ghost, ghost_hash(key), o);
	s->ghost_hot_share += ((o == KEEL_GHOST_FROM_HOT) - s->ghost_hot_share) /
			      (double)s->ghost.window;
	s->evictions++;
	if (ret_evicted)
		*ret_evicted = true;
	if (ret_key)
		*ret_key = key;
}

/*
 * Free one slot, by the policy: the cold FIFO gives up its head while cold
 * is over its target, otherwise the hot CLOCK moves (FIFO with reinsertion:
 * a new hot entry always waits a full turn).  Called with the shard lock
 * held and no free slot left.
 */
static __u32 evict_one(struct shard *s, bool *ret_evicted, __u64 *ret_key)
{
	for (;;) {
		bool from_cold = s->ncold &&
				 (s->ncold > s->cold_target || !s->nhot);
		struct fifo *q = from_cold ? &s->cold : &s->hot;
		__u32 slot;
		__u8 f;

		/* Removed keys wait on their queue; reuse them first. */
		if (s->cold.head != NIL && s->state[s->cold.head] == S_DEAD)
			return q_pop(s, &s->cold);
		if (s->hot.head != NIL && s->state[s->hot.head] == S_DEAD)
			return q_pop(s, &s->hot);
		slot = q_pop(s, q);
		if (s->state[slot] == S_DEAD)
			return slot;
		f = LOAD_RLX(&s->freq[slot]);
		if (from_cold) {
			s->ncold--;
			if (f) {
				/* Re-referenced while cold: promote. */
				STORE_RLX(&s->freq[slot], f - 1);
				STORE_RLX(&s->state[slot], S_HOT);
				q_push(s, &s->hot, slot);
				s->nhot++;
				s->promotions++;
				continue;
			}
			evicted(s, slot, KEEL_GHOST_FROM_COLD, ret_evicted,
				ret_key);
			return slot;
		}
		if (f) {
			STORE_RLX(&s->freq[slot], f - 1);
			q_push(s, &s->hot, slot);
			continue;
		}
		s->nhot--;
		evicted(s, slot, KEEL_GHOST_FROM_HOT, ret_evicted, ret_key);
		return slot;
	}
}

/* ARC-style feedback: a ghost hit says which queue was too small. */
static void adapt(struct shard *s, enum keel_ghost_origin o)
{
	double hot = s->ghost_hot_share, cold = 1 - hot, t = s->cold_target_f;

	if (s->fixed)
		return;
	/* As ARC: a ghost hit of the rarer origin moves the target more,
	 * so each queue's ghost hits count per ghost entry it owns. */
	if (o == KEEL_GHOST_FROM_COLD)
		t += (hot > cold ? hot / (cold > 1e-3 ? cold : 1e-3) : 1);
	else
		t -= (cold > hot ? cold / (hot > 1e-3 ? hot : 1e-3) : 1);
	if (t < s->cold_min)
		t = s->cold_min;
	if (t > s->cold_max)
		t = s->cold_max;
	s->cold_target_f = t;
	s->cold_target = (__u32)t;
}

bool keel_cache_lookup(struct keel_cache *c, __u64 key, __u32 *ret_slot)
{
	__u64 h = mix64(key);
	struct shard *s = shard_of(c, h);
	__u32 b = bucket_of(s, h);
	__u32 *q = &s->seq[b & s->stripe_mask];

	for (int t = 0; t < MAX_LOOKUP_TRIES; t++) {
		__u32 s1 = LOAD(q), s2, i, steps = 0;

		if (s1 & 1) {
			__builtin_ia32_pause();
			continue;
		}
		i = LOAD(&s->buckets[b]);
		/* A chain seen mid-update may be wrong, never endless: the
		 * step bound ends a walk that wandered, the seq check
		 * retries it. */
		while (i != NIL && steps++ < s->cap && LOAD(&s->keys[i]) != key)
			i = LOAD(&s->next[i]);
		s2 = LOAD(q);
		if (s1 != s2)
			continue;
		if (i == NIL || steps > s->cap)
			return false;
		if (LOAD_RLX(&s->freq[i]) < FREQ_MAX)
			STORE_RLX(&s->freq[i], LOAD_RLX(&s->freq[i]) + 1);
		if (ret_slot)
			*ret_slot = s->base + i;
		return true;
	}
	/* Writers kept this stripe busy; a miss is the safe answer, the
	 * caller's insert will find the key and return -EEXIST. */
	return false;
}

int keel_cache_insert(struct keel_cache *c, __u64 key, __u32 *ret_slot,
		      bool *ret_evicted, __u64 *ret_evicted_key)
{
	__u64 h = mix64(key), gh = ghost_hash(key);
	struct shard *s = shard_of(c, h);
	__u32 b = bucket_of(s, h), slot;
	enum keel_ghost_origin o;

	if (ret_evicted)
		*ret_evicted = false;
	pthread_mutex_lock(&s->lock);
	slot = find_locked(s, key, b);
	if (slot != NIL) {
		pthread_mutex_unlock(&s->lock);
		if (ret_slot)
			*ret_slot = s->base + slot;
		return -EEXIST;
	}
	o = keel_ghost_take(&s->ghost, gh);
	if (s->free_head != NIL) {
		slot = s->free_head;
		s->free_head = s->next[slot];
	} else {
		slot = evict_one(s, ret_evicted, ret_evicted_key);
	}
	STORE_RLX(&s->freq[slot], 0);
	if (o != KEEL_GHOST_NONE) {
		s->ghost_hits++;
		adapt(s, o);
		STORE_RLX(&s->state[slot], S_HOT);
		q_push(s, &s->hot, slot);
		s->nhot++;
	} else {
		STORE_RLX(&s->state[slot], S_COLD);
		q_push(s, &s->cold, slot);
		s->ncold++;
	}
	link_slot(s, slot, key, b);
	pthread_mutex_unlock(&s->lock);
	if (ret_slot)
		*ret_slot = s->base + slot;
	return 0;
}

bool keel_cache_access(struct keel_cache *c, __u64 key)
{
	struct shard *s = shard_of(c, mix64(key));

	if (keel_cache_lookup(c, key, NULL)) {
		__atomic_fetch_add(&s->hits, 1, __ATOMIC_RELAXED);
		return true;
	}
	__atomic_fetch_add(&s->misses, 1, __ATOMIC_RELAXED);
	keel_cache_insert(c, key, NULL, NULL, NULL);
	return false;
}

int keel_cache_remove(struct keel_cache *c, __u64 key)
{
	__u64 h = mix64(key);
	struct shard *s = shard_of(c, h);
	__u32 slot;

	pthread_mutex_lock(&s->lock);
	slot = find_locked(s, key, bucket_of(s, h));
	if (slot == NIL) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	unlink_slot(s, slot);
	/* It stays on its queue until the head reaches it: unlinking from
	 * the middle of a singly-linked queue would cost a walk. */
	if (s->state[slot] == S_COLD)
		s->ncold--;
	else
		s->nhot--;
	STORE_RLX(&s->state[slot], S_DEAD);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

__u32 keel_cache_slots(const struct keel_cache *c)
{
	return c->slots;
}

bool keel_cache_slot_key(const struct keel_cache *c, __u32 slot,
			 __u64 *ret_key)
{
	const struct shard *s = NULL;
	__u8 st;

	for (__u32 i = 0; i < c->nshards; i++)
		if (slot >= c->shards[i].base &&
		    slot < c->shards[i].base + c->shards[i].cap)
			s = &c->shards[i];
	if (!s)
		return false;
	slot -= s->base;
	st = LOAD_RLX(&s->state[slot]);
	if (st != S_COLD && st != S_HOT)
		return false;
	*ret_key = LOAD(&s->keys[slot]);
	return true;
}

enum keel_cache_where keel_cache_where(struct keel_cache *c, __u64 key)
{
	__u64 h = mix64(key);
	struct shard *s = shard_of(c, h);
	enum keel_cache_where w = KEEL_CACHE_ABSENT;
	__u32 slot;

	pthread_mutex_lock(&s->lock);
	slot = find_locked(s, key, bucket_of(s, h));
	if (slot != NIL)
		w = s->state[slot] == S_HOT ? KEEL_CACHE_HOT : KEEL_CACHE_COLD;
	else if (keel_ghost_peek(&s->ghost, ghost_hash(key)) != KEEL_GHOST_NONE)
		w = KEEL_CACHE_GHOST;
	pthread_mutex_unlock(&s->lock);
	return w;
}

void keel_cache_get_stats(struct keel_cache *c, struct keel_cache_stats *r)
{
	__u64 meta = sizeof(*c), ghost = 0;

	memset(r, 0, sizeof(*r));
	r->capacity = c->capacity;
	r->ghost_capacity = c->ghost_capacity;
	for (__u32 i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];

		pthread_mutex_lock(&s->lock);
		r->cold += s->ncold;
		r->hot += s->nhot;
		r->ghost_live += keel_ghost_live(&s->ghost);
		r->cold_target += s->cold_target;
		r->hits += __atomic_load_n(&s->hits, __ATOMIC_RELAXED);
		r->misses += __atomic_load_n(&s->misses, __ATOMIC_RELAXED);
		r->ghost_hits += s->ghost_hits;
		r->promotions += s->promotions;
		r->evictions += s->evictions;
		meta += shard_bytes(s);
		ghost += keel_ghost_bytes(&s->ghost);
		pthread_mutex_unlock(&s->lock);
	}
	r->cached = r->cold + r->hot;
	r->bytes_per_entry = (double)meta / (double)c->capacity;
	r->bytes_per_ghost = (double)ghost / (double)c->ghost_capacity;
	r->bytes_total = meta + ghost;
}
