// SPDX-License-Identifier: GPL-2.0-only
/*
 * --summary: one figure per policy over every cell (trace, size) of a run,
 * the geometric mean of its miss ratio over the best online policy's in
 * that cell.  1.000 is "as good as the best policy everywhere"; a policy
 * can only get there by never losing.  The geometric mean weighs a 10%
 * loss on a small-miss-ratio cell as much as one on a large one, which an
 * arithmetic mean of miss ratios would not.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cachesim/sim.h"

static bool offline(const char *policy)
{
	return !strcmp(policy, "belady");
}

/*
 * A cell's ratio for one result against a yardstick result.  Where either
 * has no miss at all both count one more (misses + 1 over best + 1), so a
 * policy that misses there is still charged, one that does not is
 * credited, and the mean stays finite.
 */
static double ratio(const struct keel_sim_result *x, const struct keel_sim_result *best)
{
	if (!best->misses || !x->misses)
		return (double)(x->misses + 1) / (double)(best->misses + 1);
	return x->miss_ratio / best->miss_ratio;
}

/*
 * The best online result in the cell of reps->res[from..] at `size` other
 * than `policy`'s (NULL: none).  It is the yardstick of "vs the rest": a
 * policy's margin over the best of the others, below 1 where it wins.
 */
static const struct keel_sim_result *best_other(const struct keel_sim_report *r, size_t from,
						__u64 size, const char *policy)
{
	const struct keel_sim_result *best = NULL;

	for (size_t k = from; k < r->nres; k++) {
		const struct keel_sim_result *y = &r->res[k];

		if (y->size == size && !offline(y->policy) && strcmp(y->policy, policy) &&
		    (!best || y->misses < best->misses))
			best = y;
	}
	return best;
}

int keel_sim_summarize(const struct keel_sim_report *reps, size_t nreps,
		       struct keel_sim_summary *ret)
{
	struct keel_sim_summary_row *rows = NULL;
	size_t nrows = 0, cells = 0;

	memset(ret, 0, sizeof(*ret));
	/* One row per policy name, in the order policies first appear. */
	for (size_t t = 0; t < nreps; t++) {
		for (size_t i = 0; i < reps[t].nres; i++) {
			const char *p = reps[t].res[i].policy;
			size_t j;

			for (j = 0; j < nrows && strcmp(rows[j].policy, p); j++)
				;
			if (j < nrows)
				continue;
			struct keel_sim_summary_row *more =
				realloc(rows, (nrows + 1) * sizeof(*rows));

			if (!more) {
				free(rows);
				return -ENOMEM;
			}
			rows = more;
			memset(&rows[nrows], 0, sizeof(*rows));
			rows[nrows].policy = p;
			rows[nrows].offline = offline(p);
			nrows++;
		}
	}
	for (size_t t = 0; t < nreps; t++) {
		const struct keel_sim_report *r = &reps[t];

		for (size_t i = 0; i < r->nres; i++) {
			const struct keel_sim_result *best = NULL;
			__u64 size = r->res[i].size;
			bool seen = false;

			/* A cell is a size of this trace; handle it once, at
			 * its first result. */
			for (size_t k = 0; k < i && !seen; k++)
				seen = r->res[k].size == size;
			if (seen)
				continue;
			for (size_t k = i; k < r->nres; k++)
				if (r->res[k].size == size && !offline(r->res[k].policy) &&
				    (!best || r->res[k].misses < best->misses))
					best = &r->res[k];
			if (!best)
				continue; /* only Belady was run */
			cells++;
			for (size_t k = i; k < r->nres; k++) {
				const struct keel_sim_result *x = &r->res[k], *other;
				double q;
				size_t j;

				if (x->size != size)
					continue;
				for (j = 0; strcmp(rows[j].policy, x->policy); j++)
					;
				q = ratio(x, best);
				other = best_other(r, i, size, x->policy);
				if (other) {
					rows[j].rest_log_sum += log(ratio(x, other));
					rows[j].rest_cells++;
				}
				rows[j].log_sum += log(q);
				rows[j].cells++;
				if (!rows[j].offline && x->misses <= best->misses)
					rows[j].best++;
				if (q > rows[j].worst) {
					rows[j].worst = q;
					rows[j].worst_trace = r->trace;
					rows[j].worst_size = size;
				}
			}
		}
	}
	for (size_t j = 0; j < nrows; j++) {
		rows[j].geomean = rows[j].cells ? exp(rows[j].log_sum / (double)rows[j].cells) :
						  NAN;
		rows[j].vs_rest = rows[j].rest_cells ?
					  exp(rows[j].rest_log_sum / (double)rows[j].rest_cells) :
					  NAN;
	}
	ret->rows = rows;
	ret->nrows = nrows;
	ret->cells = cells;
	ret->traces = nreps;
	return 0;
}

void keel_sim_summary_free(struct keel_sim_summary *s)
{
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

static int by_geomean(const void *a, const void *b)
{
	const struct keel_sim_summary_row *x = a, *y = b;

	if (x->offline != y->offline)
		return x->offline - y->offline;
	return (x->geomean > y->geomean) - (x->geomean < y->geomean);
}

void keel_sim_out_summary(FILE *f, const struct keel_sim_summary *s)
{
	struct keel_sim_summary_row *rows = malloc(s->nrows * sizeof(*rows));

	if (!rows)
		return;
	memcpy(rows, s->rows, s->nrows * sizeof(*rows));
	qsort(rows, s->nrows, sizeof(*rows), by_geomean);
	fprintf(f,
		"summary over %zu cells (%zu traces): geometric mean of the "
		"miss ratio over the best online policy's in each cell "
		"(vs rest: over the best of the other policies')\n",
		s->cells, s->traces);
	fprintf(f, "%-9s %8s %8s %6s %8s  %s\n", "policy", "geomean", "vs rest", "best", "worst",
		"worst cell");
	for (size_t j = 0; j < s->nrows; j++) {
		const struct keel_sim_summary_row *r = &rows[j];

		char rest[16] = "-";

		/* "-" when the run had no other policy to compare with */
		if (!isnan(r->vs_rest))
			snprintf(rest, sizeof(rest), "%.4f", r->vs_rest);
		fprintf(f, "%-9s %8.4f %8s %6zu %8.4f  %s at %llu%s\n", r->policy, r->geomean, rest,
			r->best, r->worst, r->worst_trace ? r->worst_trace : "-",
			(unsigned long long)r->worst_size,
			r->offline ? "  (offline optimum, not a best)" : "");
	}
	free(rows);
}
