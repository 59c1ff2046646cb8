// SPDX-License-Identifier: GPL-2.0-only
/*
 * 2Q (Johnson and Shasha, VLDB'94), full version: new keys enter the FIFO
 * A1in (25% of the cache); keys leaving it are remembered in the ghost
 * A1out (50% of the cache, keys only); a miss found in A1out goes to the
 * LRU Am.  A hit in A1in changes nothing.
 */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/list.h"

enum { AIN = 1, AOUT, AM };

struct twoq {
	struct sim_pool pool;
	struct sim_list l[4];
	__u64 cap, kin, kout;
};

static int twoq_create(__u64 cap, void **ret)
{
	struct twoq *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->cap = cap;
	c->kin = cap / 4 ? cap / 4 : 1;
	c->kout = cap / 2 ? cap / 2 : 1;
	if (sim_pool_init(&c->pool, (__u32)(cap + c->kout + 2))) {
		free(c);
		return -ENOMEM;
	}
	for (int i = 0; i < 4; i++)
		sim_list_init(&c->l[i]);
	*ret = c;
	return 0;
}

static void twoq_move(struct twoq *c, __u32 i, int to)
{
	struct sim_node *n = c->pool.n;

	if (n[i].q)
		sim_list_remove(n, &c->l[n[i].q], i);
	n[i].q = (__u8)to;
	sim_list_push_head(n, &c->l[to], i);
}

static void twoq_reclaim(struct twoq *c)
{
	struct sim_node *n = c->pool.n;

	if (c->l[AIN].len + c->l[AM].len < c->cap)
		return;
	if (c->l[AIN].len > c->kin || !c->l[AM].len) {
		twoq_move(c, c->l[AIN].tail, AOUT);
		if (c->l[AOUT].len > c->kout)
			sim_pool_release(&c->pool, sim_list_pop_tail(n, &c->l[AOUT]));
	} else {
		sim_pool_release(&c->pool, sim_list_pop_tail(n, &c->l[AM]));
	}
}

static bool twoq_access(void *p, __u64 key, __u64 next)
{
	struct twoq *c = p;
	__u32 i = sim_pool_find(&c->pool, key);

	(void)next;
	if (i != KEEL_SIM_NIL) {
		switch (c->pool.n[i].q) {
		case AM:
			twoq_move(c, i, AM);
			return true;
		case AIN:
			return true;
		default:
			/* Remove the ghost first so reclaim cannot drop it. */
			sim_list_remove(c->pool.n, &c->l[AOUT], i);
			c->pool.n[i].q = 0;
			twoq_reclaim(c);
			twoq_move(c, i, AM);
			return false;
		}
	}
	twoq_reclaim(c);
	twoq_move(c, sim_pool_alloc(&c->pool, key), AIN);
	return false;
}

static void twoq_destroy(void *p)
{
	struct twoq *c = p;

	sim_pool_fini(&c->pool);
	free(c);
}

const struct keel_sim_policy keel_sim_2q = {
	.name = "2q",
	.what = "2Q, A1in 25%, A1out 50%",
	.create = twoq_create,
	.access = twoq_access,
	.destroy = twoq_destroy,
};
