// SPDX-License-Identifier: GPL-2.0-only
/* --json: an array of {policy, size, fraction, requests, misses, ...}. */
#include <errno.h>
#include <math.h>
#include <jansson.h>

#include "cachesim/sim.h"

int keel_sim_out_json(FILE *f, const struct keel_sim_report *r)
{
	json_t *arr = json_array();
	int err = 0;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < r->nres && !err; i++) {
		const struct keel_sim_result *x = &r->res[i];
		json_t *o = json_pack("{s:s, s:I, s:f, s:I, s:I, s:f, s:s, s:s, s:s, s:I}",
				      "policy", x->policy, "size", (json_int_t)x->size, "fraction",
				      x->fraction, "requests", (json_int_t)x->requests, "misses",
				      (json_int_t)x->misses, "miss_ratio", x->miss_ratio, "trace",
				      r->trace, "format", r->format, "mode", r->mode, "unique",
				      (json_int_t)r->unique);

		if (!o || json_array_append_new(arr, o))
			err = -ENOMEM;
	}
	if (!err && json_dumpf(arr, f, JSON_INDENT(2)))
		err = -EIO;
	if (!err)
		fputc('\n', f);
	json_decref(arr);
	return err;
}

/* --summary --json: {cells, traces, policies: [{policy, geomean, vs_rest, ...}]}. */
int keel_sim_out_summary_json(FILE *f, const struct keel_sim_summary *s)
{
	json_t *arr = json_array(), *top;
	int err = 0;

	if (!arr)
		return -ENOMEM;
	for (size_t j = 0; j < s->nrows && !err; j++) {
		const struct keel_sim_summary_row *r = &s->rows[j];
		json_t *o = json_pack("{s:s, s:b, s:f, s:o, s:I, s:I, s:f, s:s, s:I}", "policy",
				      r->policy, "offline", r->offline, "geomean", r->geomean,
				      "vs_rest",
				      /* null when the run had no other policy (jansson
			 * refuses NaN) */
				      isnan(r->vs_rest) ? json_null() : json_real(r->vs_rest),
				      "cells", (json_int_t)r->cells, "best_cells",
				      (json_int_t)r->best, "worst", r->worst, "worst_trace",
				      r->worst_trace ? r->worst_trace : "", "worst_size",
				      (json_int_t)r->worst_size);

		if (!o || json_array_append_new(arr, o))
			err = -ENOMEM;
	}
	top = json_object();
	if (!top) {
		json_decref(arr);
		return -ENOMEM;
	}
	/* json_object_set_new() takes the reference even when it fails. */
	if (json_object_set_new(top, "policies", arr) ||
	    json_object_set_new(top, "cells", json_integer((json_int_t)s->cells)) ||
	    json_object_set_new(top, "traces", json_integer((json_int_t)s->traces)))
		err = -ENOMEM;
	if (!err && json_dumpf(top, f, JSON_INDENT(2)))
		err = -EIO;
	if (!err)
		fputc('\n', f);
	json_decref(top);
	return err;
}
