/* SPDX-License-Identifier: GPL-2.0-only */
/* The trace recorder (record.c): a disk's reads in keel's trace format. */
#ifndef KEEL_AGENT_BLK_RECORD_H
#define KEEL_AGENT_BLK_RECORD_H

#include <linux/types.h>

struct keel_blk_recorder;

int keel_blk_recorder_open(const char *path, __u64 disk_id64, __u64 max_records,
			   struct keel_blk_recorder **ret);
/* Append one read; returns 1 when the record limit is reached, or -errno. */
int keel_blk_recorder_add(struct keel_blk_recorder *r, __u64 time_ns, __u64 sector, __u32 len);
__u64 keel_blk_recorder_count(const struct keel_blk_recorder *r);
/* Close; returns the first write error. */
int keel_blk_recorder_close(struct keel_blk_recorder *r);

#endif /* KEEL_AGENT_BLK_RECORD_H */
