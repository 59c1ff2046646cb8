// SPDX-License-Identifier: GPL-2.0-only
/* KEELTRC1 writer and reader (keel/trace.h). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keel/trace.h"
#include "tmp_path.h"

static char *tmpname(void)
{
	static char p[4096];

	keel_test_tmp_template(p, sizeof(p), "keel-trace-");
	close(mkstemp(p));
	return p;
}

Test(cache_trace, roundtrip)
{
	char *p = tmpname();
	struct keel_trace_writer *w;
	struct keel_trace_reader *r;
	struct keel_trace_record in = { 0 }, out;
	FILE *f;
	long size;

	cr_assert_eq(keel_trace_writer_open(p, &w), 0);
	for (int i = 0; i < 1000; i++) {
		in = (struct keel_trace_record){ .time_ns = 1000ull * i,
						 .disk_id = 7,
						 .lba = 1ull << 40 | (unsigned)i,
						 .len_bytes = 4096,
						 .flags = i & 1 };
		cr_assert_eq(keel_trace_writer_append(w, &in), 0);
	}
	cr_assert_eq(keel_trace_writer_close(w), 0);
	f = fopen(p, "rb");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	cr_assert_eq(size, 16 + 1000 * 32, "file is %ld bytes", size);
	cr_assert_eq(keel_trace_reader_open(p, &r), 0);
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(keel_trace_reader_next(r, &out), 1);
		cr_assert_eq(out.lba, 1ull << 40 | (unsigned)i);
		cr_assert_eq(out.flags, (unsigned)(i & 1));
		cr_assert_eq(out.time_ns, 1000ull * i);
	}
	cr_assert_eq(keel_trace_reader_next(r, &out), 0, "no clean end");
	keel_trace_reader_close(r);
	cr_log_info("1000 records written and read back: 16-byte header + "
		    "32 bytes each, fields intact");
	unlink(p);
}

Test(cache_trace, truncated_and_bad_header)
{
	char *p = tmpname();
	struct keel_trace_writer *w;
	struct keel_trace_reader *r;
	struct keel_trace_record rec = { .lba = 1 };
	FILE *f;

	cr_assert_eq(keel_trace_writer_open(p, &w), 0);
	for (int i = 0; i < 3; i++)
		keel_trace_writer_append(w, &rec);
	keel_trace_writer_close(w);
	cr_assert_eq(truncate(p, 16 + 2 * 32 + 10), 0);
	cr_assert_eq(keel_trace_reader_open(p, &r), 0);
	cr_assert_eq(keel_trace_reader_next(r, &rec), 1);
	cr_assert_eq(keel_trace_reader_next(r, &rec), 1);
	cr_assert_eq(keel_trace_reader_next(r, &rec), -EBADMSG);
	cr_assert_eq(keel_trace_reader_index(r), 2ull,
		     "the failing record must be identifiable (#3)");
	keel_trace_reader_close(r);
	f = fopen(p, "r+b");
	fwrite("KEELTRC9", 8, 1, f);
	fclose(f);
	cr_assert_eq(keel_trace_reader_open(p, &r), -EBADMSG);
	cr_log_info("a file cut inside record 3 fails with -EBADMSG after 2 "
		    "records; a wrong magic is refused at open");
	unlink(p);
}
