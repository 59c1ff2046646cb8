// SPDX-License-Identifier: GPL-2.0-only
/*
 * The throttle filter.  A rate limit can only be seen in time, so these
 * tests assert a lower bound (the I/O cannot finish sooner than the limit
 * allows, however idle the machine), never an upper one.
 */
#include <time.h>

#include "vdisk_util.h"

#define MiB (1u << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *stats(struct tdisk *t)
{
	json_t *s;
	char err[256];

	cr_assert_eq(keel_vfilter_control(tdisk_at(t, "throttle"), "stats", NULL, &s, err,
					  sizeof(err)),
		     0, "%s", err);
	return s;
}

Test(vfilter_throttle, iops_limit_holds)
{
	struct tdisk t;
	char buf[512];
	double t0, el;
	json_int_t delayed;
	json_t *s;

	/* 50 IOPS, a bucket of one request: 26 reads need >= 25/50 s */
	tdisk_make(&t, MiB,
		   "[vdisk]\nfilters = throttle\n[filter.throttle]\niops = 50\nburst_ms = 20\n");
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	t0 = now_s();
	for (int i = 0; i < 26; i++)
		cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, 512, 0), 0);
	el = now_s() - t0;
	cr_assert_geq(el, 0.45, "26 reads at 50 IOPS took %.3f s", el);
	s = stats(&t);
	cr_assert_gt(json_integer_value(json_object_get(s, "delayed")), 0);
	cr_log_info("checked: 26 reads at iops=50 took %.3f s (bound 0.45 s), %lld delayed", el,
		    json_integer_value(json_object_get(s, "delayed")));
	delayed = json_integer_value(json_object_get(s, "delayed"));
	json_decref(s);
	/* entering below the throttle is not limited */
	for (int i = 0; i < 26; i++)
		cr_assert_eq(keel_vfilter_pread(tdisk_at(&t, "vmdk"), buf, 512, 0), 0);
	s = stats(&t);
	cr_assert_eq(json_integer_value(json_object_get(s, "delayed")), delayed,
		     "reads below throttle were delayed");
	json_decref(s);
	tdisk_cleanup(&t);
}

Test(vfilter_throttle, bandwidth_limit_holds_for_writes_and_reads)
{
	struct tdisk t;
	static char buf[128 << 10];
	double t0, el;

	/* 4 MiB/s with a 10 ms bucket: 2 MiB of writes then 1 MiB of reads need >= 0.7 s */
	tdisk_make(&t, 4 * MiB,
		   "[vdisk]\nfilters = throttle\n[filter.throttle]\nbps = 4M\nburst_ms = 10\n");
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	fill(buf, sizeof(buf), 9);
	t0 = now_s();
	for (int i = 0; i < 16; i++)
		cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), buf, sizeof(buf),
						 (uint64_t)i * sizeof(buf), 0),
			     0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, sizeof(buf),
						(uint64_t)i * sizeof(buf)),
			     0);
	el = now_s() - t0;
	cr_assert_geq(el, 0.65, "3 MiB at 4 MiB/s took %.3f s", el);
	cr_log_info("checked: 3 MiB through bps=4M took %.3f s (bound 0.65 s)", el);
	tdisk_cleanup(&t);
}

Test(vfilter_throttle, no_limit_means_no_delay)
{
	struct tdisk t;
	char buf[512];
	json_t *s;

	tdisk_make(&t, MiB, "[vdisk]\nfilters = throttle\n");
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, 512, 0), 0);
	s = stats(&t);
	cr_assert_eq(json_integer_value(json_object_get(s, "delayed")), 0);
	json_decref(s);
	tdisk_cleanup(&t);
}
