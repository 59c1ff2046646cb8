// SPDX-License-Identifier: GPL-2.0
/*
 * W-TinyLFU (Einziger et al., TOS'17), the Caffeine layout: an LRU window of
 * 1% in front of a segmented LRU main cache (20% probation, 80% protected).
 * A key leaving the window enters main only if a count-min sketch says it
 * is more frequent than main's victim.  The sketch has four rows of 4-bit
 * counters and halves itself every 10 x capacity accesses (aging).
 */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/list.h"

enum { WIN = 1, PROB, PROT };

struct wtlfu {
	struct sim_pool pool;
	struct sim_list l[4];
	__u64 cap, win_cap, main_cap, prot_cap;
	__u8 *sketch;		/* 4 rows x width counters, one per byte */
	__u64 width_mask, adds, sample;
};

static __u64 row_hash(__u64 key, int row)
{
	key += 0x9e3779b97f4a7c15ull * (__u64)(row + 1);
	key ^= key >> 31;
	key *= 0x7fb5d329728ea185ull;
	key ^= key >> 27;
	key *= 0x81dadef4bc2dd44dull;
	key ^= key >> 33;
	return key;
}

static __u32 sketch_freq(const struct wtlfu *c, __u64 key)
{
	__u32 m = 15;

	for (int r = 0; r < 4; r++) {
		__u8 v = c->sketch[(__u64)r * (c->width_mask + 1) +
				   (row_hash(key, r) & c->width_mask)];
		if (v < m)
			m = v;
	}
	return m;
}

static void sketch_add(struct wtlfu *c, __u64 key)
{
	__u64 w = c->width_mask + 1;

	for (int r = 0; r < 4; r++) {
		__u8 *v = &c->sketch[(__u64)r * w +
				     (row_hash(key, r) & c->width_mask)];
		if (*v < 15)
			(*v)++;
	}
	if (++c->adds >= c->sample) {
		for (__u64 i = 0; i < 4 * w; i++)
			c->sketch[i] >>= 1;
		c->adds /= 2;
	}
}

static int wt_create(__u64 cap, void **ret)
{
	struct wtlfu *c = calloc(1, sizeof(*c));
	__u64 w = 16;

	if (!c)
		return -ENOMEM;
	c->cap = cap;
	c->win_cap = cap / 100 ? cap / 100 : 1;
	c->main_cap = cap > c->win_cap ? cap - c->win_cap : 1;
	c->prot_cap = c->main_cap * 8 / 10;
	while (w < cap)
		w <<= 1;
	c->width_mask = w - 1;
	c->sample = 10 * cap;
	c->sketch = calloc(4 * w, 1);
	if (!c->sketch || sim_pool_init(&c->pool, (__u32)cap + 2)) {
		free(c->sketch);
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

/* The window overflowed: its LRU key competes for a place in main. */
static void wt_admit(struct wtlfu *c)
{
	__u32 cand = c->l[WIN].tail, victim;

	if (c->l[PROB].len + c->l[PROT].len < c->main_cap) {
		wt_move(c, cand, PROB);
		return;
	}
	victim = c->l[PROB].len ? c->l[PROB].tail : c->l[PROT].tail;
	if (sketch_freq(c, c->pool.n[cand].key) >
	    sketch_freq(c, c->pool.n[victim].key)) {
		wt_drop(c, victim);
		wt_move(c, cand, PROB);
	} else {
		wt_drop(c, cand);
	}
}

static bool wt_access(void *p, __u64 key, __u64 next)
{
	struct wtlfu *c = p;
	__u32 i = sim_pool_find(&c->pool, key);

	(void)next;
	sketch_add(c, key);
	if (i != KEEL_SIM_NIL) {
		switch (c->pool.n[i].q) {
		case WIN:
			wt_move(c, i, WIN);
			break;
		case PROB:
			wt_move(c, i, PROT);
			if (c->l[PROT].len > c->prot_cap)
				wt_move(c, c->l[PROT].tail, PROB);
			break;
		default:
			wt_move(c, i, PROT);
		}
		return true;
	}
	wt_move(c, sim_pool_alloc(&c->pool, key), WIN);
	if (c->l[WIN].len > c->win_cap)
		wt_admit(c);
	return false;
}

static void wt_destroy(void *p)
{
	struct wtlfu *c = p;

	sim_pool_fini(&c->pool);
	free(c->sketch);
	free(c);
}

const struct keel_sim_policy keel_sim_wtinylfu = {
	.name = "wtinylfu",
	.what = "W-TinyLFU, window 1%, SLRU main, count-min admission",
	.create = wt_create,
	.access = wt_access,
	.destroy = wt_destroy,
};
