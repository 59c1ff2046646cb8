// SPDX-License-Identifier: GPL-2.0-only
/*
 * HyperLogLog with Ertl's improved raw estimator (see distinct.h).  The
 * estimator reads only the histogram of register values, which add() keeps
 * up to date, so an estimate costs O(64) whatever the sketch size.
 */
#include <math.h>
#include <string.h>

#include "blk/distinct.h"

void keel_distinct_init(struct keel_distinct *d)
{
	memset(d, 0, sizeof(*d));
	d->count[0] = KEEL_DISTINCT_M;
}

bool keel_distinct_add(struct keel_distinct *d, __u64 hash)
{
	__u32 j = hash >> KEEL_DISTINCT_Q;
	/* the rank: leading zeros of the other Q bits plus one, at most Q + 1
	 * (the sentinel bit stops the count there) */
	__u8 r = __builtin_clzll(hash << KEEL_DISTINCT_P | 1ull << (KEEL_DISTINCT_P - 1)) + 1;

	if (r > d->reg[j]) {
		d->count[d->reg[j]]--;
		d->count[r]++;
		d->reg[j] = r;
		return true;
	}
	return false;
}

/* Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1): the empty-register term. */
static double sigma(double x)
{
	double y = 1, z = x, prev;

	if (x == 1)
		return INFINITY;
	do {
		x *= x;
		prev = z;
		z += x * y;
		y += y;
	} while (z != prev);
	return z;
}

/* Ertl's tau(x): the full-register term. */
static double tau(double x)
{
	double y = 1, z, prev;

	if (x == 0 || x == 1)
		return 0;
	z = 1 - x;
	do {
		x = sqrt(x);
		prev = z;
		y *= 0.5;
		z -= (1 - x) * (1 - x) * y;
	} while (z != prev);
	return z / 3;
}

double keel_distinct_estimate(const struct keel_distinct *d)
{
	double m = KEEL_DISTINCT_M;
	double z = m * tau(1 - d->count[KEEL_DISTINCT_Q + 1] / m);

	for (int k = KEEL_DISTINCT_Q; k >= 1; k--)
		z = 0.5 * (z + d->count[k]);
	z += m * sigma(d->count[0] / m);
	return m * m / (2 * M_LN2) / z;
}
