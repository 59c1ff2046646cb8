// SPDX-License-Identifier: GPL-2.0-only
/*
 * ARC (Megiddo and Modha, FAST'03): T1 holds keys seen once recently, T2
 * keys seen at least twice; B1 and B2 are their ghosts.  A ghost hit moves
 * the target size p of T1 towards the list that would have hit.
 */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/list.h"

enum { T1 = 1, T2, B1, B2 };

struct arc {
	struct sim_pool pool;
	struct sim_list l[5];
	double p;
	__u64 c;
};

static int arc_create(__u64 cap, void **ret)
{
	struct arc *a = calloc(1, sizeof(*a));

	if (!a || sim_pool_init(&a->pool, 2 * (__u32)cap + 2)) {
		free(a);
		return -ENOMEM;
	}
	a->c = cap;
	for (int i = 0; i < 5; i++)
		sim_list_init(&a->l[i]);
	*ret = a;
	return 0;
}

static void arc_move(struct arc *a, __u32 i, int to)
{
	struct sim_node *n = a->pool.n;

	if (n[i].q)
		sim_list_remove(n, &a->l[n[i].q], i);
	n[i].q = (__u8)to;
	sim_list_push_head(n, &a->l[to], i);
}

static void arc_drop_lru(struct arc *a, int q)
{
	__u32 i = sim_list_pop_tail(a->pool.n, &a->l[q]);

	sim_pool_release(&a->pool, i);
}

static void arc_replace(struct arc *a, bool in_b2)
{
	__u32 t1 = a->l[T1].len;

	if (t1 >= 1 && ((in_b2 && t1 == (__u32)a->p) || t1 > a->p))
		arc_move(a, a->l[T1].tail, B1);
	else
		arc_move(a, a->l[T2].tail, B2);
}

static bool arc_access(void *p, __u64 key, __u64 next)
{
	struct arc *a = p;
	struct sim_node *n = a->pool.n;
	__u32 i = sim_pool_find(&a->pool, key);
	double b1 = a->l[B1].len, b2 = a->l[B2].len;
	__u64 l1, total;

	(void)next;
	if (i != KEEL_SIM_NIL && (n[i].q == T1 || n[i].q == T2)) {
		arc_move(a, i, T2);
		return true;
	}
	if (i != KEEL_SIM_NIL && n[i].q == B1) {
		a->p += b1 >= b2 ? 1 : b2 / b1;
		if (a->p > a->c)
			a->p = a->c;
		arc_replace(a, false);
		arc_move(a, i, T2);
		return false;
	}
	if (i != KEEL_SIM_NIL) {
		a->p -= b2 >= b1 ? 1 : b1 / b2;
		if (a->p < 0)
			a->p = 0;
		arc_replace(a, true);
		arc_move(a, i, T2);
		return false;
	}
	l1 = a->l[T1].len + a->l[B1].len;
	total = l1 + a->l[T2].len + a->l[B2].len;
	if (l1 == a->c) {
		if (a->l[T1].len < a->c) {
			arc_drop_lru(a, B1);
			arc_replace(a, false);
		} else {
			arc_drop_lru(a, T1);
		}
	} else if (total >= a->c) {
		if (total == 2 * a->c)
			arc_drop_lru(a, B2);
		arc_replace(a, false);
	}
	arc_move(a, sim_pool_alloc(&a->pool, key), T1);
	return false;
}

static void arc_destroy(void *p)
{
	struct arc *a = p;

	sim_pool_fini(&a->pool);
	free(a);
}

const struct keel_sim_policy keel_sim_arc = {
	.name = "arc",
	.what = "Adaptive Replacement Cache",
	.create = arc_create,
	.access = arc_access,
	.destroy = arc_destroy,
};
