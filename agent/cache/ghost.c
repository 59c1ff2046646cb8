// SPDX-License-Identifier: GPL-2.0-only
/* Ghost queue of the three-queue cache: see ghost.h. */
#include <errno.h>
#include <stdlib.h>

#include "cache/ghost.h"

#define FP_SHIFT   33
#define ORIGIN_BIT (1ull << 32)

static __u32 ghost_set(const struct keel_ghost *g, __u64 hash)
{
	/* Multiply-shift maps the low 32 bits onto [0, nsets) without a
	 * power-of-two restriction. */
	return (__u32)(((hash & 0xffffffffull) * g->nsets) >> 32);
}

static __u64 ghost_fp(__u64 hash)
{
	__u64 fp = hash >> FP_SHIFT;

	/* 0 marks an empty way, so never store a zero fingerprint. */
	return fp ? fp : 1;
}

static bool ghost_live_word(const struct keel_ghost *g, __u64 w, __u32 now)
{
	return w && (__u32)(now - (__u32)w) < g->window;
}

int keel_ghost_init(struct keel_ghost *g, __u32 capacity, __u32 window)
{
	if (capacity == 0)
		capacity = 1;
	g->nsets = (capacity + KEEL_GHOST_WAYS - 1) / KEEL_GHOST_WAYS;
	g->entries = g->nsets * KEEL_GHOST_WAYS;
	g->window = window ? window : 1;
	g->words = aligned_alloc(64, (size_t)g->entries * sizeof(__u64));
	if (!g->words)
		return -ENOMEM;
	for (size_t i = 0; i < g->entries; i++)
		g->words[i] = 0;
	return 0;
}

void keel_ghost_fini(struct keel_ghost *g)
{
	free(g->words);
	g->words = NULL;
}

void keel_ghost_add(struct keel_ghost *g, __u64 hash, enum keel_ghost_origin o, __u32 ref,
		    __u32 now)
{
	__u64 *set = g->words + (size_t)ghost_set(g, hash) * KEEL_GHOST_WAYS;
	__u64 fp = ghost_fp(hash);
	int victim = 0;
	__u32 oldest = 0;

	if ((__u32)(now - ref) >= g->window)
		return; /* too old to be live: nothing to remember */
	for (int i = 0; i < KEEL_GHOST_WAYS; i++) {
		__u64 w = set[i];
		__u32 age;

		if (!ghost_live_word(g, w, now) || (w >> FP_SHIFT) == fp) {
			victim = i;
			break;
		}
		age = now - (__u32)w;
		if (age >= oldest) {
			oldest = age;
			victim = i;
		}
	}
	set[victim] = (fp << FP_SHIFT) | (o == KEEL_GHOST_FROM_HOT ? ORIGIN_BIT : 0) | ref;
}

static int ghost_find(const struct keel_ghost *g, __u64 hash, __u32 now)
{
	const __u64 *set = g->words + (size_t)ghost_set(g, hash) * KEEL_GHOST_WAYS;
	__u64 fp = ghost_fp(hash);

	for (int i = 0; i < KEEL_GHOST_WAYS; i++)
		if ((set[i] >> FP_SHIFT) == fp && ghost_live_word(g, set[i], now))
			return i;
	return -1;
}

static enum keel_ghost_origin origin_of(__u64 w)
{
	return (w & ORIGIN_BIT) ? KEEL_GHOST_FROM_HOT : KEEL_GHOST_FROM_COLD;
}

enum keel_ghost_origin keel_ghost_peek(const struct keel_ghost *g, __u64 hash, __u32 now)
{
	int i = ghost_find(g, hash, now);

	if (i < 0)
		return KEEL_GHOST_NONE;
	return origin_of(g->words[(size_t)ghost_set(g, hash) * KEEL_GHOST_WAYS + i]);
}

enum keel_ghost_origin keel_ghost_take(struct keel_ghost *g, __u64 hash, __u32 now, __u32 *ret_ref)
{
	int i = ghost_find(g, hash, now);
	__u64 *w;

	if (i < 0)
		return KEEL_GHOST_NONE;
	w = &g->words[(size_t)ghost_set(g, hash) * KEEL_GHOST_WAYS + i];
	*ret_ref = (__u32)*w;
	i = origin_of(*w);
	*w = 0;
	return i;
}

__u32 keel_ghost_live(const struct keel_ghost *g, __u32 now)
{
	__u32 n = 0;

	for (size_t i = 0; i < g->entries; i++)
		n += ghost_live_word(g, g->words[i], now);
	return n;
}

__u64 keel_ghost_bytes(const struct keel_ghost *g)
{
	return (__u64)g->entries * sizeof(__u64);
}
