// SPDX-License-Identifier: GPL-2.0
/* --json: an array of {policy, size, fraction, requests, misses, ...}. */
#include <errno.h>
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
		json_t *o = json_pack(
			"{s:s, s:I, s:f, s:I, s:I, s:f, s:s, s:s, s:s, s:I}",
			"policy", x->policy, "size", (json_int_t)x->size,
			"fraction", x->fraction, "requests",
			(json_int_t)x->requests, "misses", (json_int_t)x->misses,
			"miss_ratio", x->miss_ratio, "trace", r->trace, "format",
			r->format, "mode", r->mode, "unique",
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
