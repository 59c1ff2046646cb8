/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-disk limits of the read cache from miss-ratio curves: split a
 * capacity among disks so that the expected hits, summed over the disks,
 * are highest.  A disk's expected hits at a size are its reads times
 * (1 - its miss ratio there), the curve read between its points by
 * linear interpolation (miss ratio 1 at size 0, the last point's beyond
 * it).  The split is exact for the capacity cut in KEEL_RCACHE_SIZE_STEPS
 * equal steps (dynamic programming, so a curve with a cliff, where adding
 * blocks helps only past a point, is sized right where a greedy
 * step-by-step choice would stop before the cliff).
 */
#ifndef KEEL_RCACHE_SIZING_H
#define KEEL_RCACHE_SIZING_H

#include <stdint.h>

#define KEEL_RCACHE_SIZE_STEPS	    256
#define KEEL_RCACHE_SIZE_MAX_POINTS 4096

struct keel_rcache_curve {
	uint64_t disk_id;
	double reads;		  /* reads over the curve's period, >= 0 */
	unsigned int n;		  /* points, 1..KEEL_RCACHE_SIZE_MAX_POINTS */
	const uint64_t *blocks;	  /* cache sizes, rising */
	const double *miss_ratio; /* 0..1 at each size */
};

/*
 * Fill @ret_limits[i] (blocks) for each of @n curves, summing to at most
 * @capacity; @ret_hits (may be NULL) gets the expected hits.  -EINVAL for
 * a curve out of its rules (sizes not rising, a miss ratio outside 0..1,
 * negative reads, no points), -ENOMEM.
 */
int keel_rcache_size(const struct keel_rcache_curve *c, unsigned int n, uint64_t capacity,
		     uint64_t *ret_limits, double *ret_hits);
/* A curve's miss ratio at @blocks (the interpolation above). */
double keel_rcache_curve_miss(const struct keel_rcache_curve *c, uint64_t blocks);

#endif /* KEEL_RCACHE_SIZING_H */
