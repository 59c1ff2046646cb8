// SPDX-License-Identifier: GPL-2.0-only
/* Per-disk cache limits from miss-ratio curves: the split with the most
 * expected hits, a curve with a cliff, bad curves refused. */
#include <criterion/criterion.h>
#include <errno.h>

#include "rcache/sizing.h"

Test(rcache_sizing, a_saturating_disk_gets_what_it_uses_the_rest_goes_to_the_other)
{
	/* A: miss ratio 1 -> 0 over 100 blocks; B: over 1000 blocks */
	uint64_t ab[] = { 100 }, bb[] = { 1000 }, lim[2];
	double am[] = { 0.0 }, bm[] = { 0.0 }, hits;
	struct keel_rcache_curve c[] = {
		{ .disk_id = 1, .reads = 1000, .n = 1, .blocks = ab, .miss_ratio = am },
		{ .disk_id = 2, .reads = 1000, .n = 1, .blocks = bb, .miss_ratio = bm },
	};

	cr_assert_eq(keel_rcache_size(c, 2, 1024, lim, &hits), 0);
	cr_assert_eq(lim[0], 100, "A got %llu blocks", (unsigned long long)lim[0]);
	cr_assert_eq(lim[1], 924, "B got %llu blocks", (unsigned long long)lim[1]);
	cr_assert_float_eq(hits, 1000 + 924, 1e-6);
	/* an equal split would hit 1000 + 512 */
	cr_log_info(
		"checked: 1024 blocks for a disk saturating at 100 and one at 1000 (same reads): "
		"100 and 924, %.0f expected hits against 1512 for an equal split",
		hits);
}

Test(rcache_sizing, a_cliff_is_reached_where_step_by_step_gains_would_not)
{
	/* C hits nothing below 301 blocks, everything from 301 on */
	uint64_t cb[] = { 300, 301 }, db[] = { 1024 }, lim[2];
	double cm[] = { 1.0, 0.0 }, dm[] = { 0.0 }, hits;
	struct keel_rcache_curve c[] = {
		{ .disk_id = 1, .reads = 1000, .n = 2, .blocks = cb, .miss_ratio = cm },
		{ .disk_id = 2, .reads = 1000, .n = 1, .blocks = db, .miss_ratio = dm },
	};

	cr_assert_eq(keel_rcache_size(c, 2, 1024, lim, &hits), 0);
	cr_assert_geq(lim[0], 301, "the cliff disk got %llu blocks", (unsigned long long)lim[0]);
	cr_assert_leq(lim[0] + lim[1], 1024);
	cr_assert_gt(hits, 1600, "expected hits %.0f", hits);
	cr_log_info(
		"checked: a disk whose curve drops only at 301 blocks gets %llu (a step-by-step "
		"choice gives it nothing: no single step gains); %.0f expected hits against 1000",
		(unsigned long long)lim[0], hits);
}

Test(rcache_sizing, bad_curves_are_refused)
{
	uint64_t b[] = { 10, 10 }, good[] = { 10, 20 }, lim[1];
	double m[] = { 0.5, 0.2 }, bad[] = { 0.5, 1.5 };
	struct keel_rcache_curve c = {
		.disk_id = 1, .reads = 1, .n = 2, .blocks = b, .miss_ratio = m
	};

	cr_assert_eq(keel_rcache_size(&c, 1, 1024, lim, NULL), -EINVAL, "sizes not rising");
	c.blocks = good;
	c.miss_ratio = bad;
	cr_assert_eq(keel_rcache_size(&c, 1, 1024, lim, NULL), -EINVAL, "miss ratio 1.5");
	c.miss_ratio = m;
	c.reads = -1;
	cr_assert_eq(keel_rcache_size(&c, 1, 1024, lim, NULL), -EINVAL, "negative reads");
	c.reads = 1;
	c.n = 0;
	cr_assert_eq(keel_rcache_size(&c, 1, 1024, lim, NULL), -EINVAL, "no points");
	cr_log_info(
		"checked: sizes not rising, a miss ratio of 1.5, negative reads, no points: EINVAL");
}
