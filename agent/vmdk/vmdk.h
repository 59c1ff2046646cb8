/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keel's VMDK library: open, read, write and create VMware virtual disks.
 *
 * A disk is a descriptor (a text file, or text embedded in a sparse extent)
 * naming one or more extents (flat files, hosted sparse files, zero ranges)
 * and, for a delta disk, a parent disk it falls through to.  The library
 * handles createType monolithicSparse, monolithicFlat, twoGbMaxExtentSparse,
 * twoGbMaxExtentFlat (read and write) and streamOptimized (read only), and
 * chains of deltas (parentCID / parentFileNameHint).
 *
 * Every call returns 0 or a negative errno.  Calls taking @err fill it with
 * one sentence naming the file, the offset or descriptor line, and the field
 * that was wrong; the I/O calls keep that sentence for keel_vmdk_last_error().
 * Nothing is written to a disk that did not parse completely.
 *
 * I/O calls are safe from several threads at once on one disk; the library
 * serialises metadata updates (grain allocation, the CID) itself.
 */
#ifndef KEEL_VMDK_H
#define KEEL_VMDK_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct keel_vmdk; /* an open disk: descriptor, extents, parent chain */

enum keel_vmdk_type { /* createType */
		      KEEL_VMDK_MONOLITHIC_SPARSE,
		      KEEL_VMDK_MONOLITHIC_FLAT,
		      KEEL_VMDK_TWOGB_SPARSE,	  /* twoGbMaxExtentSparse */
		      KEEL_VMDK_TWOGB_FLAT,	  /* twoGbMaxExtentFlat */
		      KEEL_VMDK_STREAM_OPTIMIZED, /* read only */
};

struct keel_vmdk_create_opts {
	uint64_t size; /* bytes, multiple of 512 (ignored for a delta: parent's size) */
	enum keel_vmdk_type type;
	const char *parent; /* NULL, or path of the parent: creates a delta (sparse) */
};

#define KEEL_VMDK_RDONLY 0x1

/* Limits on what a descriptor or header may make the library allocate. */
#define KEEL_VMDK_MAX_SIZE	 (64ULL << 40) /* virtual size of a disk */
#define KEEL_VMDK_MAX_EXTENTS	 4096	       /* extents of one disk */
#define KEEL_VMDK_MAX_CHAIN	 32	       /* layers of a delta chain, top included */
#define KEEL_VMDK_MAX_DESCRIPTOR (1U << 20)    /* bytes of descriptor text */

int keel_vmdk_create(const char *path, const struct keel_vmdk_create_opts *opts, char *err,
		     size_t errlen);
int keel_vmdk_open(const char *path, unsigned int flags, struct keel_vmdk **ret, char *err,
		   size_t errlen);
void keel_vmdk_close(struct keel_vmdk *disk); /* accepts NULL */

uint64_t keel_vmdk_size(const struct keel_vmdk *disk); /* virtual size, bytes */
uint32_t keel_vmdk_cid(const struct keel_vmdk *disk);  /* CID of the top layer */
enum keel_vmdk_type keel_vmdk_type(const struct keel_vmdk *disk);
/* a ddb.* (or other descriptor) key of the top layer, NULL if absent */
const char *keel_vmdk_ddb(const struct keel_vmdk *disk, const char *key);

/*
 * I/O at any byte offset/length within the size (the library splits across
 * grains, extents and layers).  The first write through an open disk gives
 * its top layer a new CID (as VMware and QEMU do), so deltas made on the old
 * content no longer open on top of it.
 */
int keel_vmdk_pread(struct keel_vmdk *disk, void *buf, size_t len, uint64_t off);
int keel_vmdk_pwrite(struct keel_vmdk *disk, const void *buf, size_t len, uint64_t off);
int keel_vmdk_flush(struct keel_vmdk *disk); /* fsync every file written */
/* zero the range; a sparse extent may keep grains allocated (documented) */
int keel_vmdk_zero(struct keel_vmdk *disk, uint64_t off, uint64_t len);

/* For the read cache: which layer of a delta chain holds the byte at
 * @off: 0 = top, 1 = its parent, ...; its CID in *ret_cid. -ENOENT if no layer
 * holds it (reads as zeros). */
int keel_vmdk_layer_of(struct keel_vmdk *disk, uint64_t off, unsigned int *ret_depth,
		       uint32_t *ret_cid);

/* Additions beyond the agreed interface. */

/* The file of layer @depth (0 = top) of @disk's chain, as device and inode
 * numbers: the read cache names a layer by them, so disks sharing a base
 * share its cached blocks.  -ENOENT past the bottom of the chain. */
int keel_vmdk_layer_file(const struct keel_vmdk *disk, unsigned int depth, uint64_t *ret_dev,
			 uint64_t *ret_ino);

/* The sentence describing the last failed I/O call on @disk ("" if none). */
void keel_vmdk_last_error(struct keel_vmdk *disk, char *buf, size_t len);
/* "monolithicSparse", ...: the createType spelling of @type */
const char *keel_vmdk_type_name(enum keel_vmdk_type type);

/*
 * Check the disk at @path and every layer below it without writing: the
 * descriptor, headers, both grain directories, every grain table entry (in
 * the file, past the metadata, no grain used twice), the parent CIDs.
 * Fills @report (a JSON object: path, type, size, layers[] with their
 * extents and allocated grains, errors[] of sentences).  Returns 0 when
 * clean, -EUCLEAN when errors were found (the first one in @err), another
 * negative errno when the disk could not be opened at all (@err says why).
 */
int keel_vmdk_check(const char *path, json_t *report, char *err, size_t errlen);

#endif
