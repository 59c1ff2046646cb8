// SPDX-License-Identifier: GPL-2.0-only
/*
 * LIRS (Jiang and Zhang, SIGMETRICS'02).  Keys with a small inter-reference
 * recency (LIR) own 99% of the cache; the other 1% holds resident HIR keys
 * in the queue Q.  The stack S orders keys by recency and keeps
 * non-resident HIR keys so their next reference can be judged; its bottom
 * is always a LIR key (stack pruning).  Non-resident keys are bounded
 * (oldest dropped first) so memory stays proportional to the cache.
 */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/sim.h"

#define NONRES_FACTOR 1

enum { LIR = 1, HIR_RES, HIR_NONRES };

struct lnode {
	__u64 key;
	__u32 sp, sn; /* stack S links */
	__u32 qp, qn; /* Q links, or the non-resident list */
	__u8 st, in_s, in_q;
};

struct dl {
	__u32 head, tail, len; /* head = top / newest */
};

struct lirs {
	struct lnode *n;
	__u32 *free, nfree;
	struct keel_sim_map map;
	struct dl s, q, nr;
	__u64 cap, lir_cap, lir, resident, nr_cap;
};

#define LINK_FNS(name, P, N)                                            \
	static void name##_push(struct lnode *n, struct dl *l, __u32 i) \
	{                                                               \
		n[i].P = KEEL_SIM_NIL;                                  \
		n[i].N = l->head;                                       \
		if (l->head != KEEL_SIM_NIL)                            \
			n[l->head].P = i;                               \
		else                                                    \
			l->tail = i;                                    \
		l->head = i;                                            \
		l->len++;                                               \
	}                                                               \
	static void name##_del(struct lnode *n, struct dl *l, __u32 i)  \
	{                                                               \
		if (n[i].P != KEEL_SIM_NIL)                             \
			n[n[i].P].N = n[i].N;                           \
		else                                                    \
			l->head = n[i].N;                               \
		if (n[i].N != KEEL_SIM_NIL)                             \
			n[n[i].N].P = n[i].P;                           \
		else                                                    \
			l->tail = n[i].P;                               \
		l->len--;                                               \
	}

LINK_FNS(s, sp, sn)
LINK_FNS(q, qp, qn)

static void dl_init(struct dl *l)
{
	l->head = l->tail = KEEL_SIM_NIL;
	l->len = 0;
}

static int lirs_create(__u64 cap, void **ret)
{
	struct lirs *c = calloc(1, sizeof(*c));
	__u64 hir = cap / 100 ? cap / 100 : 1;
	__u32 total;

	if (!c)
		return -ENOMEM;
	c->cap = cap;
	c->lir_cap = cap > hir ? cap - hir : 1;
	c->nr_cap = NONRES_FACTOR * cap;
	total = (__u32)(cap + c->nr_cap + 2);
	c->n = calloc(total, sizeof(*c->n));
	c->free = calloc(total, sizeof(*c->free));
	if (!c->n || !c->free || keel_sim_map_init(&c->map, total)) {
		free(c->n);
		free(c->free);
		free(c);
		return -ENOMEM;
	}
	for (__u32 i = 0; i < total; i++)
		c->free[i] = total - 1 - i;
	c->nfree = total;
	dl_init(&c->s);
	dl_init(&c->q);
	dl_init(&c->nr);
	*ret = c;
	return 0;
}

static void lirs_release(struct lirs *c, __u32 i)
{
	keel_sim_map_del(&c->map, c->n[i].key);
	c->free[c->nfree++] = i;
}

/* A key leaves the cache but stays in S as non-resident. */
static void make_nonres(struct lirs *c, __u32 i)
{
	struct lnode *n = c->n;

	n[i].st = HIR_NONRES;
	q_push(n, &c->nr, i); /* reuse the Q links for the NR list */
	n[i].in_q = 1;
	if (c->nr.len > c->nr_cap) {
		__u32 o = c->nr.tail;

		q_del(n, &c->nr, o);
		s_del(n, &c->s, o);
		lirs_release(c, o);
	}
}

static void prune(struct lirs *c)
{
	struct lnode *n = c->n;

	while (c->s.len && n[c->s.tail].st != LIR) {
		__u32 b = c->s.tail;

		s_del(n, &c->s, b);
		n[b].in_s = 0;
		if (n[b].st == HIR_NONRES) {
			q_del(n, &c->nr, b);
			lirs_release(c, b);
		}
	}
}

/* The LIR key at the bottom of S becomes a resident HIR key. */
static void demote_bottom(struct lirs *c)
{
	struct lnode *n = c->n;
	__u32 b = c->s.tail;

	s_del(n, &c->s, b);
	n[b].in_s = 0;
	n[b].st = HIR_RES;
	q_push(n, &c->q, b);
	n[b].in_q = 1;
	c->lir--;
	prune(c);
}

static void to_top(struct lirs *c, __u32 i)
{
	if (c->n[i].in_s)
		s_del(c->n, &c->s, i);
	s_push(c->n, &c->s, i);
	c->n[i].in_s = 1;
}

static void evict_hir(struct lirs *c)
{
	struct lnode *n = c->n;
	__u32 v = c->q.tail;

	q_del(n, &c->q, v);
	n[v].in_q = 0;
	c->resident--;
	if (n[v].in_s)
		make_nonres(c, v);
	else
		lirs_release(c, v);
}

static bool lirs_access(void *p, __u64 key, __u64 next)
{
	struct lirs *c = p;
	struct lnode *n = c->n;
	__u32 i = keel_sim_map_get(&c->map, key);

	(void)next;
	if (i != KEEL_SIM_NIL && n[i].st == LIR) {
		bool bottom = c->s.tail == i;

		to_top(c, i);
		if (bottom)
			prune(c);
		return true;
	}
	if (i != KEEL_SIM_NIL && n[i].st == HIR_RES) {
		if (n[i].in_s) {
			q_del(n, &c->q, i);
			n[i].in_q = 0;
			n[i].st = LIR;
			c->lir++;
			to_top(c, i);
			demote_bottom(c);
		} else {
			to_top(c, i);
			q_del(n, &c->q, i);
			q_push(n, &c->q, i);
		}
		return true;
	}
	/* Miss. */
	if (i != KEEL_SIM_NIL) {
		/* Out of the NR list first, so the bound cannot drop it. */
		q_del(n, &c->nr, i);
		n[i].in_q = 0;
		n[i].st = 0;
	}
	if (c->resident >= c->cap)
		evict_hir(c);
	if (i == KEEL_SIM_NIL) {
		i = c->free[--c->nfree];
		n[i].key = key;
		n[i].in_s = n[i].in_q = 0;
		keel_sim_map_put(&c->map, key, i);
	}
	c->resident++;
	if (c->lir < c->lir_cap) {
		n[i].st = LIR;
		c->lir++;
		to_top(c, i);
		return false;
	}
	if (n[i].in_s) {
		n[i].st = LIR;
		c->lir++;
		to_top(c, i);
		demote_bottom(c);
	} else {
		n[i].st = HIR_RES;
		to_top(c, i);
		q_push(n, &c->q, i);
		n[i].in_q = 1;
	}
	return false;
}

static void lirs_destroy(void *p)
{
	struct lirs *c = p;

	free(c->n);
	free(c->free);
	keel_sim_map_fini(&c->map);
	free(c);
}

const struct keel_sim_policy keel_sim_lirs = {
	.name = "lirs",
	.what = "LIRS, 1% HIR, non-resident keys up to 1x the cache",
	.create = lirs_create,
	.access = lirs_access,
	.destroy = lirs_destroy,
};
