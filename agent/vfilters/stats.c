// SPDX-License-Identifier: GPL-2.0-only
/*
 * stats: what passes through this point of the chain.  Latency histograms
 * (log2 of microseconds) per operation, measured around everything below
 * this filter, and optionally a record of every read and write as (disk
 * ID, LBA) in keel's block trace format, which keel-cachesim replays.
 *
 *   [filter.stats]
 *   trace = PATH            ; relative to the metadata file; default: none
 *   trace_max_records = 10M ; then records are counted as dropped
 *
 * The trace is buffered: it is complete once the disk is closed.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keel/trace.h"
#include "keel/vfilter.h"
#include "common/clock.h"

#define NBUCKETS 32 /* bucket i: latency < 2^i us; the last is "more" */

enum { OP_READ, OP_WRITE, OP_FLUSH, OP_DISCARD, NOPS };
static const char *const op_names[NOPS] = { "read", "write", "flush", "discard" };

struct stats {
	uint64_t hist[NOPS][NBUCKETS];
	uint64_t total_ns[NOPS];
	pthread_mutex_t lock; /* the trace writer */
	struct keel_trace_writer *trace;
	char trace_path[PATH_MAX];
	uint64_t max_records, records, dropped;
	int trace_err;
};

static void account(struct stats *s, int op, uint64_t start)
{
	uint64_t ns = keel_clock_ns(CLOCK_MONOTONIC) - start, us = ns / 1000;
	unsigned int b = 0;

	while (b < NBUCKETS - 1 && us >= (1ull << b))
		b++;
	__atomic_fetch_add(&s->hist[op][b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->total_ns[op], ns, __ATOMIC_RELAXED);
}

static void record(struct keel_vfilter *f, struct stats *s, uint64_t start, size_t len,
		   uint64_t off, unsigned int flags)
{
	struct keel_trace_record r = {
		.time_ns = start,
		.disk_id = keel_vfilter_disk_id64(f),
		.lba = off / 512,
		.len_bytes = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len,
		.flags = flags,
	};

	pthread_mutex_lock(&s->lock);
	if (s->records >= s->max_records) {
		s->dropped++;
	} else {
		int e = keel_trace_writer_append(s->trace, &r);

		if (e && !s->trace_err)
			s->trace_err = e;
		s->records++;
	}
	pthread_mutex_unlock(&s->lock);
}

static int stats_pread(struct keel_vfilter *f, void *buf, size_t len, uint64_t off)
{
	struct stats *s = keel_vfilter_priv(f);
	uint64_t t = keel_clock_ns(CLOCK_MONOTONIC);
	int r = keel_vfilter_pread(keel_vfilter_below(f), buf, len, off);

	account(s, OP_READ, t);
	if (s->trace)
		record(f, s, t, len, off, 0);
	return r;
}

static int stats_pwrite(struct keel_vfilter *f, const void *buf, size_t len, uint64_t off,
			unsigned int flags)
{
	struct stats *s = keel_vfilter_priv(f);
	uint64_t t = keel_clock_ns(CLOCK_MONOTONIC);
	int r = keel_vfilter_pwrite(keel_vfilter_below(f), buf, len, off, flags);

	account(s, OP_WRITE, t);
	if (s->trace)
		record(f, s, t, len, off, KEEL_TRACE_WRITE);
	return r;
}

static int stats_flush(struct keel_vfilter *f)
{
	uint64_t t = keel_clock_ns(CLOCK_MONOTONIC);
	int r = keel_vfilter_flush(keel_vfilter_below(f));

	account(keel_vfilter_priv(f), OP_FLUSH, t);
	return r;
}

static int stats_discard(struct keel_vfilter *f, uint64_t off, uint64_t len, unsigned int flags)
{
	uint64_t t = keel_clock_ns(CLOCK_MONOTONIC);
	int r = keel_vfilter_discard(keel_vfilter_below(f), off, len, flags);

	account(keel_vfilter_priv(f), OP_DISCARD, t);
	return r;
}

/* The smallest bucket bound under which @q of the operations finished. */
static uint64_t quantile_us(const uint64_t *h, uint64_t n, double q)
{
	uint64_t seen = 0;

	for (unsigned int b = 0; b < NBUCKETS; b++) {
		seen += h[b];
		if (n && (double)seen >= q * (double)n)
			return 1ull << b;
	}
	return 1ull << (NBUCKETS - 1);
}

static int stats_control(struct keel_vfilter *f, const char *op, json_t *args, json_t **ret,
			 char *err, size_t errlen)
{
	struct stats *s = keel_vfilter_priv(f);
	json_t *lat;

	(void)args;
	if (strcmp(op, "stats")) {
		snprintf(err, errlen, "filter stats has no operation \"%s\" (known: stats)", op);
		return -EOPNOTSUPP;
	}
	lat = json_object();
	for (int o = 0; o < NOPS; o++) {
		uint64_t h[NBUCKETS], n = 0;
		json_t *buckets = json_array();

		for (int b = 0; b < NBUCKETS; b++) {
			h[b] = __atomic_load_n(&s->hist[o][b], __ATOMIC_RELAXED);
			n += h[b];
			if (h[b])
				json_array_append_new(buckets,
						      json_pack("{s:I, s:I}", "lt_us",
								(json_int_t)(1ull << b), "count",
								(json_int_t)h[b]));
		}
		json_object_set_new(
			lat, op_names[o],
			json_pack("{s:I, s:f, s:I, s:I, s:o}", "count", (json_int_t)n, "mean_us",
				  n ? (double)__atomic_load_n(&s->total_ns[o], __ATOMIC_RELAXED) /
						  1000.0 / (double)n :
				      0.0,
				  "p50_lt_us", (json_int_t)quantile_us(h, n, 0.5), "p99_lt_us",
				  (json_int_t)quantile_us(h, n, 0.99), "buckets", buckets));
	}
	pthread_mutex_lock(&s->lock);
	*ret = json_pack("{s:o, s:{s:s, s:I, s:I, s:i}}", "latency", lat, "trace", "path",
			 s->trace_path, "records", (json_int_t)s->records, "dropped",
			 (json_int_t)s->dropped, "error", s->trace_err);
	pthread_mutex_unlock(&s->lock);
	return *ret ? 0 : -ENOMEM;
}

static int stats_open(struct keel_vfilter *f, struct keel_vfilter_conf *c, char *err, size_t errlen)
{
	struct stats *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	keel_vfilter_set_priv(f, s);
	r = keel_vfilter_conf_path(c, "trace", NULL, s->trace_path, sizeof(s->trace_path), err,
				   errlen);
	if (!r)
		r = keel_vfilter_conf_u64(c, "trace_max_records", 10u << 20, 1, 1ull << 40,
					  &s->max_records, err, errlen);
	if (!r && s->trace_path[0]) {
		r = keel_trace_writer_open(s->trace_path, &s->trace);
		if (r)
			snprintf(err, errlen, "%s trace: cannot create %s: %s",
				 keel_vfilter_conf_where(c), s->trace_path, strerror(-r));
	}
	return r;
}

static void stats_close(struct keel_vfilter *f)
{
	struct stats *s = keel_vfilter_priv(f);

	if (!s)
		return;
	keel_trace_writer_close(s->trace);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* what stats_open() reads (agent/vdisk/create_params.c checks a create against it) */
static const struct keel_vfilter_param stats_params[] = {
	{ "trace", KEEL_VF_PARAM_PATH, 0, 0 },
	{ "trace_max_records", KEEL_VF_PARAM_U64, 1, 1ull << 40 },
	{ NULL },
};

const struct keel_vfilter_ops keel_vfilter_stats = {
	.name = "stats",
	.summary = "counts, latency histograms, and a (disk ID, LBA) trace for keel-cachesim",
	.params = stats_params,
	.open = stats_open,
	.close = stats_close,
	.pread = stats_pread,
	.pwrite = stats_pwrite,
	.flush = stats_flush,
	.discard = stats_discard,
	.control = stats_control,
};
