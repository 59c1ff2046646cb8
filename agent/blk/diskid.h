/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A disk's identity (diskid.c): a stable ID from the image's VMDK descriptor
 * or its IMAGE.keel, its 64-bit trace disk_id, and what /sys says about it.
 */
#ifndef KEEL_AGENT_BLK_DISKID_H
#define KEEL_AGENT_BLK_DISKID_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define KEEL_BLK_ID_LEN 128

struct keel_blk_diskid {
	__u32 dev;		  /* KEEL_BLK_MKDEV encoding */
	char name[32];		  /* loop3, vda */
	char id[KEEL_BLK_ID_LEN]; /* stable: "vmdk-uuid:...", "wwn:..." */
	char source[24];	  /* where the id came from */
	char backing[PATH_MAX];	  /* a loop device's backing file, or "" */
	__u64 id64;		  /* first 8 bytes of SHA-256(id): trace disk_id */
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
int keel_blk_image_id(const char *image, char *id, size_t idlen, char *source, size_t srclen);
/* The trace's 64-bit disk_id of an ID: the first 8 bytes of SHA-256(id). */
int keel_blk_id64(const char *id, __u64 *ret);
/* Everything about the disk with device number @dev (whole disk). */
int keel_blk_diskid_resolve(__u32 dev, struct keel_blk_diskid *ret);
/* A block device name ("loop3" or "/dev/loop3") to its number. */
int keel_blk_dev_by_name(const char *name, __u32 *ret_dev);

#endif /* KEEL_AGENT_BLK_DISKID_H */
