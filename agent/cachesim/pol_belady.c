// SPDX-License-Identifier: GPL-2.0-only
/*
 * Belady's MIN, the offline optimum: evict the cached key whose next use is
 * farthest away (never-used-again keys first).  A max-heap of next-use
 * times with lazy deletion: an entry is stale once its key was accessed
 * again, which the key's current next use tells.
 */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/list.h"

struct heap_ent {
	__u64 next;
	__u32 node;
};

struct belady {
	struct sim_pool pool;
	struct heap_ent *h;
	size_t hn, halloc;
	__u64 cap, cached;
};

static int bel_create(__u64 cap, void **ret)
{
	struct belady *c = calloc(1, sizeof(*c));

	if (!c || sim_pool_init(&c->pool, (__u32)cap + 2)) {
		free(c);
		return -ENOMEM;
	}
	c->cap = cap;
	*ret = c;
	return 0;
}

static int heap_push(struct belady *c, __u64 next, __u32 node)
{
	size_t i;

	if (c->hn == c->halloc) {
		size_t na = c->halloc ? c->halloc * 2 : 1024;
		struct heap_ent *nh = realloc(c->h, na * sizeof(*nh));

		if (!nh)
			return -ENOMEM;
		c->h = nh;
		c->halloc = na;
	}
	i = c->hn++;
	while (i && c->h[(i - 1) / 2].next < next) {
		c->h[i] = c->h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	c->h[i].next = next;
	c->h[i].node = node;
	return 0;
}

static struct heap_ent heap_pop(struct belady *c)
{
	struct heap_ent top = c->h[0], last = c->h[--c->hn];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, m = l;

		if (l >= c->hn)
			break;
		if (l + 1 < c->hn && c->h[l + 1].next > c->h[l].next)
			m = l + 1;
		if (c->h[m].next <= last.next)
			break;
		c->h[i] = c->h[m];
		i = m;
	}
	if (c->hn)
		c->h[i] = last;
	return top;
}

/* Compact the heap when stale entries dominate, so memory stays bounded. */
static void heap_compact(struct belady *c)
{
	size_t live = 0;
	struct heap_ent *old = c->h;
	size_t n = c->hn;

	for (size_t i = 0; i < n; i++)
		if (c->pool.n[old[i].node].aux == old[i].next && c->pool.n[old[i].node].q)
			old[live++] = old[i];
	c->hn = 0;
	for (size_t i = 0; i < live; i++)
		heap_push(c, old[i].next, old[i].node);
}

static bool bel_access(void *p, __u64 key, __u64 next)
{
	struct belady *c = p;
	struct sim_node *n = c->pool.n;
	__u32 i = sim_pool_find(&c->pool, key);
	bool hit = i != KEEL_SIM_NIL;

	if (!hit) {
		i = sim_pool_alloc(&c->pool, key);
		n[i].q = 1;
		c->cached++;
	}
	n[i].aux = next;
	heap_push(c, next, i);
	while (c->cached > c->cap) {
		struct heap_ent e = heap_pop(c);

		if (n[e.node].aux != e.next || !n[e.node].q)
			continue;
		n[e.node].q = 0;
		sim_pool_release(&c->pool, e.node);
		c->cached--;
	}
	if (c->hn > 4 * c->cap + 1024)
		heap_compact(c);
	return hit;
}

static void bel_destroy(void *p)
{
	struct belady *c = p;

	sim_pool_fini(&c->pool);
	free(c->h);
	free(c);
}

const struct keel_sim_policy keel_sim_belady = {
	.name = "belady",
	.what = "Belady's MIN, the offline optimum (a bound, not a policy)",
	.create = bel_create,
	.access = bel_access,
	.destroy = bel_destroy,
};
