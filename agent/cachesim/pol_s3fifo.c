// SPDX-License-Identifier: GPL-2.0-only
/*
 * S3-FIFO (Yang et al., SOSP'23): a small FIFO (10%) for new keys, a main
 * FIFO with reinsertion (90%) and a ghost FIFO of keys (as large as main).
 * A key leaving small moves to main if it was hit at least `threshold`
 * times, else it is ghosted; a miss found in the ghost goes to main.
 * Frequencies saturate at 3.
 */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/list.h"

#define S3_THRESHOLD 2

enum { SMALL = 1, MAIN, GHOST };

struct s3 {
	struct sim_pool pool;
	struct sim_list l[4];
	__u64 cap, small_cap, main_cap;
};

static int s3_create(__u64 cap, void **ret)
{
	struct s3 *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->cap = cap;
	c->small_cap = cap / 10 ? cap / 10 : 1;
	c->main_cap = cap - c->small_cap ? cap - c->small_cap : 1;
	if (sim_pool_init(&c->pool, (__u32)(cap + c->main_cap + 2))) {
		free(c);
		return -ENOMEM;
	}
	for (int i = 0; i < 4; i++)
		sim_list_init(&c->l[i]);
	*ret = c;
	return 0;
}

static void s3_move(struct s3 *c, __u32 i, int to)
{
	struct sim_node *n = c->pool.n;

	if (n[i].q)
		sim_list_remove(n, &c->l[n[i].q], i);
	n[i].q = (__u8)to;
	sim_list_push_head(n, &c->l[to], i);
}

static void s3_evict_main(struct s3 *c)
{
	struct sim_node *n = c->pool.n;

	for (;;) {
		__u32 t = c->l[MAIN].tail;

		if (n[t].freq) {
			n[t].freq--;
			s3_move(c, t, MAIN);
			continue;
		}
		sim_list_remove(n, &c->l[MAIN], t);
		sim_pool_release(&c->pool, t);
		return;
	}
}

static void s3_evict_small(struct s3 *c)
{
	struct sim_node *n = c->pool.n;

	while (c->l[SMALL].len) {
		__u32 t = c->l[SMALL].tail;

		if (n[t].freq >= S3_THRESHOLD) {
			n[t].freq = 0;
			s3_move(c, t, MAIN);
			if (c->l[MAIN].len > c->main_cap)
				s3_evict_main(c);
			continue;
		}
		s3_move(c, t, GHOST);
		if (c->l[GHOST].len > c->main_cap)
			sim_pool_release(&c->pool, sim_list_pop_tail(n, &c->l[GHOST]));
		return;
	}
}

static bool s3_access(void *p, __u64 key, __u64 next)
{
	struct s3 *c = p;
	struct sim_node *n = c->pool.n;
	__u32 i = sim_pool_find(&c->pool, key);

	(void)next;
	if (i != KEEL_SIM_NIL && n[i].q != GHOST) {
		if (n[i].freq < 3)
			n[i].freq++;
		return true;
	}
	if (i != KEEL_SIM_NIL) {
		/* Out of the ghost first, so eviction cannot drop it. */
		sim_list_remove(n, &c->l[GHOST], i);
		n[i].q = 0;
	}
	while (c->l[SMALL].len + c->l[MAIN].len >= c->cap) {
		if (c->l[MAIN].len > c->main_cap || !c->l[SMALL].len)
			s3_evict_main(c);
		else
			s3_evict_small(c);
	}
	if (i != KEEL_SIM_NIL) {
		n[i].freq = 0;
		s3_move(c, i, MAIN);
	} else {
		s3_move(c, sim_pool_alloc(&c->pool, key), SMALL);
	}
	return false;
}

static void s3_destroy(void *p)
{
	struct s3 *c = p;

	sim_pool_fini(&c->pool);
	free(c);
}

const struct keel_sim_policy keel_sim_s3fifo = {
	.name = "s3fifo",
	.what = "S3-FIFO, small 10%, ghost as large as main",
	.create = s3_create,
	.access = s3_access,
	.destroy = s3_destroy,
};
