// SPDX-License-Identifier: GPL-2.0-only
/* Per-disk cache limits from miss-ratio curves (sizing.h). */
#include <errno.h>
#include <stdlib.h>

#include "rcache/sizing.h"

double keel_rcache_curve_miss(const struct keel_rcache_curve *c, uint64_t blocks)
{
	uint64_t x0 = 0;
	double y0 = 1.0;

	for (unsigned int i = 0; i < c->n; i++) {
		uint64_t x1 = c->blocks[i];
		double y1 = c->miss_ratio[i];

		if (blocks <= x1)
			return x1 == x0 ?
				       y1 :
				       y0 + (y1 - y0) * (double)(blocks - x0) / (double)(x1 - x0);
		x0 = x1;
		y0 = y1;
	}
	return y0;
}

static int check_curve(const struct keel_rcache_curve *c)
{
	if (!c->n || c->n > KEEL_RCACHE_SIZE_MAX_POINTS || !(c->reads >= 0))
		return -EINVAL;
	for (unsigned int i = 0; i < c->n; i++) {
		if (!(c->miss_ratio[i] >= 0 && c->miss_ratio[i] <= 1))
			return -EINVAL;
		if (i && c->blocks[i] <= c->blocks[i - 1])
			return -EINVAL;
	}
	return 0;
}

int keel_rcache_size(const struct keel_rcache_curve *c, unsigned int n, uint64_t capacity,
		     uint64_t *ret_limits, double *ret_hits)
{
	const unsigned int S = KEEL_RCACHE_SIZE_STEPS;
	uint64_t step = capacity / S;
	double *best, *next;
	uint16_t *choice; /* [disk][budget]: steps given to that disk */
	int r = 0;

	for (unsigned int i = 0; i < n; i++)
		if (check_curve(&c[i]))
			return -EINVAL;
	if (!step) {
		/* fewer blocks than steps: all to the disk with most reads */
		for (unsigned int i = 0; i < n; i++)
			ret_limits[i] = 0;
		if (n) {
			unsigned int top = 0;

			for (unsigned int i = 1; i < n; i++)
				if (c[i].reads > c[top].reads)
					top = i;
			ret_limits[top] = capacity;
		}
		if (ret_hits) {
			*ret_hits = 0;
			for (unsigned int i = 0; i < n; i++)
				*ret_hits += c[i].reads *
					     (1 - keel_rcache_curve_miss(&c[i], ret_limits[i]));
		}
		return 0;
	}
	best = calloc(S + 1, sizeof(*best));
	next = calloc(S + 1, sizeof(*next));
	choice = calloc((size_t)n * (S + 1), sizeof(*choice));
	if (!best || !next || !choice) {
		r = -ENOMEM;
		goto free_all;
	}
	/* best[b]: the most hits of the disks so far within b steps */
	for (unsigned int i = 0; i < n; i++) {
		double gain[KEEL_RCACHE_SIZE_STEPS + 1];

		for (unsigned int k = 0; k <= S; k++)
			gain[k] = c[i].reads * (1 - keel_rcache_curve_miss(&c[i], k * step));
		for (unsigned int b = 0; b <= S; b++) {
			unsigned int arg = 0;
			double v = best[b] + gain[0];

			for (unsigned int k = 1; k <= b; k++)
				if (best[b - k] + gain[k] > v) {
					v = best[b - k] + gain[k];
					arg = k;
				}
			next[b] = v;
			choice[(size_t)i * (S + 1) + b] = (uint16_t)arg;
		}
		for (unsigned int b = 0; b <= S; b++)
			best[b] = next[b];
	}
	if (ret_hits)
		*ret_hits = best[S];
	for (unsigned int i = n, b = S; i-- > 0;) {
		unsigned int k = choice[(size_t)i * (S + 1) + b];

		ret_limits[i] = (uint64_t)k * step;
		b -= k;
	}
free_all:
	free(best);
	free(next);
	free(choice);
	return r;
}
