// SPDX-License-Identifier: GPL-2.0-only
/*
 * CLOCK with one reference bit, as libCacheSim's Clock: a hit sets the bit;
 * the oldest entry is evicted if its bit is clear, otherwise the bit is
 * cleared and the entry goes back to the head (FIFO with reinsertion).
 */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/list.h"

struct clk {
	struct sim_pool pool;
	struct sim_list l;
	__u64 cap;
};

static int clock_create(__u64 cap, void **ret)
{
	struct clk *c = calloc(1, sizeof(*c));

	if (!c || sim_pool_init(&c->pool, (__u32)cap + 1)) {
		free(c);
		return -ENOMEM;
	}
	c->cap = cap;
	sim_list_init(&c->l);
	*ret = c;
	return 0;
}

static bool clock_access(void *p, __u64 key, __u64 next)
{
	struct clk *c = p;
	struct sim_node *n = c->pool.n;
	__u32 i = sim_pool_find(&c->pool, key);

	(void)next;
	if (i != KEEL_SIM_NIL) {
		n[i].freq = 1;
		return true;
	}
	while (c->l.len >= c->cap) {
		__u32 v = sim_list_pop_tail(n, &c->l);

		if (n[v].freq) {
			n[v].freq = 0;
			sim_list_push_head(n, &c->l, v);
		} else {
			sim_pool_release(&c->pool, v);
		}
	}
	sim_list_push_head(n, &c->l, sim_pool_alloc(&c->pool, key));
	return false;
}

static void clock_destroy(void *p)
{
	struct clk *c = p;

	sim_pool_fini(&c->pool);
	free(c);
}

const struct keel_sim_policy keel_sim_clock = {
	.name = "clock",
	.what = "CLOCK, one reference bit",
	.create = clock_create,
	.access = clock_access,
	.destroy = clock_destroy,
};
