/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Filter-level access to an open virtual disk.
 *
 * Each open disk is served by one disk server process (nbdkit with keel's
 * plugin), which keeps the disk's filter chain and listens on a channel
 * socket, RUN_DIR/<dev>-<inode>.chan of the disk file, in hex (RUN_DIR:
 * $KEEL_VDISK_RUN_DIR, else /run/keel/vdisk).  An application joins the chain through it:
 *
 *   keel_vdisk_client_open("/vm/disk.vmdk", &c, err, sizeof(err));
 *   keel_vdisk_client_handle(c, "integrity", &fd, err, sizeof(err));
 *   keel_vdisk_handle_pread(fd, buf, 4096, 0);   // integrity, then vmdk
 *
 * The handle is a file descriptor (a socket received with SCM_RIGHTS)
 * bound to the target filter: I/O through it enters the chain at that
 * filter and passes every filter below it, never those above.  A filter
 * may refuse a handle; the reason comes back in @err.  A handle outlives
 * the client that asked for it and may be passed on to another process.
 *
 * The channel speaks one JSON object per line each way:
 *   {"op":"info"}                                -> the disk and its filters
 *   {"op":"handle","filter":NAME}                -> {"ok":true,...} + fd
 *   {"op":"control","filter":NAME,"name":OP,"args":{...}} -> the answer
 * An error answer is {"ok":false,"errno":N,"error":"sentence"}.
 *
 * A handle speaks fixed little-endian frames, one request at a time:
 *   request 32 bytes: magic "KVH1" (u32), op (u16), flags (u16: KEEL_VF_*),
 *                     offset (u64), length (u64), tag (u64);
 *                     a write's data follows
 *   reply   16 bytes: magic, error (s32: 0 or -errno), tag; a read's data
 *                     follows when error is 0
 * Offsets and lengths are multiples of 512; a length is at most 32 MiB.
 */
#ifndef KEEL_VDISK_CLIENT_H
#define KEEL_VDISK_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_VDISK_HANDLE_MAGIC	 0x3148564bu /* "KVH1" */
#define KEEL_VDISK_HANDLE_MAX_IO (32u << 20)
#define KEEL_VDISK_RUN_DIR	 "/run/keel/vdisk"

enum keel_vdisk_handle_op {
	KEEL_VDISK_OP_READ = 1,
	KEEL_VDISK_OP_WRITE = 2,
	KEEL_VDISK_OP_FLUSH = 3,
	KEEL_VDISK_OP_DISCARD = 4,
};

struct keel_vdisk_handle_req {
	uint32_t magic;
	uint16_t op, flags;
	uint64_t offset, length, tag;
};

struct keel_vdisk_handle_reply {
	uint32_t magic;
	int32_t error;
	uint64_t tag;
};

struct keel_vdisk_client;

/* RUN_DIR/<dev>-<ino>.<suffix> for the disk file @disk_path ("chan", "lock", "nbd"). */
int keel_vdisk_run_path(const char *disk_path, const char *suffix, char *ret, size_t retlen);

/* Join the chain of the disk at @disk_path (its server must be running). */
int keel_vdisk_client_open(const char *disk_path, struct keel_vdisk_client **ret, char *err,
			   size_t errlen);
/* The same, given the channel socket's path. */
int keel_vdisk_client_connect(const char *channel, struct keel_vdisk_client **ret, char *err,
			      size_t errlen);
void keel_vdisk_client_close(struct keel_vdisk_client *c); /* NULL ok */
/* Give up a call (send or receive) after @ms milliseconds: -EAGAIN. */
int keel_vdisk_client_timeout(struct keel_vdisk_client *c, unsigned int ms);

/* Ask filter @filter for a handle: 0 and *ret_fd, or -errno and the reason. */
int keel_vdisk_client_handle(struct keel_vdisk_client *c, const char *filter, int *ret_fd,
			     char *err, size_t errlen);
/* Any channel request; the answer in *ret (new reference). */
int keel_vdisk_client_call(struct keel_vdisk_client *c, json_t *req, json_t **ret, int *ret_fd,
			   char *err, size_t errlen);

/* I/O through a handle: 0 or a negative errno (the chain's, e.g. -EIO). */
int keel_vdisk_handle_pread(int fd, void *buf, size_t len, uint64_t off);
int keel_vdisk_handle_pwrite(int fd, const void *buf, size_t len, uint64_t off, unsigned int flags);
int keel_vdisk_handle_flush(int fd);
int keel_vdisk_handle_discard(int fd, uint64_t off, uint64_t len, unsigned int flags);

#endif /* KEEL_VDISK_CLIENT_H */
