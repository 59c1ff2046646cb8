/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KEEL_MIX64_H
#define KEEL_MIX64_H

#include <stdint.h>

/*
 * splitmix64's finaliser: cheap, and every input bit reaches every output
 * bit, which hash buckets, shard choice and spatial sampling rely on.
 */
static inline uint64_t keel_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

#endif /* KEEL_MIX64_H */
