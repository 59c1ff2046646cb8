// SPDX-License-Identifier: GPL-2.0-only
/*
 * throttle: IOPS and bandwidth limits for the disk, as two token buckets
 * shared by every client that enters the chain at or above this filter.
 * Reads and writes take one I/O token and len bytes; flushes and discards
 * are free.  A request that finds a bucket short takes its tokens anyway
 * (the bucket goes into debt) and sleeps until the debt is paid, so a
 * request larger than the burst still passes, at the configured rate.
 *
 *   [filter.throttle]
 *   iops = 1000        ; 0 = no limit (default)
 *   bps = 50M          ; bytes per second, 0 = no limit (default)
 *   burst_ms = 100     ; bucket size, in milliseconds of the rate
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keel/vfilter.h"
#include "common/clock.h"

struct bucket {
	uint64_t rate; /* per second, 0 = unlimited */
	double tokens, cap;
	uint64_t last_ns;
};

struct throttle {
	pthread_mutex_t lock;
	struct bucket io, bytes;
	uint64_t delayed, waited_ns;
	/* requests asleep here now, and the most at once: how many requests
	 * the disk server lets into the chain together (its max_inflight) */
	uint64_t sleeping, max_sleeping;
};

/* Take @n tokens; returns how long the caller owes, in ns. */
static uint64_t take(struct bucket *b, double n, uint64_t now)
{
	if (!b->rate)
		return 0;
	b->tokens += (double)(now - b->last_ns) * (double)b->rate / 1e9;
	if (b->tokens > b->cap)
		b->tokens = b->cap;
	b->last_ns = now;
	b->tokens -= n;
	return b->tokens >= 0 ? 0 : (uint64_t)(-b->tokens * 1e9 / (double)b->rate);
}

static void wait_turn(struct throttle *t, size_t len)
{
	uint64_t now = keel_clock_ns(CLOCK_MONOTONIC), a, b, w;
	struct timespec ts;

	pthread_mutex_lock(&t->lock);
	a = take(&t->io, 1, now);
	b = take(&t->bytes, (double)len, now);
	w = a > b ? a : b;
	if (w) {
		t->delayed++;
		t->waited_ns += w;
		if (++t->sleeping > t->max_sleeping)
			t->max_sleeping = t->sleeping;
	}
	pthread_mutex_unlock(&t->lock);
	if (!w)
		return;
	ts.tv_sec = (time_t)(w / 1000000000ull);
	ts.tv_nsec = (long)(w % 1000000000ull);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	pthread_mutex_lock(&t->lock);
	t->sleeping--;
	pthread_mutex_unlock(&t->lock);
}

static int throttle_pread(struct keel_vfilter *f, void *buf, size_t len, uint64_t off)
{
	wait_turn(keel_vfilter_priv(f), len);
	return keel_vfilter_pread(keel_vfilter_below(f), buf, len, off);
}

static int throttle_pwrite(struct keel_vfilter *f, const void *buf, size_t len, uint64_t off,
			   unsigned int flags)
{
	wait_turn(keel_vfilter_priv(f), len);
	return keel_vfilter_pwrite(keel_vfilter_below(f), buf, len, off, flags);
}

static int throttle_control(struct keel_vfilter *f, const char *op, json_t *args, json_t **ret,
			    char *err, size_t errlen)
{
	struct throttle *t = keel_vfilter_priv(f);

	(void)args;
	if (strcmp(op, "stats")) {
		snprintf(err, errlen, "filter throttle has no operation \"%s\" (known: stats)", op);
		return -EOPNOTSUPP;
	}
	pthread_mutex_lock(&t->lock);
	*ret = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "iops", (json_int_t)t->io.rate, "bps",
			 (json_int_t)t->bytes.rate, "delayed", (json_int_t)t->delayed, "waited_ns",
			 (json_int_t)t->waited_ns, "sleeping", (json_int_t)t->sleeping,
			 "max_sleeping", (json_int_t)t->max_sleeping);
	pthread_mutex_unlock(&t->lock);
	return *ret ? 0 : -ENOMEM;
}

static int throttle_open(struct keel_vfilter *f, struct keel_vfilter_conf *c, char *err,
			 size_t errlen)
{
	struct throttle *t = calloc(1, sizeof(*t));
	uint64_t burst_ms, now = keel_clock_ns(CLOCK_MONOTONIC);
	int r;

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	keel_vfilter_set_priv(f, t);
	r = keel_vfilter_conf_u64(c, "iops", 0, 0, 10000000, &t->io.rate, err, errlen);
	if (!r)
		r = keel_vfilter_conf_u64(c, "bps", 0, 0, 1ull << 40, &t->bytes.rate, err, errlen);
	if (!r)
		r = keel_vfilter_conf_u64(c, "burst_ms", 100, 1, 60000, &burst_ms, err, errlen);
	if (r)
		return r;
	t->io.cap = (double)t->io.rate * (double)burst_ms / 1000.0;
	t->bytes.cap = (double)t->bytes.rate * (double)burst_ms / 1000.0;
	/* at least one request's worth, or a burst of 0 would throttle to nothing */
	if (t->io.cap < 1)
		t->io.cap = 1;
	t->io.tokens = t->io.cap;
	t->bytes.tokens = t->bytes.cap;
	t->io.last_ns = t->bytes.last_ns = now;
	return 0;
}

static void throttle_close(struct keel_vfilter *f)
{
	struct throttle *t = keel_vfilter_priv(f);

	if (t)
		pthread_mutex_destroy(&t->lock);
	free(t);
}

/* what throttle_open() reads (agent/vdisk/create_params.c checks a create against it) */
static const struct keel_vfilter_param throttle_params[] = {
	{ "iops", KEEL_VF_PARAM_U64, 0, 10000000 },
	{ "bps", KEEL_VF_PARAM_U64, 0, 1ull << 40 },
	{ "burst_ms", KEEL_VF_PARAM_U64, 1, 60000 },
	{ NULL },
};

const struct keel_vfilter_ops keel_vfilter_throttle = {
	.name = "throttle",
	.summary = "IOPS and bandwidth limits (token buckets) for the disk",
	.params = throttle_params,
	.open = throttle_open,
	.close = throttle_close,
	.pread = throttle_pread,
	.pwrite = throttle_pwrite,
	.control = throttle_control,
};
