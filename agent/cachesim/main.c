// SPDX-License-Identifier: GPL-2.0-only
/*
 * keel-cachesim: replay a block trace through keel's three-queue cache and
 * the reference policies, at several cache sizes, in one run.
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cachesim/sim.h"

#define MAX_SIZES 64

enum out_kind { OUT_TABLE, OUT_JSON, OUT_CSV };

#define MAX_TRACES 256

struct env {
	const char *traces[MAX_TRACES];
	size_t ntraces;
	enum keel_sim_format format;
	const struct keel_sim_policy *pols[32];
	size_t npols;
	double size_val[MAX_SIZES];
	bool size_frac[MAX_SIZES];
	size_t nsizes;
	enum keel_sim_mode mode;
	__u32 block_size;
	bool reads_only;
	enum out_kind out;
	const char *plot;
	bool quiet;
	bool summary;
};

enum {
	OPT_JSON = 0x100,
	OPT_CSV,
	OPT_PLOT,
	OPT_BLOCK_SIZE,
	OPT_READS_ONLY,
	OPT_SUMMARY,
};

static const struct argp_option options[] = {
	{ "format", 'f', "FMT", 0,
	  "Trace format: oracle (libCacheSim oracleGeneral binary), csv "
	  "(version,time,op,size,lbn), msr (MSR Cambridge), tencent (Tencent "
	  "CBS), text (one key per line, LIRS; gzip or plain), keel (KEELTRC1). "
	  "Default: guessed from the file",
	  0 },
	{ "policies", 'p', "LIST", 0,
	  "Comma-separated policies: keel, lru, clock, fifo, 2q, arc, s3fifo, "
	  "sieve, lirs, wtinylfu, belady, or all (default); also keel-16 (keel "
	  "in 16 shards, as keel-rcache's index from 16384 blocks; not in all)",
	  0 },
	{ "sizes", 's', "LIST", 0,
	  "Comma-separated cache sizes: a count of objects (4897), a percentage "
	  "(10%) or a fraction (0.1) of the working set. Default: 1%,5%,10%,30%",
	  0 },
	{ "mode", 'm', "MODE", 0,
	  "object: each request is one object keyed by its start address (as "
	  "libCacheSim --ignore-obj-size 1; the default). block: requests are "
	  "split into --block-size blocks",
	  0 },
	{ "block-size", OPT_BLOCK_SIZE, "BYTES", 0, "Block size for --mode block (default 4096)",
	  0 },
	{ "reads-only", OPT_READS_ONLY, NULL, 0,
	  "Replay reads only (what a read cache sees); writes are skipped", 0 },
	{ "json", OPT_JSON, NULL, 0,
	  "Print a JSON array of {policy, size, fraction, requests, misses, "
	  "miss_ratio, ...}",
	  0 },
	{ "csv", OPT_CSV, NULL, 0, "Print CSV, one line per policy and size", 0 },
	{ "plot", OPT_PLOT, "FILE.svg", 0,
	  "Also draw miss ratio against cache size for every policy as SVG", 0 },
	{ "summary", OPT_SUMMARY, NULL, 0,
	  "Print only, per policy, the geometric mean over every cell (each "
	  "TRACE at each size) of its miss ratio over the best online policy's "
	  "in that cell (1.0000: never beaten), the same over the best of the "
	  "other policies only (vs rest: below 1 where it beats the field), the "
	  "cells it is best in and its worst cell. With --json, one JSON "
	  "object",
	  0 },
	{ "quiet", 'q', NULL, 0, "No progress on the terminal", 0 },
	{ 0 },
};

static const char doc[] =
	"Replay block I/O traces through keel's three-queue cache and the "
	"reference policies at several cache sizes, and print their miss ratios."
	"\v"
	"Every policy sees the same key sequence. In object mode a request is "
	"one object whatever its size, which reproduces libCacheSim's figures "
	"(--ignore-obj-size 1). In block mode a request touching N blocks is N "
	"accesses; with --reads-only writes are skipped. Belady is the offline "
	"optimum and bounds what any policy can reach.\n"
	"\n"
	"EXAMPLES:\n"
	"  keel-cachesim ../shared/traces/cloudPhysicsIO.oracleGeneral.bin\n"
	"      all policies at 1%, 5%, 10% and 30% of the working set\n"
	"  keel-cachesim -p keel,arc,lirs,belady -s 489,2448,4897,14692 T.bin\n"
	"      four policies at four sizes given in objects\n"
	"  keel-cachesim --mode block --block-size 4096 --reads-only T.csv\n"
	"      a read cache of 4 KiB blocks\n"
	"  keel-cachesim lirs-sprite.trace.gz --json | jq '.[]|select(.policy==\"keel\")'\n"
	"  keel-cachesim T.bin --plot mrc.svg\n"
	"      table on stdout and the miss-ratio curves in mrc.svg\n"
	"  keel-cachesim --summary ../shared/traces/lirs-*.trace.gz T.bin\n"
	"      one line per policy: geometric mean of miss ratio / cell's best\n"
	"\n"
	"EXIT STATUS: 0 on success, 1 on a bad trace or option, 2 on usage "
	"errors.";

static int parse_policies(struct env *e, char *arg)
{
	char *save, *tok;

	e->npols = 0;
	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct keel_sim_policy *p;

		if (!strcmp(tok, "all")) {
			const struct keel_sim_policy *const *a = keel_sim_policies();

			for (size_t i = 0; a[i] && e->npols < 32; i++)
				e->pols[e->npols++] = a[i];
			continue;
		}
		p = keel_sim_policy_find(tok);
		if (!p || e->npols >= 32)
			return -EINVAL;
		e->pols[e->npols++] = p;
	}
	return e->npols ? 0 : -EINVAL;
}

static int parse_sizes(struct env *e, char *arg)
{
	char *save, *tok;

	e->nsizes = 0;
	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		double v;

		if (e->nsizes >= MAX_SIZES)
			return -E2BIG;
		errno = 0;
		v = strtod(tok, &end);
		if (errno || end == tok || !(v > 0) || !isfinite(v))
			return -EINVAL;
		if (*end == '%') {
			v /= 100;
			end++;
			e->size_frac[e->nsizes] = true;
		} else {
			e->size_frac[e->nsizes] = strchr(tok, '.') != NULL;
		}
		if (*end || (!e->size_frac[e->nsizes] && v != floor(v)))
			return -EINVAL;
		e->size_val[e->nsizes++] = v;
	}
	return e->nsizes ? 0 : -EINVAL;
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct env *e = st->input;
	char *end;
	unsigned long v;

	switch (key) {
	case 'f':
		if (keel_sim_format_parse(arg, &e->format))
			argp_error(st,
				   "unknown format '%s'; use oracle, csv, msr, "
				   "tencent, text or keel",
				   arg);
		break;
	case 'p':
		if (parse_policies(e, arg))
			argp_error(st, "bad --policies list; names are keel, lru, "
				       "clock, fifo, 2q, arc, s3fifo, sieve, lirs, "
				       "wtinylfu, belady, all");
		break;
	case 's':
		if (parse_sizes(e, arg))
			argp_error(st,
				   "bad --sizes list '%s'; give counts (4897), "
				   "percentages (10%%) or fractions (0.1)",
				   arg);
		break;
	case 'm':
		if (!strcmp(arg, "object"))
			e->mode = KEEL_SIM_OBJECT;
		else if (!strcmp(arg, "block"))
			e->mode = KEEL_SIM_BLOCK;
		else
			argp_error(st, "--mode is object or block, not '%s'", arg);
		break;
	case OPT_BLOCK_SIZE:
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || *end || v < 512 || v > (1ul << 30) || (v & (v - 1)))
			argp_error(st,
				   "--block-size must be a power of two "
				   "between 512 and 1 GiB, not '%s'",
				   arg);
		e->block_size = (__u32)v;
		break;
	case OPT_READS_ONLY:
		e->reads_only = true;
		break;
	case OPT_JSON:
		e->out = OUT_JSON;
		break;
	case OPT_CSV:
		e->out = OUT_CSV;
		break;
	case OPT_PLOT:
		e->plot = arg;
		break;
	case OPT_SUMMARY:
		e->summary = true;
		break;
	case 'q':
		e->quiet = true;
		break;
	case ARGP_KEY_ARG:
		if (e->ntraces >= MAX_TRACES)
			argp_error(st, "at most %d TRACEs", MAX_TRACES);
		e->traces[e->ntraces++] = arg;
		break;
	case ARGP_KEY_END:
		if (!e->ntraces)
			argp_error(st, "no TRACE given");
		if (e->plot && e->ntraces > 1)
			argp_error(st, "--plot draws one TRACE; give one");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static __u64 size_of(const struct env *e, size_t i, __u64 unique)
{
	double v = e->size_frac[i] ? floor(e->size_val[i] * (double)unique) : e->size_val[i];

	return v < 1 ? 1 : (__u64)v;
}

/*
 * Replay one trace through every policy at every size; *rep points into
 * *res, which the caller frees.  Prints errors itself.
 */
static int run_trace(const struct env *e, const char *path, bool progress,
		     struct keel_sim_report *rep, struct keel_sim_result **res)
{
	struct keel_sim_trace t;
	struct keel_sim_keys k = { 0 };
	struct keel_sim_err err = { "" };
	size_t nres = 0;
	int r;

	*res = NULL;
	if (progress)
		fprintf(stderr, "reading %s...", path);
	r = keel_sim_trace_load(path, e->format, &t, &err);
	if (progress)
		fprintf(stderr, "\r\033[K");
	if (r) {
		fprintf(stderr, "keel-cachesim: %s\n", err.msg[0] ? err.msg : strerror(-r));
		return r;
	}
	r = keel_sim_keys_build(&t, e->mode, e->block_size, e->reads_only, &k);
	if (!r && k.n == 0)
		r = -ENODATA;
	if (r) {
		fprintf(stderr, "keel-cachesim: %s: %s\n", path,
			r == -ENODATA ? "no requests left (all writes with "
					"--reads-only?)" :
					strerror(-r));
		goto cleanup;
	}
	*res = calloc(e->npols * e->nsizes, sizeof(**res));
	if (!*res) {
		r = -ENOMEM;
		fprintf(stderr, "keel-cachesim: out of memory\n");
		goto cleanup;
	}
	for (size_t p = 0; p < e->npols; p++) {
		for (size_t s = 0; s < e->nsizes; s++) {
			__u64 size = size_of(e, s, k.unique);

			if (progress)
				fprintf(stderr, "\r\033[K[%zu/%zu] %s at %llu", nres + 1,
					e->npols * e->nsizes, e->pols[p]->name,
					(unsigned long long)size);
			r = keel_sim_run(e->pols[p], &k, size, &(*res)[nres]);
			if (r) {
				fprintf(stderr,
					"\nkeel-cachesim: %s: %s at size "
					"%llu: %s\n",
					path, e->pols[p]->name, (unsigned long long)size,
					strerror(-r));
				goto cleanup;
			}
			nres++;
		}
	}
	if (progress)
		fprintf(stderr, "\r\033[K");
	*rep = (struct keel_sim_report){
		.trace = path,
		.format = keel_sim_format_name(t.format),
		.mode = e->mode == KEEL_SIM_BLOCK ? (e->reads_only ? "block-reads" : "block") :
						    (e->reads_only ? "object-reads" : "object"),
		.requests = k.n,
		.unique = k.unique,
		.res = *res,
		.nres = nres,
	};
cleanup:
	keel_sim_keys_free(&k);
	keel_sim_trace_free(&t);
	return r;
}

static int print_report(const struct env *e, const struct keel_sim_report *rep)
{
	int r = 0;

	if (e->out == OUT_JSON)
		r = keel_sim_out_json(stdout, rep);
	else if (e->out == OUT_CSV)
		keel_sim_out_csv(stdout, rep);
	else
		keel_sim_out_table(stdout, rep);
	if (!r && e->plot) {
		r = keel_sim_out_svg(e->plot, rep);
		if (r)
			fprintf(stderr, "keel-cachesim: cannot write %s: %s\n", e->plot,
				strerror(-r));
	}
	return r;
}

static int print_summary(const struct env *e, const struct keel_sim_report *reps, size_t n)
{
	struct keel_sim_summary sum;
	int r = keel_sim_summarize(reps, n, &sum);

	if (!r && !sum.cells)
		r = -ENODATA;
	if (r) {
		fprintf(stderr, "keel-cachesim: --summary: %s\n",
			r == -ENODATA ? "no cell with an online policy (only "
					"belady was run?)" :
					strerror(-r));
		keel_sim_summary_free(&sum);
		return r;
	}
	if (e->out == OUT_JSON)
		r = keel_sim_out_summary_json(stdout, &sum);
	else
		keel_sim_out_summary(stdout, &sum);
	keel_sim_summary_free(&sum);
	return r;
}

int main(int argc, char **argv)
{
	struct env e = { .block_size = 4096 };
	struct argp argp = { options, parse_opt, "TRACE...", doc, 0, 0, 0 };
	struct keel_sim_report *reps = NULL;
	struct keel_sim_result **res = NULL;
	size_t nreps = 0;
	bool progress;
	int r = 0;

	/* argp exits with 64 (EX_USAGE) on a bad command line; ours is 2 */
	argp_err_exit_status = 2;

	if (argp_parse(&argp, argc, argv, 0, NULL, &e))
		return 2;
	if (!e.npols) {
		const struct keel_sim_policy *const *a = keel_sim_policies();

		for (; a[e.npols]; e.npols++)
			e.pols[e.npols] = a[e.npols];
	}
	if (!e.nsizes) {
		static const double def[] = { 0.01, 0.05, 0.10, 0.30 };

		for (; e.nsizes < 4; e.nsizes++) {
			e.size_val[e.nsizes] = def[e.nsizes];
			e.size_frac[e.nsizes] = true;
		}
	}
	progress = !e.quiet && isatty(STDERR_FILENO);
	reps = calloc(e.ntraces, sizeof(*reps));
	res = calloc(e.ntraces, sizeof(*res));
	if (!reps || !res) {
		fprintf(stderr, "keel-cachesim: out of memory\n");
		r = -ENOMEM;
		goto cleanup;
	}
	for (; nreps < e.ntraces; nreps++) {
		r = run_trace(&e, e.traces[nreps], progress, &reps[nreps], &res[nreps]);
		if (r) {
			nreps++; /* free its results too */
			goto cleanup;
		}
		if (!e.summary) {
			r = print_report(&e, &reps[nreps]);
			if (r) {
				nreps++;
				goto cleanup;
			}
		}
	}
	if (e.summary)
		r = print_summary(&e, reps, nreps);
cleanup:
	for (size_t i = 0; res && i < nreps; i++)
		free(res[i]);
	free(res);
	free(reps);
	return r ? 1 : 0;
}
