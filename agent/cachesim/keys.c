// SPDX-License-Identifier: GPL-2.0-only
/*
 * From requests to the key sequence the policies see.
 * object mode: one key per request, its start address (libCacheSim with
 *   --ignore-obj-size 1).
 * block mode: a request covers the blocks of block_size it touches, one key
 *   each; reads_only drops writes (a read cache does not cache them).
 * Next-use indices, for Belady, come from one backward pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cachesim/sim.h"
#include "keel/trace.h"

static int keys_push(struct keel_sim_keys *k, size_t *alloc, __u64 key)
{
	if (k->n == *alloc) {
		size_t na = *alloc ? *alloc * 2 : 4096;
		__u64 *nk = realloc(k->key, na * sizeof(*nk));

		if (!nk)
			return -ENOMEM;
		k->key = nk;
		*alloc = na;
	}
	k->key[k->n++] = key;
	return 0;
}

static int keys_next(struct keel_sim_keys *k)
{
	struct keel_sim_map last;
	int r = keel_sim_map_init(&last, 1024);

	if (r)
		return r;
	k->next = malloc((k->n ? k->n : 1) * sizeof(*k->next));
	if (!k->next) {
		keel_sim_map_fini(&last);
		return -ENOMEM;
	}
	/* Map values are 32-bit, so traces stop at 4G accesses. */
	for (size_t i = k->n; i-- > 0;) {
		__u32 j = keel_sim_map_get(&last, k->key[i]);

		k->next[i] = j == KEEL_SIM_NIL ? KEEL_SIM_NEVER : j;
		r = keel_sim_map_put(&last, k->key[i], (__u32)i);
		if (r)
			break;
	}
	k->unique = last.n;
	keel_sim_map_fini(&last);
	return r;
}

int keel_sim_keys_build(const struct keel_sim_trace *t, enum keel_sim_mode m, __u32 block_size,
			bool reads_only, struct keel_sim_keys *k)
{
	size_t alloc = 0;
	int r = 0;

	memset(k, 0, sizeof(*k));
	if (m == KEEL_SIM_BLOCK && block_size == 0)
		return -EINVAL;
	for (size_t i = 0; i < t->n && !r; i++) {
		const struct keel_sim_req *q = &t->reqs[i];
		__u64 first, last;

		if (reads_only && q->write)
			continue;
		if (t->keys_only) {
			r = keys_push(k, &alloc, q->addr);
			continue;
		}
		if (m == KEEL_SIM_OBJECT) {
			r = keys_push(k, &alloc, keel_trace_block_key(q->volume, q->addr / 512));
			continue;
		}
		first = q->addr / block_size;
		last = (q->addr + (q->size ? q->size : 1) - 1) / block_size;
		for (__u64 b = first; b <= last && !r; b++)
			r = keys_push(k, &alloc, keel_trace_block_key(q->volume, b));
	}
	if (!r && k->n >= KEEL_SIM_NIL)
		r = -E2BIG;
	if (!r)
		r = keys_next(k);
	if (r)
		keel_sim_keys_free(k);
	return r;
}

void keel_sim_keys_free(struct keel_sim_keys *k)
{
	free(k->key);
	free(k->next);
	memset(k, 0, sizeof(*k));
}
