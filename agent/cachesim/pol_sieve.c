// SPDX-License-Identifier: GPL-2.0-only
/*
 * SIEVE (Zhang et al., NSDI'24): a FIFO whose eviction hand moves from the
 * tail towards the head, clearing visited bits and removing the first
 * unvisited entry in place; new entries go to the head.
 */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/list.h"

struct sieve {
	struct sim_pool pool;
	struct sim_list l;
	__u32 hand;
	__u64 cap;
};

static int sieve_create(__u64 cap, void **ret)
{
	struct sieve *c = calloc(1, sizeof(*c));

	if (!c || sim_pool_init(&c->pool, (__u32)cap + 1)) {
		free(c);
		return -ENOMEM;
	}
	c->cap = cap;
	c->hand = KEEL_SIM_NIL;
	sim_list_init(&c->l);
	*ret = c;
	return 0;
}

static void sieve_evict(struct sieve *c)
{
	struct sim_node *n = c->pool.n;
	__u32 o = c->hand != KEEL_SIM_NIL ? c->hand : c->l.tail;

	while (n[o].freq) {
		n[o].freq = 0;
		o = n[o].prev != KEEL_SIM_NIL ? n[o].prev : c->l.tail;
	}
	c->hand = n[o].prev;
	sim_list_remove(n, &c->l, o);
	sim_pool_release(&c->pool, o);
}

static bool sieve_access(void *p, __u64 key, __u64 next)
{
	struct sieve *c = p;
	__u32 i = sim_pool_find(&c->pool, key);

	(void)next;
	if (i != KEEL_SIM_NIL) {
		c->pool.n[i].freq = 1;
		return true;
	}
	if (c->l.len >= c->cap)
		sieve_evict(c);
	sim_list_push_head(c->pool.n, &c->l, sim_pool_alloc(&c->pool, key));
	return false;
}

static void sieve_destroy(void *p)
{
	struct sieve *c = p;

	sim_pool_fini(&c->pool);
	free(c);
}

const struct keel_sim_policy keel_sim_sieve = {
	.name = "sieve",
	.what = "SIEVE, lazy promotion and quick demotion",
	.create = sieve_create,
	.access = sieve_access,
	.destroy = sieve_destroy,
};
