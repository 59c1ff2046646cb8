// SPDX-License-Identifier: GPL-2.0-only
/*
 * A disk's live read stream into keel's trace format (keel/trace.h), for
 * keel-cachesim to replay.  Bounded: a recording stops at max_records.
 */
#include <errno.h>
#include <stdlib.h>

#include "blk/record.h"
#include "keel/trace.h"

struct keel_blk_recorder {
	struct keel_trace_writer *w;
	__u64 disk_id64;
	__u64 count, max;
	int err;
};

int keel_blk_recorder_open(const char *path, __u64 disk_id64, __u64 max_records,
			   struct keel_blk_recorder **ret)
{
	struct keel_blk_recorder *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	err = keel_trace_writer_open(path, &r->w);
	if (err) {
		free(r);
		return err;
	}
	r->disk_id64 = disk_id64;
	r->max = max_records;
	*ret = r;
	return 0;
}

int keel_blk_recorder_add(struct keel_blk_recorder *r, __u64 time_ns, __u64 sector, __u32 len)
{
	struct keel_trace_record rec = {
		.time_ns = time_ns,
		.disk_id = r->disk_id64,
		.lba = sector,
		.len_bytes = len,
	};
	int err;

	if (r->err)
		return r->err;
	if (r->count >= r->max)
		return 1;
	err = keel_trace_writer_append(r->w, &rec);
	if (err) {
		r->err = err;
		return err;
	}
	return ++r->count >= r->max;
}

__u64 keel_blk_recorder_count(const struct keel_blk_recorder *r)
{
	return r->count;
}

int keel_blk_recorder_close(struct keel_blk_recorder *r)
{
	int err;

	if (!r)
		return 0;
	err = keel_trace_writer_close(r->w);
	if (!err)
		err = r->err;
	free(r);
	return err;
}
