/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An open virtual disk: its VMDK under the ordered chain of filters that
 * its metadata names (the filter API is keel/vfilter.h; the metadata file
 * and the built-in filters are described in docs/vdisk.md).
 *
 * The metadata is IMAGE.keel beside the disk IMAGE (the file blk reads the
 * disk ID from):
 *
 *   [vdisk]
 *   filters = stats throttle crypt integrity     ; top -> bottom
 *   [filter.crypt]
 *   key_file = disk.key
 *
 * No file, or no [vdisk] filters key: the chain is the VMDK alone.
 */
#ifndef KEEL_VDISK_H
#define KEEL_VDISK_H

#include <jansson.h>
#include <stdint.h>

#include "keel/vfilter.h"

#define KEEL_VDISK_RDONLY      0x1
#define KEEL_VDISK_MAX_FILTERS 16 /* in one chain, besides "vmdk" */

struct keel_vdisk;

/* Receives each event (borrowed: json_incref to keep it). */
typedef void (*keel_vdisk_event_fn)(void *ctx, json_t *event);

struct keel_vdisk_opts {
	unsigned int flags;	   /* KEEL_VDISK_* */
	const char *metadata;	   /* NULL: "PATH.keel" */
	keel_vdisk_event_fn event; /* NULL: events are dropped */
	void *event_ctx;
	/* NULL, or asked before each read, write and discard reaches the
	 * VMDK: an error (ownership's fencing: -EPERM) fails the I/O */
	int (*gate)(void *gate_ctx);
	void *gate_ctx;
};

/*
 * Open the VMDK at @path and build its chain, bottom first.  On failure
 * nothing stays open and @err names the file, the section or line, and
 * the key that was wrong.
 */
int keel_vdisk_open(const char *path, const struct keel_vdisk_opts *opts, struct keel_vdisk **ret,
		    char *err, size_t errlen);
/* Close the chain top first, then the VMDK (flushing it).  NULL ok. */
void keel_vdisk_close(struct keel_vdisk *d);

uint64_t keel_vdisk_size(const struct keel_vdisk *d);
const char *keel_vdisk_id(const struct keel_vdisk *d);
uint64_t keel_vdisk_id64(const struct keel_vdisk *d);
int keel_vdisk_readonly(const struct keel_vdisk *d);
/* The filters, 0 = top, the last one is always "vmdk". */
unsigned int keel_vdisk_nfilters(const struct keel_vdisk *d);
struct keel_vfilter *keel_vdisk_filter(const struct keel_vdisk *d, unsigned int i);
struct keel_vfilter *keel_vdisk_find(const struct keel_vdisk *d, const char *name);
static inline struct keel_vfilter *keel_vdisk_top(const struct keel_vdisk *d)
{
	return keel_vdisk_filter(d, 0);
}

/*
 * A client asks to enter the chain at filter @name: -ENOENT (no such
 * filter in this chain) or the filter's refusal (its [filter.NAME]
 * handles = false, or its attach callback), with the reason in @reason.
 */
int keel_vdisk_attach(struct keel_vdisk *d, const char *name, struct keel_vfilter **ret,
		      char *reason, size_t reasonlen);

/* Per filter: counters and its "stats" control answer.  New reference. */
json_t *keel_vdisk_info(struct keel_vdisk *d);

/* The filter's own counters (kept by the chain for every filter). */
struct keel_vfilter_counters {
	uint64_t reads, writes, flushes, discards;
	uint64_t read_bytes, write_bytes, errors;
};
void keel_vfilter_counters(const struct keel_vfilter *f, struct keel_vfilter_counters *ret);

/*
 * The disk server's channel (protocol in keel/vdisk_client.h): listen on
 * @path and hand out handles into @d's chain, each served by its own
 * thread.  At most KEEL_VCHANNEL_MAX_* of each at once.  Stop closes every
 * handle and waits for their threads before returning.
 */
#define KEEL_VCHANNEL_MAX_CONNS	  32
#define KEEL_VCHANNEL_MAX_HANDLES 64
struct keel_vchannel;
int keel_vchannel_start(struct keel_vdisk *d, const char *path, struct keel_vchannel **ret,
			char *err, size_t errlen);
void keel_vchannel_stop(struct keel_vchannel *c); /* NULL ok */

/* "10G", "4096", "4KiB": digits and an optional K, M, G or T (powers of
 * 1024, either case) with an optional "iB" or "B"; -EINVAL, -ERANGE */
int keel_vdisk_parse_size(const char *s, uint64_t *ret);

#endif /* KEEL_VDISK_H */
