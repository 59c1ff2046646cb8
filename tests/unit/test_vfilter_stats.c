// SPDX-License-Identifier: GPL-2.0-only
/* The stats filter: latency histograms and a trace keel-cachesim replays. */
#include "keel/trace.h"
#include "vdisk_util.h"

#define MiB (1u << 20)

Test(vfilter_stats, histograms_count_every_operation)
{
	struct tdisk t;
	char buf[4096] = { 0 }, err[256];
	json_t *s, *lat;

	tdisk_make(&t, MiB, "[vdisk]\nfilters = stats\n");
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, sizeof(buf), 0), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), buf, sizeof(buf), 8192, 0),
			     0);
	cr_assert_eq(keel_vfilter_flush(keel_vdisk_top(t.d)), 0);
	cr_assert_eq(keel_vfilter_control(keel_vdisk_top(t.d), "stats", NULL, &s, err, sizeof(err)),
		     0);
	lat = json_object_get(s, "latency");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(lat, "read"), "count")),
		     10);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(lat, "write"), "count")),
		     3);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(lat, "flush"), "count")),
		     1);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(lat, "discard"), "count")),
		     0);
	cr_assert_gt(json_array_size(json_object_get(json_object_get(lat, "read"), "buckets")), 0);
	json_decref(s);
	tdisk_cleanup(&t);
}

Test(vfilter_stats, trace_records_disk_id_and_lba_for_cachesim)
{
	struct tdisk t;
	char buf[4096] = { 0 }, path[256], cmd[8192], out[4096];
	struct keel_trace_reader *r;
	struct keel_trace_record rec;
	uint64_t id64;
	FILE *p;
	size_t n;
	int i = 0;

	tdisk_make(&t, MiB, "[vdisk]\nfilters = stats\n[filter.stats]\ntrace = reads.ktr\n");
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	id64 = keel_vdisk_id64(t.d);
	cr_assert_neq(id64, 0);
	/* 8 blocks read twice, then a write */
	for (int pass = 0; pass < 2; pass++)
		for (int b = 0; b < 8; b++)
			cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, 4096,
							(uint64_t)b * 4096),
				     0);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), buf, 4096, 65536, 0), 0);
	tdisk_close(&t);

	snprintf(path, sizeof(path), "%s/reads.ktr", t.dir);
	cr_assert_eq(keel_trace_reader_open(path, &r), 0);
	while (keel_trace_reader_next(r, &rec) == 1) {
		cr_assert_eq(rec.disk_id, id64);
		if (i < 16) {
			cr_assert_eq(rec.lba, (uint64_t)(i % 8) * 8, "record %d lba %llu", i,
				     (unsigned long long)rec.lba);
			cr_assert_eq(rec.flags, 0);
		} else {
			cr_assert_eq(rec.lba, 128);
			cr_assert_eq(rec.flags, KEEL_TRACE_WRITE);
		}
		cr_assert_eq(rec.len_bytes, 4096);
		i++;
	}
	keel_trace_reader_close(r);
	cr_assert_eq(i, 17);

	/* keel-cachesim replays it: 16 reads of 8 blocks, a cache of all 8 misses 8 */
	n = (size_t)readlink("/proc/self/exe", out, sizeof(out) - 1);
	cr_assert(n > 0 && n < sizeof(out));
	out[n] = '\0';
	*strrchr(out, '/') = '\0'; /* build/tests/unit */
	snprintf(cmd, sizeof(cmd),
		 "%s/../../keel-cachesim -q --json --reads-only --mode block -p lru -s 8 %s", out,
		 path);
	p = popen(cmd, "r");
	cr_assert(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	cr_assert_eq(pclose(p), 0, "%s: %s", cmd, out);
	cr_assert(strstr(out, "\"requests\": 16") || strstr(out, "\"requests\":16"), "%s", out);
	cr_assert(strstr(out, "\"misses\": 8") || strstr(out, "\"misses\":8"), "%s", out);
	cr_log_info(
		"checked: 17 records with disk_id %016llx and the LBAs read; keel-cachesim: 16 reads, 8 misses",
		(unsigned long long)id64);
	tdisk_cleanup(&t);
}

Test(vfilter_stats, the_trace_has_a_limit)
{
	struct tdisk t;
	char buf[512] = { 0 }, err[256];
	json_t *s;

	tdisk_make(
		&t, MiB,
		"[vdisk]\nfilters = stats\n[filter.stats]\ntrace = t.ktr\ntrace_max_records = 5\n");
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	for (int i = 0; i < 12; i++)
		cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, 512, 0), 0);
	cr_assert_eq(keel_vfilter_control(keel_vdisk_top(t.d), "stats", NULL, &s, err, sizeof(err)),
		     0);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "trace"), "records")),
		     5);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "trace"), "dropped")),
		     7);
	json_decref(s);
	tdisk_cleanup(&t);
}
