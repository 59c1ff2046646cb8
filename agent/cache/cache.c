// SPDX-License-Identifier: GPL-2.0-only
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
#include "cache/sketch.h"
#include "common/mix64.h"

#define NIL	   0xffffffffu
#define FREQ_MAX   3
#define FREQ_MASK  3u
#define EPOCH_BITS 14
#define EPOCH_MASK ((1u << EPOCH_BITS) - 1)
/*
 * A hit rewrites the mark's epoch only once it is 1/16 of the shard's
 * capacity in misses old (shard_ro.mark_epochs).  Rewriting it at every
 * new epoch had 43% of the hits write their slot's line (Zipf(0.99), 1M
 * keys, 200k entries, 2 threads), which other cores hitting the same hot
 * keys must then fetch again; now 27% (the rest: counters the hand
 * decremented).  Ages are compared at the scale of the whole cache: the
 * miss-ratio table kept its 18 cells.
 */
#define MARK_FRACTION 16
/*
 * A hit raises the counter past 1 only when the entry's recorded reference
 * is at least 1/5 of the shard's capacity in misses old: a burst of hits
 * (a write read back at once, a block read in pieces) counts as one
 * reference, and only reuse spread over time earns the extra passes of the
 * hot hand.  Counting every hit let such bursts sit in hot for three
 * passes: cloudPhysicsIO 10% 0.7520 (lost to LIRS's 0.7519), now 0.7514;
 * 19 cells instead of 18 (docs/cache.md).
 */
#define REUSE_FRACTION	 5
#define MIN_SHARD_SLOTS	 16
#define MAX_LOOKUP_TRIES 8

enum slot_state { S_FREE = 0, S_COLD, S_HOT, S_DEAD };

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* Policy constants; measured on the public traces (docs/cache.md). */
#define COLD_PCT_DEFAULT   1 /* LIRS's 1% for resident HIR keys */
#define GHOST_PER_ENTRY	   2 /* ghost fingerprints per cache entry */
#define GHOST_WINDOW_EXTRA 6 /* + 6 x capacity misses of recency */
#define NEAR_MISS	   2 /* a ghost hit within 2 x cold grows cold */
#define NEAR_MISS_MIN_PCT  5 /* ... or within 2 x 5% of the cache */
#define NEAR_MISS_MIN	   4 /* ... or within 4 misses (tiny caches) */
#define HOT_NEAR	   2 /* a hot ghost hit within 2 x the hand's age */
/*
 * A ghost hit is admitted to hot when its reuse distance is below 3/5 of
 * the age of hot's CLOCK victim.  The victim's age overstates LIRS's
 * yardstick (the recency of the bottom LIR block): it counts whole epochs,
 * and CLOCK's victim is the first unreferenced entry at the hand, not
 * the least recent one.  Factors 0.5-0.7 win about as many cells; 1.0 (the
 * raw age) won 15 of 32 instead of 18 (cloudPhysicsIO 10% lost by 0.0033
 * instead of 0.0001, sprite 1% lost; docs/cache.md).
 */
#define ADMIT_NUM 3
#define ADMIT_DEN 5
/*
 * The frequency sketch (sketch.h): at most 2 counters of 4 bits per cached
 * entry (0.5-1 B), halved every 10 x the capacity in increments, TinyLFU's
 * sample size W = 10 C.  Neither was fitted: the budget is 1 B per
 * entry, and halving every 4-32 x moved the figure by about 0.001
 * (docs/cache.md, "Third round").
 */
#define SKETCH_PER_ENTRY 2
#define SKETCH_PERIOD	 10

/*
 * One slot: what a lookup reads (key, chain) and writes (meta) share one
 * 16-byte record, so a hit touches two cache lines: bucket and slot.
 */
struct slot {
	__u64 key;
	__u32 next; /* hash chain, or free list when free */
	__u16 meta; /* epoch of last reference << 2 | counter */
	__u8 state;
	__u8 pad;
} __attribute__((aligned(16)));

struct fifo {
	__u32 head, tail;
};

/*
 * What lookups read, on its own cache lines: the writer's lock, queues and
 * counters below change on every miss and must not invalidate it.
 */
struct shard_ro {
	__u32 cap;  /* slots */
	__u32 base; /* global number of slot 0 */
	__u32 nbuckets;
	__u32 stripe_mask;
	__u32 mark_epochs;  /* epochs a mark's epoch is kept on hits */
	__u32 reuse_epochs; /* age of a mark at which a hit counts again */
	struct slot *e;
	__u32 *buckets;
	__u32 *seq; /* one per stripe of buckets */
} __attribute__((aligned(64)));

struct shard {
	struct shard_ro ro;
	/* Written by the writer once per epoch (2^eshift misses) only. */
	__u32 epoch __attribute__((aligned(64)));
	pthread_mutex_t lock __attribute__((aligned(64)));
	__u32 now; /* misses so far: the shard's clock */
	__u32 eshift;
	__u32 *qnext; /* link on the cold or the hot queue */
	struct fifo cold, hot;
	__u32 free_head;
	__u32 ncold, nhot;
	__u32 cold_target, cold_min, cold_max;
	bool fixed;
	double cold_target_f;
	struct keel_ghost ghost;
	struct keel_sketch freq; /* misses and collected references */
	__u64 ghost_hits, ghost_rejects, promotions, promotion_vetoes, evictions;
} __attribute__((aligned(64)));

/*
 * keel_cache_access()'s hit and miss counts: one line per stripe, a thread
 * writes the stripe its first access picked, so threads do not share the
 * counters' lines (a per-shard counter was written by every thread hitting
 * the shard, and shared a line with the writer's fields).
 */
#define STAT_STRIPES 16
struct stat_stripe {
	__u64 hits, misses;
} __attribute__((aligned(64)));

static __thread __u32 tls_stripe; /* 0: not picked yet */
static __u32 next_stripe;

struct keel_cache {
	__u32 nshards;
	__u32 shard_shift; /* 64 - log2(nshards) */
	__u32 slots;
	__u64 capacity, ghost_capacity;
	struct shard *shards;
	struct stat_stripe *stats; /* STAT_STRIPES */
};

static __u64 ghost_hash(__u64 key)
{
	/* Independent of keel_mix64(key) so the fingerprint does not repeat the
	 * bits that chose the shard. */
	return keel_mix64(key ^ 0x9e3779b97f4a7c15ull);
}

static struct shard *shard_of(const struct keel_cache *c, __u64 h)
{
	return &c->shards[c->nshards == 1 ? 0 : h >> c->shard_shift];
}

static __u32 bucket_of(const struct shard_ro *r, __u64 h)
{
	return (__u32)(((h & 0xffffffffull) * r->nbuckets) >> 32);
}

static void shard_fini(struct shard *s)
{
	free(s->ro.e);
	free(s->ro.buckets);
	free(s->ro.seq);
	free(s->qnext);
	keel_ghost_fini(&s->ghost);
	keel_sketch_fini(&s->freq);
	pthread_mutex_destroy(&s->lock);
}

static __u64 shard_bytes(const struct shard *s)
{
	/* slots, queue links; then buckets, stripes */
	return (__u64)s->ro.cap * (sizeof(struct slot) + 4) +
	       (__u64)s->ro.nbuckets * sizeof(__u32) +
	       (__u64)(s->ro.stripe_mask + 1) * sizeof(__u32) + sizeof(*s);
}

/* cap x n, kept within 32 bits for the largest shards. */
static __u32 sketch_size(__u32 cap, __u32 n)
{
	__u64 v = (__u64)cap * n;

	return v > 0xffffffffu ? 0xffffffffu : (__u32)v;
}

static int shard_init(struct shard *s, __u32 cap, __u32 base, __u32 ghost_cap,
		      const struct keel_cache_opts *o)
{
	struct shard_ro *r = &s->ro;
	__u32 nstripes = 1;
	__u32 pct = o->cold_pct ? o->cold_pct : COLD_PCT_DEFAULT;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	r->cap = cap;
	r->base = base;
	/* 15 buckets per 16 entries: chains of 1.07 on average, and 3.75 B
	 * instead of 4 per entry, which keeps the total under 24 B. */
	r->nbuckets = cap - cap / 16;
	while (nstripes * 8 < r->nbuckets && nstripes < 1024)
		nstripes <<= 1;
	r->stripe_mask = nstripes - 1;
	r->e = aligned_alloc(64, ((size_t)cap * sizeof(*r->e) + 63) & ~(size_t)63);
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	r->seq = calloc(nstripes, sizeof(*r->seq));
	s->qnext = calloc(cap, sizeof(*s->qnext));
	s->cold.head = s->cold.tail = s->hot.head = s->hot.tail = NIL;
	/* Epochs are 2^eshift misses; 2^14 of them span 64 x the cache, so
	 * the ages compared below never wrap in practice. */
	while (((__u64)1 << (EPOCH_BITS + s->eshift)) < (__u64)cap * 64)
		s->eshift++;
	r->mark_epochs = (cap / MARK_FRACTION) >> s->eshift;
	if (!r->mark_epochs)
		r->mark_epochs = 1;
	r->reuse_epochs = (cap / REUSE_FRACTION) >> s->eshift;
	if (!r->e || !r->buckets || !r->seq || !s->qnext ||
	    keel_ghost_init(&s->ghost, ghost_cap, ghost_cap + cap * GHOST_WINDOW_EXTRA) ||
	    keel_sketch_init(&s->freq, sketch_size(cap, SKETCH_PER_ENTRY),
			     sketch_size(cap, SKETCH_PERIOD)))
		return -ENOMEM;
	for (__u32 i = 0; i < r->nbuckets; i++)
		r->buckets[i] = NIL;
	memset(r->e, 0, (size_t)cap * sizeof(*r->e));
	for (__u32 i = 0; i < cap; i++)
		r->e[i].next = i + 1 < cap ? i + 1 : NIL;
	s->free_head = 0;
	s->cold_min = cap / 100 ? cap / 100 : 1;
	/* Hot keeps at least one entry: on pure-recency traces (zigzag) cold
	 * must become the whole cache, a FIFO, which is LRU's figure there; a
	 * 1% floor cost zigzag 0.0022 at 30% and nothing elsewhere. */
	s->cold_max = cap - 1;
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
	__u64 ghost = o->ghost_capacity ? o->ghost_capacity : o->capacity * GHOST_PER_ENTRY;
	__u32 base = 0;
	int err;

	if (!o->capacity || o->capacity >= NIL || ghost >= NIL / 4 || (nshards & (nshards - 1)) ||
	    o->cold_pct > 90)
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
	c->stats = aligned_alloc(64, sizeof(*c->stats) * STAT_STRIPES);
	if (!c->shards || !c->stats) {
		free(c->shards);
		free(c->stats);
		free(c);
		return -ENOMEM;
	}
	memset(c->stats, 0, sizeof(*c->stats) * STAT_STRIPES);
	memset(c->shards, 0, sizeof(*c->shards) * nshards);
	for (__u32 i = 0; i < nshards; i++) {
		__u32 cap = (__u32)(o->capacity / nshards + (i < o->capacity % nshards));
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
	free(c->stats);
	free(c);
}

/* Seqlock write side: readers of this stripe retry while it is odd. */
static void stripe_begin(struct shard *s, __u32 b)
{
	__u32 *q = &s->ro.seq[b & s->ro.stripe_mask];

	STORE_RLX(q, LOAD_RLX(q) + 1);
	/* The release stores that follow keep the odd value ordered first. */
}

static void stripe_end(struct shard *s, __u32 b)
{
	__u32 *q = &s->ro.seq[b & s->ro.stripe_mask];

	STORE(q, LOAD_RLX(q) + 1);
}

static __u32 find_locked(const struct shard *s, __u64 key, __u32 b)
{
	const struct shard_ro *r = &s->ro;

	for (__u32 i = r->buckets[b]; i != NIL; i = r->e[i].next)
		if (r->e[i].key == key)
			return i;
	return NIL;
}

static void link_slot(struct shard *s, __u32 slot, __u64 key, __u32 b)
{
	struct shard_ro *r = &s->ro;

	stripe_begin(s, b);
	STORE(&r->e[slot].key, key);
	STORE(&r->e[slot].next, r->buckets[b]);
	STORE(&r->buckets[b], slot);
	stripe_end(s, b);
}

static void unlink_slot(struct shard *s, __u32 slot)
{
	struct shard_ro *r = &s->ro;
	__u32 b = bucket_of(r, keel_mix64(r->e[slot].key));
	__u32 *pp = &r->buckets[b];

	while (*pp != slot)
		pp = &r->e[*pp].next;
	stripe_begin(s, b);
	STORE(pp, r->e[slot].next);
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

static __u32 cur_epoch(const struct shard *s)
{
	return (s->now >> s->eshift) & EPOCH_MASK;
}

/* Misses since the slot's last reference, to epoch precision. */
static __u32 slot_age(const struct shard *s, __u32 slot)
{
	__u32 e = LOAD_RLX(&s->ro.e[slot].meta) >> 2;

	return ((cur_epoch(s) - e) & EPOCH_MASK) << s->eshift;
}

static void set_meta(struct shard *s, __u32 slot, __u32 freq)
{
	STORE_RLX(&s->ro.e[slot].meta, (__u16)(cur_epoch(s) << 2 | freq));
}

static void freq_dec(struct shard *s, __u32 slot)
{
	__u16 m = LOAD_RLX(&s->ro.e[slot].meta);

	STORE_RLX(&s->ro.e[slot].meta, (__u16)(m - 1));
}

static void evicted(struct shard *s, __u32 slot, enum keel_ghost_origin o, bool *ret_evicted,
		    __u64 *ret_key)
{
	__u64 key = s->ro.e[slot].key;

	unlink_slot(s, slot);
	keel_ghost_add(&s->ghost, ghost_hash(key), o, s->now - slot_age(s, slot), s->now);
	s->evictions++;
	if (ret_evicted)
		*ret_evicted = true;
	if (ret_key)
		*ret_key = key;
}

static void to_hot(struct shard *s, __u32 slot)
{
	STORE_RLX(&s->ro.e[slot].state, S_HOT);
	q_push(s, &s->hot, slot);
	s->nhot++;
}

/*
 * A reference the miss path collects from a slot's counter (the hand
 * passing it, a promotion) goes into the sketch: hits themselves write
 * nothing but the mark, so this is how the sketch learns of them, at most
 * once per counter step.
 */
static void freq_collect(struct shard *s, __u32 slot)
{
	freq_dec(s, slot);
	keel_sketch_add(&s->freq, ghost_hash(s->ro.e[slot].key));
}

static __u32 key_freq(const struct shard *s, __u32 slot)
{
	return keel_sketch_estimate(&s->freq, ghost_hash(s->ro.e[slot].key));
}

/*
 * The hot CLOCK's hand: entries at the head that were referenced since the
 * hand last passed lose one count and go to the tail.  Returns the first
 * unreferenced (or removed) entry, left at the head, or NIL if hot is empty.
 */
static __u32 hot_hand(struct shard *s)
{
	while (s->hot.head != NIL) {
		__u32 slot = s->hot.head;

		if (LOAD_RLX(&s->ro.e[slot].state) == S_DEAD ||
		    !(LOAD_RLX(&s->ro.e[slot].meta) & FREQ_MASK))
			return slot;
		freq_collect(s, slot);
		q_pop(s, &s->hot);
		q_push(s, &s->hot, slot);
	}
	return NIL;
}

static __u32 hot_target(const struct shard *s)
{
	return s->ro.cap - s->cold_target;
}

/*
 * A cold entry hit while cold would take the place of hot's CLOCK victim
 * (hot is at its target): it does only if it was referenced lately at
 * least as often as that victim.  A key hit once soon after it arrived (a
 * block written then read back, a page read twice in a row) is otherwise
 * promoted over a hot entry that is reused steadily but had not been
 * referenced since the hand last passed.  Ties promote, as before.
 */
static bool promotion_vetoed(struct shard *s, __u32 slot, bool for_hot)
{
	__u32 v;

	if (s->nhot + for_hot < hot_target(s))
		return false;
	v = hot_hand(s);
	return v != NIL && s->ro.e[v].state != S_DEAD && key_freq(s, slot) < key_freq(s, v);
}

/*
 * Free one slot, by the policy.  for_hot: the new key goes to hot.  A victim
 * comes from hot when hot would be over its target, else from cold: cold's
 * head is promoted if it was hit while cold, moved to hot unreferenced while
 * hot has room, evicted otherwise.  Called with the shard lock held and no
 * free slot left.
 */
static __u32 evict_one(struct shard *s, bool for_hot, bool *ret_evicted, __u64 *ret_key)
{
	for (;;) {
		__u32 slot;

		/* Removed keys wait on their queue; reuse them first. */
		if (s->cold.head != NIL && s->ro.e[s->cold.head].state == S_DEAD)
			return q_pop(s, &s->cold);
		if (s->hot.head != NIL && s->ro.e[s->hot.head].state == S_DEAD)
			return q_pop(s, &s->hot);
		if (!s->ncold || s->nhot + for_hot > hot_target(s)) {
			slot = hot_hand(s);
			q_pop(s, &s->hot);
			if (s->ro.e[slot].state == S_DEAD)
				return slot;
			s->nhot--;
			evicted(s, slot, KEEL_GHOST_FROM_HOT, ret_evicted, ret_key);
			return slot;
		}
		slot = q_pop(s, &s->cold);
		if (s->ro.e[slot].state == S_DEAD)
			return slot;
		s->ncold--;
		if (LOAD_RLX(&s->ro.e[slot].meta) & FREQ_MASK) {
			/* Re-referenced while cold: promote, unless less
			 * frequent than what it would displace. */
			freq_collect(s, slot);
			if (promotion_vetoed(s, slot, for_hot)) {
				s->promotion_vetoes++;
				evicted(s, slot, KEEL_GHOST_FROM_COLD, ret_evicted, ret_key);
				return slot;
			}
			to_hot(s, slot);
			s->promotions++;
			continue;
		}
		if (s->nhot + for_hot < hot_target(s)) {
			/* Hot has room (the cache is filling, or the cold
			 * target shrank): keep the key, in hot. */
			to_hot(s, slot);
			continue;
		}
		evicted(s, slot, KEEL_GHOST_FROM_COLD, ret_evicted, ret_key);
		return slot;
	}
}

/*
 * ARC-style feedback, one entry per signal.  A key that left cold
 * unreferenced and came back soon after (within twice cold's size, or
 * twice 5% of the cache while cold is smaller, or 4 misses) would have hit
 * in a larger cold queue: grow it.  Keys that come back from further away
 * are the hot queue's business (see the admission test), and counting
 * them, as ARC does, grows cold on workloads that need a large hot queue.
 * A key that left hot and came back within twice the age of the entry the
 * hot hand would evict now would have stayed in a somewhat larger hot
 * queue: shrink cold.  Hot ghost hits from further away (recency traces
 * such as sprite, where hot keys return long after) say nothing about a
 * slightly larger hot queue, and counting them kept cold too small there.
 */
static void adapt(struct shard *s, enum keel_ghost_origin o, __u32 dist)
{
	double t = s->cold_target_f, near = s->cold_target_f;
	__u32 v;

	if (s->fixed)
		return;
	if (near < s->ro.cap * NEAR_MISS_MIN_PCT / 100.0)
		near = s->ro.cap * NEAR_MISS_MIN_PCT / 100.0;
	if (o == KEEL_GHOST_FROM_COLD && (dist < NEAR_MISS * near || dist < NEAR_MISS_MIN)) {
		t += 1;
	} else if (o == KEEL_GHOST_FROM_HOT) {
		v = hot_hand(s);
		if (v != NIL && s->ro.e[v].state != S_DEAD &&
		    (__u64)dist < (__u64)HOT_NEAR * slot_age(s, v))
			t -= 1;
	}
	if (t < s->cold_min)
		t = s->cold_min;
	if (t > s->cold_max)
		t = s->cold_max;
	s->cold_target_f = t;
	s->cold_target = (__u32)t;
}

bool keel_cache_lookup(struct keel_cache *c, __u64 key, __u32 *ret_slot)
{
	__u64 h = keel_mix64(key);
	struct shard *s = shard_of(c, h);
	const struct shard_ro *r = &s->ro;
	__u32 b = bucket_of(r, h);
	__u32 *q = &r->seq[b & r->stripe_mask];

	for (int t = 0; t < MAX_LOOKUP_TRIES; t++) {
		__u32 s1 = LOAD(q), s2, i, steps = 0, ep, age, freq;
		__u16 m, nm;

		if (s1 & 1) {
			__builtin_ia32_pause();
			continue;
		}
		i = LOAD(&r->buckets[b]);
		/* A chain seen mid-update may be wrong, never endless: the
		 * step bound ends a walk that wandered, the seq check
		 * retries it. */
		while (i != NIL && steps++ < r->cap && LOAD(&r->e[i].key) != key)
			i = LOAD(&r->e[i].next);
		s2 = LOAD(q);
		if (s1 != s2)
			continue;
		if (i == NIL || steps > r->cap)
			return false;
		/* Mark the reference: the epoch (kept while less than
		 * mark_epochs old) and the counter: 1 on the first hit, +1
		 * (saturating) on a hit reuse_epochs or more after the recorded
		 * one.  Written only when it changes, so a hot key's cache
		 * line stays shared between cores. */
		m = LOAD_RLX(&r->e[i].meta);
		ep = LOAD_RLX(&s->epoch);
		age = (ep - (m >> 2)) & EPOCH_MASK;
		freq = m & FREQ_MASK;
		if (age < r->mark_epochs)
			ep = m >> 2;
		if (!freq || (age >= r->reuse_epochs && freq < FREQ_MAX))
			freq++;
		nm = (__u16)(ep << 2 | freq);
		if (nm != m)
			STORE_RLX(&r->e[i].meta, nm);
		if (ret_slot)
			*ret_slot = r->base + i;
		return true;
	}
	/* Writers kept this stripe busy; a miss is the safe answer, the
	 * caller's insert will find the key and return -EEXIST. */
	return false;
}

static void tick(struct shard *s)
{
	s->now++;
	if (cur_epoch(s) != LOAD_RLX(&s->epoch))
		STORE_RLX(&s->epoch, cur_epoch(s));
}

/* Take @slot out of @q, whose entry before it is @prev (NIL: the head). */
static void q_unlink(struct shard *s, struct fifo *q, __u32 prev, __u32 slot)
{
	if (prev == NIL)
		q->head = s->qnext[slot];
	else
		s->qnext[prev] = s->qnext[slot];
	if (q->tail == slot)
		q->tail = prev;
}

/*
 * A picked victim: its slot, the queue it is on and the entry before it
 * there.  rank: the order the policy evicts in (lower goes first).
 */
struct victim {
	__u32 slot, prev, rank;
	struct fifo *q;
};

/*
 * Walk @q from its head, at most *budget entries, for the entry the
 * caller's @pick accepts that the policy would evict first; removed
 * entries met on the way go to the free list at once (the walk knows
 * the entry before them, which their removal did not).  An unreferenced
 * entry (counter 0) ranks @rank, a referenced one @rank + 2; the walk
 * stops at the first unreferenced one.
 */
static void pick_walk(struct shard *s, struct fifo *q, __u32 rank, keel_cache_pick_fn pick,
		      void *ctx, __u32 *budget, struct victim *v)
{
	__u32 prev = NIL, i = q->head;

	while (i != NIL && *budget) {
		__u32 next = s->qnext[i], r;

		(*budget)--;
		if (s->ro.e[i].state == S_DEAD) {
			q_unlink(s, q, prev, i);
			STORE_RLX(&s->ro.e[i].state, S_FREE);
			STORE(&s->ro.e[i].next, s->free_head);
			s->free_head = i;
			i = next;
			continue;
		}
		r = LOAD_RLX(&s->ro.e[i].meta) & FREQ_MASK ? rank + 2 : rank;
		if (r < v->rank && pick(ctx, s->ro.e[i].key, s->ro.base + i)) {
			*v = (struct victim){ .slot = i, .prev = prev, .rank = r, .q = q };
			if (r == rank)
				return;
		}
		prev = i;
		i = next;
	}
}

/*
 * The victim for keel_cache_insert_replacing: the picked entry the policy
 * would evict first (cold unreferenced in FIFO order, hot unreferenced
 * from the hand, then referenced ones), taken out of its queue and the
 * hash table and ghosted like any eviction.  NIL if none was picked.
 */
static __u32 evict_picked(struct shard *s, keel_cache_pick_fn pick, void *ctx, bool *ret_evicted,
			  __u64 *ret_key)
{
	struct victim v = { .slot = NIL, .rank = ~0u };
	__u32 budget = KEEL_CACHE_PICK_SCAN;

	pick_walk(s, &s->cold, 0, pick, ctx, &budget, &v);
	if (v.rank)
		pick_walk(s, &s->hot, 1, pick, ctx, &budget, &v);
	if (v.slot == NIL)
		return NIL;
	q_unlink(s, v.q, v.prev, v.slot);
	if (v.q == &s->cold)
		s->ncold--;
	else
		s->nhot--;
	evicted(s, v.slot, v.q == &s->cold ? KEEL_GHOST_FROM_COLD : KEEL_GHOST_FROM_HOT,
		ret_evicted, ret_key);
	return v.slot;
}

/* keel_cache_insert, and with @pick keel_cache_insert_replacing. */
static int insert(struct keel_cache *c, __u64 key, keel_cache_pick_fn pick, void *ctx,
		  __u32 *ret_slot, bool *ret_evicted, __u64 *ret_evicted_key)
{
	__u64 h = keel_mix64(key), gh = ghost_hash(key);
	struct shard *s = shard_of(c, h);
	__u32 b = bucket_of(&s->ro, h), slot = NIL, ref = 0;
	enum keel_ghost_origin o;
	bool hot = false;

	if (ret_evicted)
		*ret_evicted = false;
	pthread_mutex_lock(&s->lock);
	slot = find_locked(s, key, b);
	if (slot != NIL) {
		pthread_mutex_unlock(&s->lock);
		if (ret_slot)
			*ret_slot = s->ro.base + slot;
		return -EEXIST;
	}
	if (pick) {
		/* The victim first: nothing changes when there is none. */
		slot = evict_picked(s, pick, ctx, ret_evicted, ret_evicted_key);
		if (slot == NIL) {
			pthread_mutex_unlock(&s->lock);
			return -ENOSPC;
		}
	}
	tick(s);
	keel_sketch_add(&s->freq, gh);
	o = keel_ghost_take(&s->ghost, gh, s->now, &ref);
	if (o != KEEL_GHOST_NONE) {
		__u32 dist = s->now - ref, v;

		s->ghost_hits++;
		adapt(s, o, dist);
		hot = true;
		/* LIRS's test: the key comes back to hot only if it was
		 * reused sooner than hot's coldest entry was: the one the
		 * hand would evict for it. */
		if (s->free_head == NIL && s->nhot >= hot_target(s) && s->ncold) {
			v = hot_hand(s);
			if (v != NIL && s->ro.e[v].state != S_DEAD &&
			    (__u64)dist * ADMIT_DEN >= (__u64)slot_age(s, v) * ADMIT_NUM) {
				hot = false;
				s->ghost_rejects++;
			}
		}
	}
	if (slot != NIL) {
		/* the picked victim's */
	} else if (s->free_head != NIL) {
		slot = s->free_head;
		s->free_head = s->ro.e[slot].next;
	} else {
		slot = evict_one(s, hot, ret_evicted, ret_evicted_key);
	}
	set_meta(s, slot, 0);
	if (hot) {
		to_hot(s, slot);
	} else {
		STORE_RLX(&s->ro.e[slot].state, S_COLD);
		q_push(s, &s->cold, slot);
		s->ncold++;
	}
	link_slot(s, slot, key, b);
	pthread_mutex_unlock(&s->lock);
	if (ret_slot)
		*ret_slot = s->ro.base + slot;
	return 0;
}

int keel_cache_insert(struct keel_cache *c, __u64 key, __u32 *ret_slot, bool *ret_evicted,
		      __u64 *ret_evicted_key)
{
	return insert(c, key, NULL, NULL, ret_slot, ret_evicted, ret_evicted_key);
}

int keel_cache_insert_replacing(struct keel_cache *c, __u64 key, keel_cache_pick_fn pick, void *ctx,
				__u32 *ret_slot, __u64 *ret_evicted_key)
{
	if (!pick)
		return -EINVAL;
	return insert(c, key, pick, ctx, ret_slot, NULL, ret_evicted_key);
}

static struct stat_stripe *my_stats(struct keel_cache *c)
{
	if (!tls_stripe)
		tls_stripe = __atomic_add_fetch(&next_stripe, 1, __ATOMIC_RELAXED) | 0x80000000u;
	return &c->stats[tls_stripe & (STAT_STRIPES - 1)];
}

bool keel_cache_access(struct keel_cache *c, __u64 key)
{
	struct stat_stripe *st = my_stats(c);

	/* Atomic: two threads may still share a stripe (more threads than
	 * stripes); uncontended, the add stays in this core's cache. */
	if (keel_cache_lookup(c, key, NULL)) {
		__atomic_fetch_add(&st->hits, 1, __ATOMIC_RELAXED);
		return true;
	}
	__atomic_fetch_add(&st->misses, 1, __ATOMIC_RELAXED);
	keel_cache_insert(c, key, NULL, NULL, NULL);
	return false;
}

int keel_cache_remove(struct keel_cache *c, __u64 key)
{
	__u64 h = keel_mix64(key);
	struct shard *s = shard_of(c, h);
	__u32 slot;

	pthread_mutex_lock(&s->lock);
	slot = find_locked(s, key, bucket_of(&s->ro, h));
	if (slot == NIL) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	unlink_slot(s, slot);
	/* It stays on its queue until the head reaches it: unlinking from
	 * the middle of a singly-linked queue would cost a walk. */
	if (s->ro.e[slot].state == S_COLD)
		s->ncold--;
	else
		s->nhot--;
	STORE_RLX(&s->ro.e[slot].state, S_DEAD);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

__u32 keel_cache_slots(const struct keel_cache *c)
{
	return c->slots;
}

bool keel_cache_slot_key(const struct keel_cache *c, __u32 slot, __u64 *ret_key)
{
	const struct shard *s = NULL;
	__u8 st;

	for (__u32 i = 0; i < c->nshards; i++)
		if (slot >= c->shards[i].ro.base &&
		    slot < c->shards[i].ro.base + c->shards[i].ro.cap)
			s = &c->shards[i];
	if (!s)
		return false;
	slot -= s->ro.base;
	st = LOAD_RLX(&s->ro.e[slot].state);
	if (st != S_COLD && st != S_HOT)
		return false;
	*ret_key = LOAD(&s->ro.e[slot].key);
	return true;
}

enum keel_cache_where keel_cache_where(struct keel_cache *c, __u64 key)
{
	__u64 h = keel_mix64(key);
	struct shard *s = shard_of(c, h);
	enum keel_cache_where w = KEEL_CACHE_ABSENT;
	__u32 slot;

	pthread_mutex_lock(&s->lock);
	slot = find_locked(s, key, bucket_of(&s->ro, h));
	if (slot != NIL)
		w = s->ro.e[slot].state == S_HOT ? KEEL_CACHE_HOT : KEEL_CACHE_COLD;
	else if (keel_ghost_peek(&s->ghost, ghost_hash(key), s->now) != KEEL_GHOST_NONE)
		w = KEEL_CACHE_GHOST;
	pthread_mutex_unlock(&s->lock);
	return w;
}

void keel_cache_get_stats(struct keel_cache *c, struct keel_cache_stats *r)
{
	__u64 meta = sizeof(*c) + sizeof(*c->stats) * STAT_STRIPES, ghost = 0;
	__u64 sketch = 0;

	memset(r, 0, sizeof(*r));
	r->capacity = c->capacity;
	r->ghost_capacity = c->ghost_capacity;
	for (__u32 i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];

		pthread_mutex_lock(&s->lock);
		r->cold += s->ncold;
		r->hot += s->nhot;
		r->ghost_live += keel_ghost_live(&s->ghost, s->now);
		r->cold_target += s->cold_target;
		r->ghost_hits += s->ghost_hits;
		r->promotions += s->promotions;
		r->evictions += s->evictions;
		meta += shard_bytes(s);
		ghost += keel_ghost_bytes(&s->ghost);
		sketch += keel_sketch_bytes(&s->freq);
		pthread_mutex_unlock(&s->lock);
	}
	for (__u32 i = 0; i < STAT_STRIPES; i++) {
		r->hits += __atomic_load_n(&c->stats[i].hits, __ATOMIC_RELAXED);
		r->misses += __atomic_load_n(&c->stats[i].misses, __ATOMIC_RELAXED);
	}
	r->cached = r->cold + r->hot;
	r->bytes_per_entry = (double)meta / (double)c->capacity;
	r->bytes_per_ghost = (double)ghost / (double)c->ghost_capacity;
	/* The sketch is the rest of the total: bytes_per_entry keeps the
	 * 24 B bound of the entries themselves, the "plus the
	 * sketch" is at most 1 B per entry more (test memory_per_entry). */
	r->bytes_total = meta + ghost + sketch;
}
