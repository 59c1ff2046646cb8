/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * blk subsystem internals: disk identity (diskid.c), the per-disk model
 * (model.c), the trace recorder (record.c).  The subsystem glue is blk.c.
 */
#ifndef KEEL_AGENT_BLK_H
#define KEEL_AGENT_BLK_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "blk/minisim.h"
#include "blk/shards.h"

/* ---- disk identity (diskid.c) ---- */

#define KEEL_BLK_ID_LEN 128

struct keel_blk_diskid {
	__u32 dev;			/* KEEL_BLK_MKDEV encoding */
	char name[32];			/* loop3, vda */
	char id[KEEL_BLK_ID_LEN];	/* stable: "vmdk-uuid:...", "wwn:..." */
	char source[24];		/* where the id came from */
	char backing[PATH_MAX];		/* a loop device's backing file, or "" */
	__u64 id64;			/* first 8 bytes of SHA-256(id): trace disk_id */
	__u64 size_bytes;
};

/*
 * The ID in a VMDK descriptor (text): ddb.uuid.image when present, else
 * CID.  Writes "vmdk-uuid:<uuid>" or "vmdk-cid:<hex>" into @id; 0, or
 * -ENOENT when the text has neither, -EINVAL when it is no descriptor.
 * @extent (may be NULL) is set to whether a FLAT/SPARSE extent line names
 * the file @extent_name (NULL: not checked).
 */
int keel_blk_vmdk_descriptor_id(const char *text, size_t len, const char *extent_name,
				bool *ret_extent, char *id, size_t idlen);
/*
 * The ID of a disk image file: its VMDK descriptor (embedded in a sparse
 * VMDK, the file itself, or NAME.vmdk naming NAME-flat.vmdk as its extent),
 * else the `disk_id` in IMAGE.keel, which is created once with a random
 * UUID when missing.  @source says which.
 */
int keel_blk_image_id(const char *image, char *id, size_t idlen, char *source,
		      size_t srclen);
/* The trace's 64-bit disk_id of an ID: the first 8 bytes of SHA-256(id). */
int keel_blk_id64(const char *id, __u64 *ret);
/* Everything about the disk with device number @dev (whole disk). */
int keel_blk_diskid_resolve(__u32 dev, struct keel_blk_diskid *ret);
/* A block device name ("loop3" or "/dev/loop3") to its number. */
int keel_blk_dev_by_name(const char *name, __u32 *ret_dev);

/* ---- per-disk model (model.c) ---- */

struct keel_blk_model_opts {
	__u64 cache_blocks;		/* three-queue cache size, in blocks */
	__u32 block_size;		/* bytes, a power of two >= 512 */
	enum keel_shards_mode mrc_mode;
	double mrc_rate;
	__u32 mrc_max_samples;
	__u32 mrc_bins;
	/* the three-queue curve by miniature simulation: points (0: none) over
	 * 4 x cache_blocks, at mrc_rate, in at most this many cache entries */
	__u32 mrc_keel_points;
	__u64 mrc_keel_max_entries;
};

struct keel_blk_disk;

struct keel_blk_counts {
	__u64 reads;		/* read requests */
	__u64 bytes;
	__u64 blocks;		/* block accesses offered to the cache */
	__u64 hits, misses;
	__u64 latency_ns;	/* sum over the reads that have one */
	__u64 timed;		/* reads with a latency */
	__u64 errors;
};

/* Create a disk's model; @size_bytes bounds its MRC's x range. */
int keel_blk_disk_new(const struct keel_blk_model_opts *o, const struct keel_blk_diskid *id,
		      struct keel_blk_disk **ret);
void keel_blk_disk_free(struct keel_blk_disk *d);
/* Empty the model, the curve and the counters (a new start). */
int keel_blk_disk_reset(struct keel_blk_disk *d);
const struct keel_blk_diskid *keel_blk_disk_id(const struct keel_blk_disk *d);
/* One read of @len bytes at @sector: every block it touches is one access. */
void keel_blk_disk_read(struct keel_blk_disk *d, __u64 sector, __u32 len, __u64 latency_ns,
			bool has_latency, bool error);
/* The cache key of a block, the same as keel-cachesim's in block mode. */
__u64 keel_blk_block_key(__u64 disk_id64, __u64 block);
/* Counters since the start and since the last keel_blk_disk_interval(). */
void keel_blk_disk_counts(const struct keel_blk_disk *d, struct keel_blk_counts *ret_total,
			  struct keel_blk_counts *ret_interval);
/* Start a new interval (the blk.stats period). */
void keel_blk_disk_interval(struct keel_blk_disk *d);
/* The disk as JSON: identity, counters, hit ratios, the model's queues. */
json_t *keel_blk_disk_json(struct keel_blk_disk *d);
/* The MRC as JSON: {mode, rate, points: [[size_bytes, miss_ratio]...], ...} */
json_t *keel_blk_disk_mrc_json(struct keel_blk_disk *d);

/* ---- trace recorder (record.c) ---- */

struct keel_blk_recorder;

int keel_blk_recorder_open(const char *path, __u64 disk_id64, __u64 max_records,
			   struct keel_blk_recorder **ret);
/* Append one read; returns 1 when the record limit is reached, or -errno. */
int keel_blk_recorder_add(struct keel_blk_recorder *r, __u64 time_ns, __u64 sector, __u32 len);
__u64 keel_blk_recorder_count(const struct keel_blk_recorder *r);
/* Close; returns the first write error. */
int keel_blk_recorder_close(struct keel_blk_recorder *r);

#endif /* KEEL_AGENT_BLK_H */
