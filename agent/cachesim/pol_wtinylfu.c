// SPDX-License-Identifier: GPL-2.0-only
/*
 * W-TinyLFU (Einziger et al., TOS'17) as libCacheSim runs it, so that our
 * figures can be checked against the ones published for its traces:
 *
 * - an LRU window of floor(1% of the cache) in front of a segmented LRU main
 *   cache of the rest, split 1:4 (probation, protected), each segment
 *   floor(share x main);
 * - the window never evicts by itself: only when the whole cache is full,
 *   its LRU key competes with main's victim (probation's tail, or
 *   protected's when probation is empty).  While main has room the window
 *   key just moves in; while it wins (strictly more frequent) it replaces
 *   main's victim and the next window key competes; the first one that
 *   loses is evicted.  So the window drains below 1% under a burst of
 *   frequent keys and refills with the next misses;
 * - frequencies come from a counting Bloom filter sized for main's capacity
 *   at a 0.1% error rate (14.4 counters per entry, 10 hashes by double
 *   hashing of two seeded XXH64 values), 32-bit counters, no doorkeeper.
 *   It counts a miss (the insert), a hit in main, and each window key that
 *   competes; hits in the window are not counted.  It halves every counter
 *   after 32 x main's capacity hits in main.
 * The only deliberate difference: the window holds at least one key (with
 * fewer than 100 entries libCacheSim's window is 0 and it caches nothing).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cachesim/list.h"

enum { WIN = 1, PROB, PROT };

struct wtlfu {
	struct sim_pool pool;
	struct sim_list l[4];
	__u64 cap, win_cap, main_cap, seg_max[4];
	__u32 *cbf; /* counting Bloom filter */
	__u32 ncnt;
	int nhash;
	__u64 main_hits, decay_at;
};

/* The seeds libCacheSim's hash.h uses, so collisions fall where its do. */
#define CBF_SEED0 0x12345678u
#define CBF_SEED1 0x12344321u

static __u32 cbf_check(struct wtlfu *c, __u64 key, bool add)
{
	__u32 a = (__u32)XXH64(&key, sizeof(key), CBF_SEED0);
	__u32 b = (__u32)XXH64(&key, sizeof(key), CBF_SEED1);
	__u32 min = UINT_MAX;

	for (__u32 i = 0; i < (__u32)c->nhash; i++) {
		__u32 x = (a + i * b) % c->ncnt;

		if (c->cbf[x] < min)
			min = c->cbf[x];
	}
	if (add && min < UINT_MAX) {
		for (__u32 i = 0; i < (__u32)c->nhash; i++)
			c->cbf[(a + i * b) % c->ncnt]++;
		min++;
	}
	return min;
}

static void cbf_decay(struct wtlfu *c)
{
	for (__u32 i = 0; i < c->ncnt; i++)
		c->cbf[i] >>= 1;
}

static int wt_create(__u64 cap, void **ret)
{
	struct wtlfu *c = calloc(1, sizeof(*c));
	double bpe = -log(0.001) / 0.480453013918201; /* ln(2)^2 */
	double n;

	if (!c)
		return -ENOMEM;
	c->cap = cap;
	c->win_cap = (__u64)((double)cap * 0.01);
	if (!c->win_cap)
		c->win_cap = 1;
	c->main_cap = cap > c->win_cap ? cap - c->win_cap : 0;
	c->seg_max[PROB] = (__u64)(1.0 / 5 * (double)c->main_cap);
	c->seg_max[PROT] = (__u64)(4.0 / 5 * (double)c->main_cap);
	c->decay_at = 32 * c->main_cap;
	c->nhash = (int)ceil(0.693147180559945 * bpe);
	n = fmin(ceil(bpe * (double)c->main_cap), INT_MAX);
	c->ncnt = n < 2.0 * c->nhash ? 2u * (__u32)c->nhash : (__u32)n;
	c->cbf = calloc(c->ncnt, sizeof(*c->cbf));
	if (!c->cbf || sim_pool_init(&c->pool, (__u32)cap + 2)) {
		free(c->cbf);
		free(c);
		return -ENOMEM;
	}
	for (int i = 0; i < 4; i++)
		sim_list_init(&c->l[i]);
	*ret = c;
	return 0;
}

static void wt_move(struct wtlfu *c, __u32 i, int to)
{
	struct sim_node *n = c->pool.n;

	if (n[i].q)
		sim_list_remove(n, &c->l[n[i].q], i);
	n[i].q = (__u8)to;
	sim_list_push_head(n, &c->l[to], i);
}

static void wt_drop(struct wtlfu *c, __u32 i)
{
	sim_list_remove(c->pool.n, &c->l[c->pool.n[i].q], i);
	sim_pool_release(&c->pool, i);
}

static __u64 main_len(const struct wtlfu *c)
{
	return c->l[PROB].len + c->l[PROT].len;
}

/* Main's victim: the tail of the lowest non-empty segment. */
static __u32 main_victim(const struct wtlfu *c)
{
	return c->l[PROB].len ? c->l[PROB].tail : c->l[PROT].tail;
}

static void main_evict(struct wtlfu *c)
{
	wt_drop(c, main_victim(c));
}

/* Into the lowest segment with room; if none, make room and use probation. */
static void main_insert(struct wtlfu *c, __u32 i)
{
	int seg = PROB;

	if (c->l[PROB].len + 1 > c->seg_max[PROB]) {
		seg = PROT;
		if (c->l[PROT].len + 1 > c->seg_max[PROT]) {
			while (main_len(c) + 1 > c->main_cap)
				main_evict(c);
			seg = PROB;
		}
	}
	wt_move(c, i, seg);
}

/* Segment seg is over its size: its tail goes down one (out, from the lowest). */
static void main_cool(struct wtlfu *c, int seg)
{
	if (seg == PROB) {
		main_evict(c);
		return;
	}
	wt_move(c, c->l[seg].tail, seg - 1);
	while (c->l[seg - 1].len > c->seg_max[seg - 1])
		main_cool(c, seg - 1);
}

static void main_hit(struct wtlfu *c, __u32 i)
{
	struct sim_node *n = c->pool.n;

	if (n[i].q == PROT) {
		wt_move(c, i, PROT);
		return;
	}
	wt_move(c, i, PROT);
	while (c->l[PROT].len > c->seg_max[PROT])
		main_cool(c, PROT);
}

/* The cache is full: make room for one key. */
static void wt_evict(struct wtlfu *c)
{
	for (;;) {
		__u32 v = c->l[WIN].tail;
		__u64 key;
		bool done = false;

		if (v == KEEL_SIM_NIL) {
			main_evict(c);
			return;
		}
		key = c->pool.n[v].key;
		if (main_len(c) + 1 <= c->main_cap) {
			main_insert(c, v);
		} else if (cbf_check(c, key, false) >
			   cbf_check(c, c->pool.n[main_victim(c)].key, false)) {
			main_evict(c);
			main_insert(c, v);
		} else {
			wt_drop(c, v);
			done = true;
		}
		cbf_check(c, key, true);
		if (done)
			return;
	}
}

static bool wt_access(void *p, __u64 key, __u64 next)
{
	struct wtlfu *c = p;
	__u32 i = sim_pool_find(&c->pool, key);

	(void)next;
	if (i != KEEL_SIM_NIL) {
		if (c->pool.n[i].q == WIN) {
			wt_move(c, i, WIN);
			return true;
		}
		main_hit(c, i);
		cbf_check(c, key, true);
		if (++c->main_hits >= c->decay_at) {
			c->main_hits = 0;
			cbf_decay(c);
		}
		return true;
	}
	while (c->l[WIN].len + main_len(c) + 1 > c->cap)
		wt_evict(c);
	wt_move(c, sim_pool_alloc(&c->pool, key), WIN);
	cbf_check(c, key, true);
	return false;
}

static void wt_destroy(void *p)
{
	struct wtlfu *c = p;

	sim_pool_fini(&c->pool);
	free(c->cbf);
	free(c);
}

const struct keel_sim_policy keel_sim_wtinylfu = {
	.name = "wtinylfu",
	.what = "W-TinyLFU, window 1%, SLRU main 1:4, counting-Bloom admission",
	.create = wt_create,
	.access = wt_access,
	.destroy = wt_destroy,
};
