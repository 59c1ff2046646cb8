// SPDX-License-Identifier: GPL-2.0-only
/* Frequency sketch of the cache's shards; see sketch.h. */
#include <errno.h>
#include <stdlib.h>

#include "cache/sketch.h"

#define WAYS	  4
#define COUNT_MAX 15

int keel_sketch_init(struct keel_sketch *k, __u32 counters, __u32 period)
{
	__u32 n = 64;

	while (n <= counters / 2 && n < (1u << 31))
		n *= 2;
	k->nib = calloc(n / 2, 1);
	if (!k->nib)
		return -ENOMEM;
	k->mask = n - 1;
	k->adds = 0;
	k->period = period ? period : 1;
	return 0;
}

void keel_sketch_fini(struct keel_sketch *k)
{
	free(k->nib);
	k->nib = NULL;
}

static __u32 idx(const struct keel_sketch *k, __u64 hash, __u32 i)
{
	/* Double hashing with an odd stride: the four counters differ
	 * whatever the (power of two) size. */
	__u32 a = (__u32)hash, b = (__u32)(hash >> 32) | 1;

	return (a + i * b) & k->mask;
}

static __u32 get(const struct keel_sketch *k, __u32 i)
{
	return (k->nib[i >> 1] >> ((i & 1) * 4)) & 0xf;
}

__u32 keel_sketch_estimate(const struct keel_sketch *k, __u64 hash)
{
	__u32 m = COUNT_MAX;

	for (__u32 i = 0; i < WAYS; i++) {
		__u32 v = get(k, idx(k, hash, i));

		if (v < m)
			m = v;
	}
	return m;
}

static void halve(struct keel_sketch *k)
{
	/* Both nibbles of a byte at once: shift, drop the bit that crossed
	 * from the high nibble into the low one. */
	for (__u32 i = 0; i <= k->mask / 2; i++)
		k->nib[i] = (k->nib[i] >> 1) & 0x77;
	k->adds /= 2;
}

void keel_sketch_add(struct keel_sketch *k, __u64 hash)
{
	__u32 m = keel_sketch_estimate(k, hash);

	if (m < COUNT_MAX) {
		for (__u32 i = 0; i < WAYS; i++) {
			__u32 j = idx(k, hash, i);

			if (get(k, j) == m)
				k->nib[j >> 1] += (__u8)(1u << ((j & 1) * 4));
		}
	}
	if (++k->adds >= k->period)
		halve(k);
}

__u64 keel_sketch_bytes(const struct keel_sketch *k)
{
	return ((__u64)k->mask + 1) / 2;
}
