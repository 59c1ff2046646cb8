/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Index-linked lists over a node pool, shared by the reference policies.
 * head is the newest (MRU) end, tail the oldest.
 */
#ifndef KEEL_CACHESIM_LIST_H
#define KEEL_CACHESIM_LIST_H

#include <stdlib.h>

#include "cachesim/sim.h"

struct sim_node {
	__u64 key;
	__u64 aux; /* policy-defined (next use, ...) */
	__u32 prev, next;
	__u32 freq;
	__u8 q; /* which list the node is on */
};

struct sim_list {
	__u32 head, tail, len;
};

/* Nodes plus a key index; a policy owns one. */
struct sim_pool {
	struct sim_node *n;
	__u32 *free;
	__u32 nfree, cap;
	struct keel_sim_map map;
};

static inline void sim_list_init(struct sim_list *l)
{
	l->head = l->tail = KEEL_SIM_NIL;
	l->len = 0;
}

static inline void sim_list_push_head(struct sim_node *n, struct sim_list *l, __u32 i)
{
	n[i].prev = KEEL_SIM_NIL;
	n[i].next = l->head;
	if (l->head != KEEL_SIM_NIL)
		n[l->head].prev = i;
	else
		l->tail = i;
	l->head = i;
	l->len++;
}

static inline void sim_list_remove(struct sim_node *n, struct sim_list *l, __u32 i)
{
	if (n[i].prev != KEEL_SIM_NIL)
		n[n[i].prev].next = n[i].next;
	else
		l->head = n[i].next;
	if (n[i].next != KEEL_SIM_NIL)
		n[n[i].next].prev = n[i].prev;
	else
		l->tail = n[i].prev;
	l->len--;
}

static inline __u32 sim_list_pop_tail(struct sim_node *n, struct sim_list *l)
{
	__u32 i = l->tail;

	if (i != KEEL_SIM_NIL)
		sim_list_remove(n, l, i);
	return i;
}

static inline int sim_pool_init(struct sim_pool *p, __u32 cap)
{
	p->cap = cap;
	p->n = calloc(cap, sizeof(*p->n));
	p->free = calloc(cap, sizeof(*p->free));
	if (!p->n || !p->free || keel_sim_map_init(&p->map, cap)) {
		free(p->n);
		free(p->free);
		return -1;
	}
	for (__u32 i = 0; i < cap; i++)
		p->free[i] = cap - 1 - i;
	p->nfree = cap;
	return 0;
}

static inline void sim_pool_fini(struct sim_pool *p)
{
	free(p->n);
	free(p->free);
	keel_sim_map_fini(&p->map);
}

static inline __u32 sim_pool_find(const struct sim_pool *p, __u64 key)
{
	return keel_sim_map_get(&p->map, key);
}

/* A node for key, not on any list; the pool is sized so this never fails. */
static inline __u32 sim_pool_alloc(struct sim_pool *p, __u64 key)
{
	__u32 i = p->free[--p->nfree];

	p->n[i].key = key;
	p->n[i].aux = 0;
	p->n[i].freq = 0;
	p->n[i].q = 0;
	keel_sim_map_put(&p->map, key, i);
	return i;
}

static inline void sim_pool_release(struct sim_pool *p, __u32 i)
{
	keel_sim_map_del(&p->map, p->n[i].key);
	p->free[p->nfree++] = i;
}

#endif /* KEEL_CACHESIM_LIST_H */
