// SPDX-License-Identifier: GPL-2.0-only
/* LRU: a hit moves the key to the head; the tail is evicted. */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/list.h"

struct lru {
	struct sim_pool pool;
	struct sim_list l;
	__u64 cap;
};

static int lru_create(__u64 cap, void **ret)
{
	struct lru *c = calloc(1, sizeof(*c));

	if (!c || sim_pool_init(&c->pool, (__u32)cap + 1)) {
		free(c);
		return -ENOMEM;
	}
	c->cap = cap;
	sim_list_init(&c->l);
	*ret = c;
	return 0;
}

static bool lru_access(void *p, __u64 key, __u64 next)
{
	struct lru *c = p;
	__u32 i = sim_pool_find(&c->pool, key);

	(void)next;
	if (i != KEEL_SIM_NIL) {
		sim_list_remove(c->pool.n, &c->l, i);
		sim_list_push_head(c->pool.n, &c->l, i);
		return true;
	}
	if (c->l.len >= c->cap)
		sim_pool_release(&c->pool, sim_list_pop_tail(c->pool.n, &c->l));
	sim_list_push_head(c->pool.n, &c->l, sim_pool_alloc(&c->pool, key));
	return false;
}

static void lru_destroy(void *p)
{
	struct lru *c = p;

	sim_pool_fini(&c->pool);
	free(c);
}

const struct keel_sim_policy keel_sim_lru = {
	.name = "lru",
	.what = "least recently used",
	.create = lru_create,
	.access = lru_access,
	.destroy = lru_destroy,
};
