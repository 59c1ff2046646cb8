// SPDX-License-Identifier: GPL-2.0-only
/*
 * The three-queue cache's miss-ratio curve by miniature simulation
 * (agent/blk/minisim.c) against the exact one, computed by running a full
 * keel_cache of every size over the public traces in ../shared/traces; and
 * how far LRU's exact curve (what SHARDS estimates) is from it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "blk/minisim.h"
#include "blk/shards.h"
#include "keel/cache.h"
#include "trace_keys.h"

#define GRID   20  /* sizes compared: unique x (i + 1) / GRID */
#define POINTS 100 /* miniature caches */
#define SEEDS  20

static double mae(const double *a, const double *b, int n)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += fabs(a[i] - b[i]);
	return sum / n;
}

/* Exact LRU curve at the grid sizes (SHARDS at rate 1 is exact). */
static void lru_exact(struct keys *t, const __u64 *size, double *miss)
{
	struct keel_shards_opts o = { .mode = KEEL_SHARDS_FIXED_RATE,
				      .rate = 1,
				      .max_samples = 1u << 24,
				      .max_size = size[GRID - 1],
				      .bins = GRID };
	struct keel_shards *s;
	__u64 sz[GRID];

	cr_assert_eq(keel_shards_new(&o, &s), 0);
	for (size_t i = 0; i < t->n; i++)
		keel_shards_access(s, t->k[i]);
	cr_assert_eq(keel_shards_curve(s, sz, miss), GRID);
	for (int i = 0; i < GRID; i++)
		cr_assert_eq(sz[i], size[i]);
	keel_shards_free(s);
}

/* Exact three-queue curve: a full keel_cache of each size over the trace. */
static void keel_exact(const struct keys *t, const __u64 *size, double *miss)
{
	for (int i = 0; i < GRID; i++) {
		struct keel_cache_opts co = { .capacity = size[i], .shards = 1 };
		struct keel_cache *c;
		__u64 misses = 0;

		cr_assert_eq(keel_cache_new(&co, &c), 0);
		for (size_t j = 0; j < t->n; j++)
			misses += !keel_cache_access(c, t->k[j]);
		miss[i] = (double)misses / t->n;
		keel_cache_free(c);
	}
}

static double mini(const struct keys *t, double rate, __u64 seed, const __u64 *size, double *miss,
		   struct keel_minisim_info *mi)
{
	struct keel_minisim_opts o = { .rate = rate,
				       .max_size = t->unique,
				       .points = POINTS,
				       .max_entries = 1u << 24,
				       .seed = seed };
	struct keel_minisim *m;

	cr_assert_eq(keel_minisim_new(&o, &m), 0);
	for (size_t i = 0; i < t->n; i++)
		keel_minisim_access(m, t->k[i]);
	cr_assert_eq(keel_minisim_curve(m, GRID, size, miss), 0);
	keel_minisim_get_info(m, mi);
	keel_minisim_free(m);
	return 0;
}

/*
 * Bounds: 0.01 where the error is under it (cloudPhysics, mean over the
 * seeds), else the error measured today x 1.5 + 0.005: the three-queue
 * policy itself may change (agent/cache), which moves both curves.  On
 * loop, zigzag and multi1 a 1% sample is 11-33 blocks and the miniature
 * caches hold 1-26 entries, where the policy's details (a 1% cold queue,
 * the ghost) decide everything and moved the error from 0.10 to 0.19
 * (loop) while agent/cache changed: there the bounds only catch a curve
 * gone wrong, not small regressions.  The
 * default seed happens to be under or near 0.01 on 2_pools, multi1 and
 * multi3, but their means are not, so that is luck and not asserted.
 */
struct bound {
	double seed0, mean; /* 1%: keel's default seed; mean over SEEDS */
};

static void check_trace(const char *name, struct bound b)
{
	struct keys t = { 0 };
	struct keel_minisim_info mi;
	__u64 size[GRID];
	double lru[GRID], exact[GRID], m[GRID], e0, mean = 0, worst = 0, e_big, big_rate;
	struct keel_shards_opts o = { .mode = KEEL_SHARDS_FIXED_RATE,
				      .rate = 1,
				      .max_samples = 1u << 24,
				      .max_size = 1,
				      .bins = 1 };
	struct keel_shards_info si;
	struct keel_shards *s;

	load_trace_keys(name, &t);
	cr_assert_eq(keel_shards_new(&o, &s), 0);
	for (size_t i = 0; i < t.n; i++)
		keel_shards_access(s, t.k[i]);
	keel_shards_get_info(s, &si);
	t.unique = si.keys;
	keel_shards_free(s);
	for (int i = 0; i < GRID; i++)
		size[i] = (t.unique + GRID - 1) / GRID * (i + 1);
	lru_exact(&t, size, lru);
	keel_exact(&t, size, exact);
	mini(&t, 0.01, 0, size, m, &mi);
	e0 = mae(exact, m, GRID);
	for (__u64 seed = 1; seed <= SEEDS; seed++) {
		double e;

		mini(&t, 0.01, seed, size, m, &mi);
		e = mae(exact, m, GRID);
		mean += e / SEEDS;
		worst = e > worst ? e : worst;
	}
	/* ~4,000 sampled keys, where the trace has more (else it would be a
	 * full simulation, nothing to learn) */
	big_rate = 4000.0 / t.unique < 1 ? 4000.0 / t.unique : 1;
	e_big = 0;
	if (big_rate < 1) {
		mini(&t, big_rate, 0, size, m, &mi);
		e_big = mae(exact, m, GRID);
	}
	printf("%-34s %6llu keys | three-queue vs LRU exact curves differ by %.4f | "
	       "miniature simulation 1%%: MAE %.5f, over %d seeds mean %.5f, worst %.4f",
	       name, (unsigned long long)t.unique, mae(exact, lru, GRID), e0, SEEDS, mean, worst);
	if (big_rate < 1)
		printf(" | rate %.3f: %.4f (%u caches, %llu entries, %llu B)", big_rate, e_big,
		       mi.caches, (unsigned long long)mi.entries, (unsigned long long)mi.bytes);
	printf("\n");
	for (int i = 0; i < GRID && big_rate < 1; i += 4)
		printf("  %-32s size %6llu: three-queue %.4f, LRU %.4f, miniature (rate %.3f) %.4f\n",
		       name, (unsigned long long)size[i], exact[i], lru[i], big_rate, m[i]);
	cr_expect(e0 <= b.seed0, "%s: miniature 1%% MAE %.4f > %.4f", name, e0, b.seed0);
	cr_expect(mean <= b.mean, "%s: miniature 1%% mean MAE over %d seeds %.4f > %.4f", name,
		  SEEDS, mean, b.mean);
	cr_expect(e_big <= 0.02, "%s: miniature rate %.3f MAE %.4f > 0.02", name, big_rate, e_big);
	free(t.k);
}

Test(blk_minisim, cloudphysics, .timeout = 120)
{
	check_trace("cloudPhysicsIO.oracleGeneral.bin", (struct bound){ 0.024, 0.01 });
}
Test(blk_minisim, lirs_2_pools, .timeout = 120)
{
	check_trace("lirs-2_pools.trace.gz", (struct bound){ 0.019, 0.025 });
}
Test(blk_minisim, lirs_loop, .timeout = 120)
{
	check_trace("lirs-loop.trace.gz", (struct bound){ 0.30, 0.30 });
}
Test(blk_minisim, lirs_multi1, .timeout = 120)
{
	check_trace("lirs-multi1.trace.gz", (struct bound){ 0.03, 0.12 });
}
Test(blk_minisim, lirs_multi2, .timeout = 120)
{
	check_trace("lirs-multi2.trace.gz", (struct bound){ 0.056, 0.034 });
}
Test(blk_minisim, lirs_multi3, .timeout = 120)
{
	check_trace("lirs-multi3.trace.gz", (struct bound){ 0.016, 0.035 });
}
Test(blk_minisim, lirs_sprite, .timeout = 120)
{
	check_trace("lirs-sprite.trace.gz", (struct bound){ 0.044, 0.025 });
}
Test(blk_minisim, lirs_zigzag, .timeout = 120)
{
	check_trace("lirs-zigzag.trace.gz", (struct bound){ 0.20, 0.15 });
}

Test(blk_minisim, bad_options)
{
	struct keel_minisim_opts o = {
		.rate = 0.01, .max_size = 1000, .points = 10, .max_entries = 1000
	};
	struct keel_minisim *m;

	o.rate = 0;
	cr_expect_eq(keel_minisim_new(&o, &m), -EINVAL);
	o.rate = 0.01;
	o.points = 0;
	cr_expect_eq(keel_minisim_new(&o, &m), -EINVAL);
	o.points = 2000;
	cr_expect_eq(keel_minisim_new(&o, &m), -EINVAL);
	o.points = 10;
	o.max_entries = 5; /* ten caches of at least one entry cannot fit */
	cr_expect_eq(keel_minisim_new(&o, &m), -EINVAL);
}

/* A rate whose caches would not fit max_entries is lowered until they do. */
Test(blk_minisim, bounded_memory)
{
	struct keel_minisim_opts o = {
		.rate = 0.5, .max_size = 1u << 20, .points = 16, .max_entries = 100000
	};
	struct keel_minisim_info mi;
	struct keel_minisim *m;
	__u64 size[4] = { 1000, 10000, 100000, 1u << 20 };
	double miss[4];

	cr_assert_eq(keel_minisim_new(&o, &m), 0);
	cr_expect_eq(keel_minisim_curve(m, 4, size, miss), -EAGAIN, "no curve before any access");
	for (__u64 i = 0; i < 300000; i++)
		keel_minisim_access(m, i % 200000);
	keel_minisim_get_info(m, &mi);
	printf("bounded: rate 0.5 asked, %.4f used, %llu entries in %u caches, %llu B\n", mi.rate,
	       (unsigned long long)mi.entries, mi.caches, (unsigned long long)mi.bytes);
	cr_expect_leq(mi.entries, 100000);
	cr_expect_lt(mi.rate, 0.5);
	cr_assert_eq(keel_minisim_curve(m, 4, size, miss), 0);
	for (int i = 1; i < 4; i++)
		cr_expect_leq(miss[i], miss[i - 1] + 0.05, "the curve falls with size");
	keel_minisim_free(m);
}

/*
 * More distinct keys than the caches' entries: the counting sample lowers
 * its own rate, and the fraction must still be the caches' (~ their rate).
 */
Test(blk_minisim, more_keys_than_entries)
{
	struct keel_minisim_opts o = {
		.rate = 0.01, .max_size = 10000, .points = 4, .max_entries = 1000
	};
	struct keel_minisim_info mi;
	struct keel_minisim *m;

	cr_assert_eq(keel_minisim_new(&o, &m), 0);
	for (__u64 i = 0; i < 2000000; i++)
		keel_minisim_access(m, i % 1000000); /* 10,000 sampled keys */
	keel_minisim_get_info(m, &mi);
	printf("1,000,000 keys at 1%% with %llu cache entries: fraction %.5f, rate %.5f\n",
	       (unsigned long long)mi.entries, mi.fraction, mi.rate);
	cr_expect(fabs(mi.fraction / mi.rate - 1) < 0.1, "fraction %.5f for rate %.5f", mi.fraction,
		  mi.rate);
	keel_minisim_free(m);
}
