// SPDX-License-Identifier: GPL-2.0-only
/* Table and CSV output: one row per policy, one column per cache size. */
#include <string.h>

#include "cachesim/sim.h"

/* Distinct sizes in the order they first appear. */
static size_t sizes_of(const struct keel_sim_report *r, __u64 *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nres; i++) {
		size_t j;

		for (j = 0; j < n && out[j] != r->res[i].size; j++)
			;
		if (j == n && n < max)
			out[n++] = r->res[i].size;
	}
	return n;
}

void keel_sim_out_table(FILE *f, const struct keel_sim_report *r)
{
	__u64 sizes[64];
	size_t ns = sizes_of(r, sizes, 64);
	const char *last = NULL;

	fprintf(f, "trace %s (%s, %s mode): %llu requests, %llu unique keys\n", r->trace, r->format,
		r->mode, (unsigned long long)r->requests, (unsigned long long)r->unique);
	fprintf(f, "miss ratio by cache size in objects (%% of the working set)\n");
	fprintf(f, "%-9s", "policy");
	for (size_t j = 0; j < ns; j++) {
		char h[48];

		snprintf(h, sizeof(h), "%llu (%.1f%%)", (unsigned long long)sizes[j],
			 r->unique ? 100.0 * (double)sizes[j] / (double)r->unique : 0);
		fprintf(f, " %16s", h);
	}
	for (size_t i = 0; i < r->nres; i++) {
		if (!last || strcmp(last, r->res[i].policy)) {
			fprintf(f, "\n%-9s", r->res[i].policy);
			last = r->res[i].policy;
		}
		fprintf(f, " %16.4f", r->res[i].miss_ratio);
	}
	fprintf(f, "\n");
}

void keel_sim_out_csv(FILE *f, const struct keel_sim_report *r)
{
	fprintf(f, "policy,size,fraction,requests,misses,miss_ratio\n");
	for (size_t i = 0; i < r->nres; i++)
		fprintf(f, "%s,%llu,%.6f,%llu,%llu,%.6f\n", r->res[i].policy,
			(unsigned long long)r->res[i].size, r->res[i].fraction,
			(unsigned long long)r->res[i].requests,
			(unsigned long long)r->res[i].misses, r->res[i].miss_ratio);
}
