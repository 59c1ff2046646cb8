/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keel's recorded block-read trace ("KEELTRC1"), written by the blk
 * subsystem and read by keel-cachesim.  Layout (all little-endian):
 *
 *   header, 16 bytes: char magic[8] = "KEELTRC1"; __u32 version = 1;
 *                     __u32 record_size = 32
 *   records, 32 bytes each: struct keel_trace_record
 *
 * A reader accepts a larger record_size from a later version and ignores
 * the extra bytes, so fields can be appended without breaking old readers.
 */
#ifndef KEEL_TRACE_H
#define KEEL_TRACE_H

#include <stdio.h>
#include <linux/types.h>

#define KEEL_TRACE_MAGIC       "KEELTRC1"
#define KEEL_TRACE_VERSION     1
#define KEEL_TRACE_HEADER_SIZE 16
#define KEEL_TRACE_RECORD_SIZE 32
#define KEEL_TRACE_WRITE       (1u << 0) /* flags bit 0: the I/O was a write */

struct keel_trace_header {
	char magic[8];
	__u32 version;
	__u32 record_size;
};

struct keel_trace_record {
	__u64 time_ns;
	__u64 disk_id;
	__u64 lba; /* 512-byte sectors */
	__u32 len_bytes;
	__u32 flags; /* KEEL_TRACE_* */
};

struct keel_trace_writer;
struct keel_trace_reader;

/* Create (truncate) path and write the header. */
int keel_trace_writer_open(const char *path, struct keel_trace_writer **ret);
int keel_trace_writer_append(struct keel_trace_writer *w, const struct keel_trace_record *r);
/* Flush and close; returns the first error seen (e.g. -ENOSPC).  NULL ok. */
int keel_trace_writer_close(struct keel_trace_writer *w);

/* Open and check the header: -EBADMSG for a wrong magic, version or size. */
int keel_trace_reader_open(const char *path, struct keel_trace_reader **ret);
/*
 * Next record: 1 and *ret, 0 at a clean end, -EBADMSG when the file ends
 * inside a record (keel_trace_reader_index() tells which one), other
 * negative errno on read errors.
 */
int keel_trace_reader_next(struct keel_trace_reader *r, struct keel_trace_record *ret);
/* Number of records returned so far (the failing one is this plus one). */
__u64 keel_trace_reader_index(const struct keel_trace_reader *r);
void keel_trace_reader_close(struct keel_trace_reader *r);

/*
 * The cache key of block @unit on disk @disk_id: the live blk model and
 * keel-cachesim replaying a recorded trace must build the same keys to
 * get the same hits.  A zero disk ID keeps keys readable (one volume).
 */
static inline __u64 keel_trace_block_key(__u64 disk_id, __u64 unit)
{
	return disk_id ? unit ^ (disk_id * 0x9e3779b97f4a7c15ull) : unit;
}

#endif /* KEEL_TRACE_H */
