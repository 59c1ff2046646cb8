// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl rcache stats | disks | flush | drop DISK_ID: the read cache daemon
 * keel-rcache (docs/rcache.md).  keelctl talks to keel-rcache's own socket,
 * not to keeld: the read cache is a process of its own.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keel/rcache.h"
#include "keelctl/keelctl.h"

static const struct argp_option options[] = {
	{ "json", 'j', NULL, 0, "Print keel-rcache's JSON answer", 0 },
	{ "rcache-socket", 'S', "PATH", 0, "keel-rcache's socket (default " KEEL_RCACHE_SOCKET ")",
	  0 },
	{ 0 },
};

static long long ival(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void print_stats(json_t *r)
{
	long long bs = ival(r, "block_size");

	printf("keel-rcache: %s, %lld of %lld blocks of %lld bytes cached (%lld MiB), %lld disks\n",
	       json_string_value(json_object_get(r, "dir")), ival(r, "cached_blocks"),
	       ival(r, "capacity_blocks"), bs, ival(r, "capacity_blocks") * bs >> 20,
	       ival(r, "disks"));
	printf("hits %lld, misses %lld blocks: hit ratio %.4f; %lld lookups\n",
	       ival(r, "hit_blocks"), ival(r, "miss_blocks"),
	       json_number_value(json_object_get(r, "hit_ratio")), ival(r, "lookups"));
	printf("admitted %lld; refused: %lld raced a write, %lld over a disk's limit, %lld old CID\n",
	       ival(r, "admitted"), ival(r, "admit_refused_stale"), ival(r, "admit_refused_limit"),
	       ival(r, "admit_refused_cid"));
	printf("invalidated %lld, evicted %lld, corrupt %lld, device errors %lld%s\n",
	       ival(r, "invalidated"), ival(r, "evictions"), ival(r, "corrupt"),
	       ival(r, "device_errors"),
	       json_is_true(json_object_get(r, "passthrough")) ? " (passing through now)" : "");
	printf("clients %lld of %lld; warm start loaded %lld entries; %.1f B of metadata per block%s\n",
	       ival(r, "clients"), ival(r, "max_clients"), ival(r, "warm_loaded"),
	       json_number_value(json_object_get(r, "bytes_per_entry")),
	       json_is_true(json_object_get(r, "direct_io")) ? "" : "; cache file not O_DIRECT");
	if (json_is_object(json_object_get(r, "autosize"))) {
		json_t *as = json_object_get(r, "autosize");

		printf("sized from miss-ratio curves every %lld ms: %lld runs, %lld disks sampled, "
		       "expected hit ratio %.4f\n",
		       ival(r, "size_interval_ms"), ival(as, "runs"), ival(as, "sampled_disks"),
		       json_number_value(json_object_get(as, "last_expected_hit_ratio")));
	}
}

static void print_disks(json_t *a)
{
	size_t i;
	json_t *d;

	/* TARGET: the share sized from the disk's miss-ratio curve ("-": not
	 * sized, the limit is the default or set by hand) */
	printf("%-16s %-8s %10s %10s %10s %12s %12s %8s\n", "DISK_ID", "CID", "CACHED", "LIMIT",
	       "TARGET", "HITS", "MISSES", "HIT");
	json_array_foreach(a, i, d) {
		char target[24] = "-";

		if (json_is_integer(json_object_get(d, "target_blocks")))
			snprintf(target, sizeof(target), "%lld", ival(d, "target_blocks"));
		printf("%-16s %-8s %10lld %10lld %10s %12lld %12lld %8.4f\n",
		       json_string_value(json_object_get(d, "disk_id")),
		       json_string_value(json_object_get(d, "cid")), ival(d, "cached_blocks"),
		       ival(d, "limit_blocks"), target, ival(d, "hit_blocks"),
		       ival(d, "miss_blocks"), json_number_value(json_object_get(d, "hit_ratio")));
	}
}

/* One CONTROL request to keel-rcache; prints its answer. */
static int run(const struct keelctl_args *a, const char *op)
{
	const char *socket = keelctl_value(a, 'S') ? keelctl_value(a, 'S') : KEEL_RCACHE_SOCKET;
	char why[512], *text = NULL, *req;
	json_error_t jerr;
	json_t *q, *rep;
	int sock, err;

	q = a->argc ? json_pack("{s:s, s:s}", "op", op, "disk_id", a->argv[0]) :
		      json_pack("{s:s}", "op", op);
	req = q ? json_dumps(q, JSON_COMPACT) : NULL;
	json_decref(q);
	if (!req)
		return KEELCTL_EXIT_FAIL;
	sock = keel_rcache_connect(socket, NULL, 0, NULL, NULL, why, sizeof(why));
	if (sock < 0) {
		fprintf(stderr, "keelctl: %s\n", why);
		free(req);
		return KEELCTL_EXIT_FAIL;
	}
	err = keel_rcache_control(sock, req, &text, why, sizeof(why));
	close(sock);
	free(req);
	if (err) {
		fprintf(stderr, "keelctl: %s\n", why);
		free(text);
		return KEELCTL_EXIT_FAIL;
	}
	rep = json_loads(text ? text : "null", 0, &jerr);
	free(text);
	if (!rep) {
		fprintf(stderr, "keelctl: keel-rcache's answer is not JSON: %s\n", jerr.text);
		return KEELCTL_EXIT_FAIL;
	}
	if (keelctl_flag(a, 'j'))
		keelctl_print_json(rep);
	else if (!strcmp(op, "stats"))
		print_stats(rep);
	else if (!strcmp(op, "disks"))
		print_disks(rep);
	else
		printf("dropped %lld entries\n", ival(rep, "dropped"));
	json_decref(rep);
	return 0;
}

static int run_stats(const struct keelctl *ctl, const struct keelctl_args *a)
{
	(void)ctl;
	return run(a, "stats");
}

static int run_disks(const struct keelctl *ctl, const struct keelctl_args *a)
{
	(void)ctl;
	return run(a, "disks");
}

static int run_flush(const struct keelctl *ctl, const struct keelctl_args *a)
{
	(void)ctl;
	return run(a, "flush");
}

static int run_drop(const struct keelctl *ctl, const struct keelctl_args *a)
{
	(void)ctl;
	return run(a, "drop");
}

static const char rcache_doc[] =
	"The read cache daemon keel-rcache, through its own socket (not keeld's).\n\n"
	"  keelctl rcache stats [--json]           totals: cached, hits, misses, refusals, errors\n"
	"  keelctl rcache disks [--json]           per layer: ID, CID, cached, limit, target, hit ratio\n"
	"  keelctl rcache flush                    drop every entry\n"
	"  keelctl rcache drop DISK_ID             drop one layer's entries (or all)\n"
	"--rcache-socket PATH: keel-rcache's socket (default " KEEL_RCACHE_SOCKET ").\n"
	"'keelctl rcache SUBCOMMAND --help' documents each.";

static const struct keelctl_command subcommands[] = {
	{
		.name = "stats",
		.args_doc = "",
		.doc = "The read cache's totals: blocks cached, hits and misses, admissions and "
		       "refusals, invalidations, evictions, corruption, device errors, clients.",
		.options = options,
		.usage = "usage: keelctl rcache stats [--json]",
		.run = run_stats,
	},
	{
		.name = "disks",
		.args_doc = "",
		.doc = "Per layer of a disk (its ID, CID): blocks cached, limit, hits, misses, hit ratio.",
		.options = options,
		.usage = "usage: keelctl rcache disks [--json]",
		.run = run_disks,
	},
	{
		.name = "flush",
		.args_doc = "",
		.doc = "Drop every entry of the read cache.",
		.options = options,
		.usage = "usage: keelctl rcache flush [--json]",
		.run = run_flush,
	},
	{
		.name = "drop",
		.args_doc = "DISK_ID",
		.doc = "Drop one layer's entries (DISK_ID as `keelctl rcache disks` shows it, or all).",
		.options = options,
		.min_args = 1,
		.max_args = 1,
		.usage = "usage: keelctl rcache drop DISK_ID [--json]",
		.run = run_drop,
	},
	{ .name = NULL },
};

const struct keelctl_command keelctl_cmd_rcache = {
	.name = "rcache",
	.summary = "read cache daemon: stats, disks, flush, drop (rcache)",
	.doc = rcache_doc,
	.subcommands = subcommands,
};
