// SPDX-License-Identifier: GPL-2.0-only
/* FIFO: hits change nothing; the oldest insertion is evicted. */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/list.h"

struct fifo {
	struct sim_pool pool;
	struct sim_list l;
	__u64 cap;
};

static int fifo_create(__u64 cap, void **ret)
{
	struct fifo *c = calloc(1, sizeof(*c));

	if (!c || sim_pool_init(&c->pool, (__u32)cap + 1)) {
		free(c);
		return -ENOMEM;
	}
	c->cap = cap;
	sim_list_init(&c->l);
	*ret = c;
	return 0;
}

static bool fifo_access(void *p, __u64 key, __u64 next)
{
	struct fifo *c = p;

	(void)next;
	if (sim_pool_find(&c->pool, key) != KEEL_SIM_NIL)
		return true;
	if (c->l.len >= c->cap)
		sim_pool_release(&c->pool, sim_list_pop_tail(c->pool.n, &c->l));
	sim_list_push_head(c->pool.n, &c->l, sim_pool_alloc(&c->pool, key));
	return false;
}

static void fifo_destroy(void *p)
{
	struct fifo *c = p;

	sim_pool_fini(&c->pool);
	free(c);
}

const struct keel_sim_policy keel_sim_fifo = {
	.name = "fifo",
	.what = "first in, first out",
	.create = fifo_create,
	.access = fifo_access,
	.destroy = fifo_destroy,
};
