// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reads and writes on an open VMDK disk: a byte range is split across the
 * extents of the top layer, and within a sparse extent across grains.  A
 * grain the top layer does not hold is read from the parent (a delta) or as
 * zeros; writing one allocates it in the top layer, filled first with what
 * the parent (or zeros) had, so the grain stays whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmdk/vmdk_int.h"

/* the extent holding byte @off (< disk->size) */
int vmdk_find_extent(const struct keel_vmdk *disk, uint64_t off)
{
	size_t lo = 0, hi = disk->next;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (disk->ext[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	return (int)lo;
}

static void set_last_error(struct keel_vmdk *disk, const char *msg)
{
	pthread_mutex_lock(&disk->lock);
	snprintf(disk->last_err, sizeof(disk->last_err), "%s", msg);
	pthread_mutex_unlock(&disk->lock);
}

static int range_check(struct keel_vmdk *disk, size_t len, uint64_t off, char *err, size_t errlen)
{
	if (off > disk->size || len > disk->size - off)
		return vmdk_err(err, errlen, -EINVAL,
				"%s: I/O of %zu bytes at %" PRIu64 " goes past the end (%" PRIu64
				" bytes)",
				disk->path, len, off, disk->size);
	return 0;
}

/* Read from grains of a sparse extent: @off is bytes into the extent. */
static int sparse_read(struct keel_vmdk *disk, struct vmdk_extent *e, char *buf, size_t len,
		       uint64_t off, char *err, size_t errlen)
{
	uint64_t gb = vmdk_sparse_grain_bytes(e->sparse);

	while (len) {
		uint64_t g = off / gb, in = off % gb, sector;
		size_t n = (size_t)(gb - in) < len ? (size_t)(gb - in) : len;
		int r = vmdk_sparse_lookup(e->sparse, g, &sector, err, errlen);

		if (r)
			return r;
		if (sector == VMDK_GRAIN_UNMAPPED && disk->parent)
			r = vmdk_layer_read(disk->parent, buf, n, e->start + off, err, errlen);
		else if (sector == VMDK_GRAIN_UNMAPPED || sector == VMDK_GRAIN_ZERO)
			memset(buf, 0, n);
		else
			r = vmdk_sparse_read_grain(e->sparse, g, sector, buf, n, in, err, errlen);
		if (r)
			return r;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

int vmdk_layer_read(struct keel_vmdk *disk, void *vbuf, size_t len, uint64_t off, char *err,
		    size_t errlen)
{
	char *buf = vbuf;
	int r;

	while (len) {
		struct vmdk_extent *e = &disk->ext[vmdk_find_extent(disk, off)];
		uint64_t in = off - e->start;
		size_t n = (size_t)(e->len - in) < len ? (size_t)(e->len - in) : len;
		ssize_t got;

		if (e->access == VMDK_NOACCESS)
			return vmdk_err(err, errlen, -EACCES, "%s: extent %s is NOACCESS",
					disk->path, e->path ? e->path : "ZERO");
		switch (e->kind) {
		case VMDK_EXT_ZERO:
			memset(buf, 0, n);
			break;
		case VMDK_EXT_FLAT:
		case VMDK_EXT_VMFS:
			got = vmdk_pread_full(e->fd, buf, n, e->file_off + in);
			if (got < 0)
				return vmdk_err(err, errlen, (int)got,
						"%s: read at %" PRIu64 ": %s", e->path,
						e->file_off + in, strerror((int)-got));
			/* a flat file shortened behind our back reads as zeros past its end */
			memset(buf + got, 0, n - (size_t)got);
			break;
		case VMDK_EXT_SPARSE:
			r = sparse_read(disk, e, buf, n, in, err, errlen);
			if (r)
				return r;
			break;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

int keel_vmdk_pread(struct keel_vmdk *disk, void *buf, size_t len, uint64_t off)
{
	char err[512];
	int r = range_check(disk, len, off, err, sizeof(err));

	if (!r && !len)
		return 0;
	if (!r)
		r = vmdk_layer_read(disk, buf, len, off, err, sizeof(err));
	if (r)
		set_last_error(disk, err);
	return r;
}

/* grains allocated in one go by one write: one fdatasync for all of them */
#define ALLOC_RUN_BYTES (2U << 20)

/* How many grains from @g on (at most @max) this layer does not hold. */
static uint64_t unmapped_run(struct vmdk_extent *e, uint64_t g, uint64_t max, char *err,
			     size_t errlen)
{
	uint64_t n = 0, sector;

	while (n < max && !vmdk_sparse_lookup(e->sparse, g + n, &sector, err, errlen) &&
	       (sector == VMDK_GRAIN_UNMAPPED || sector == VMDK_GRAIN_ZERO))
		n++;
	return n;
}

/* The parts of the @n grains from @g on (@valid bytes of @grains, zeros
 * so far) that the write of @len bytes at @in leaves as they were: a grain
 * the table marks zeroed reads zeros and stays zeros; one it does not map
 * takes what the parent has there.  Only the first and last grain can be
 * partly written. */
static int fill_from_parent(struct keel_vmdk *disk, struct vmdk_extent *e, uint64_t g, uint64_t n,
			    char *grains, uint64_t in, size_t len, uint64_t valid, char *err,
			    size_t errlen)
{
	uint64_t gb = vmdk_sparse_grain_bytes(e->sparse), end = in + len;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t from = i * gb, to = from + gb < valid ? from + gb : valid, sector;
		int r;

		if (from >= valid)
			break;
		/* wholly written: nothing of the old content stays */
		if (in <= from && end >= to)
			continue;
		r = vmdk_sparse_lookup(e->sparse, g + i, &sector, err, errlen);
		if (r)
			return r;
		/* zeroed, or allocated since (the allocation stops before it) */
		if (sector != VMDK_GRAIN_UNMAPPED)
			continue;
		r = vmdk_layer_read(disk->parent, grains + from, to - from,
				    e->start + g * gb + from, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

/* Allocate the grains from @g on that the @len bytes of @data at @in (bytes
 * into grain @g) fall into, as far as they are unmapped and fit in one run,
 * filled first with what the parent (or zeros) had; *@ret_bytes: how many
 * bytes of @data went into them.  A grain marked zeroed is filled with zeros,
 * not from the parent: it reads as zeros. */
static int sparse_fill_grains(struct keel_vmdk *disk, struct vmdk_extent *e, uint64_t g,
			      const char *data, size_t len, uint64_t in, size_t *ret_bytes,
			      char *err, size_t errlen)
{
	uint64_t gb = vmdk_sparse_grain_bytes(e->sparse), gstart = g * gb;
	uint64_t want = (in + len + gb - 1) / gb,
		 max = ALLOC_RUN_BYTES / gb ? ALLOC_RUN_BYTES / gb : 1;
	uint64_t n = unmapped_run(e, g, want < max ? want : max, err, errlen), done = 0, bytes,
		 valid;
	char *grains;
	int r = 0;

	if (!n)
		return -EEXIST;
	bytes = n * gb;
	valid = e->len - gstart < bytes ? e->len - gstart : bytes;
	grains = calloc(1, bytes);
	if (!grains)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", disk->path);
	len = in + len > bytes ? (size_t)(bytes - in) : len;
	if (disk->parent)
		r = fill_from_parent(disk, e, g, n, grains, in, len, valid, err, errlen);
	if (!r) {
		memcpy(grains + in, data, len);
		r = vmdk_sparse_alloc(e->sparse, g, n, grains, &done, err, errlen);
	}
	free(grains);
	/* the bytes of @data inside the grains allocated */
	*ret_bytes = done * gb > in ? (size_t)(done * gb - in < len ? done * gb - in : len) : 0;
	if (!r && !*ret_bytes)
		r = -EEXIST;
	return r;
}

static int sparse_write(struct keel_vmdk *disk, struct vmdk_extent *e, const char *buf, size_t len,
			uint64_t off, char *err, size_t errlen)
{
	uint64_t gb = vmdk_sparse_grain_bytes(e->sparse);

	while (len) {
		uint64_t g = off / gb, in = off % gb, sector;
		size_t n = (size_t)(gb - in) < len ? (size_t)(gb - in) : len;
		int r = vmdk_sparse_lookup(e->sparse, g, &sector, err, errlen);

		if (!r && (sector == VMDK_GRAIN_UNMAPPED || sector == VMDK_GRAIN_ZERO)) {
			r = sparse_fill_grains(disk, e, g, buf, len, in, &n, err, errlen);
			/* another thread allocated it first: write into its grain */
			if (r == -EEXIST) {
				n = (size_t)(gb - in) < len ? (size_t)(gb - in) : len;
				r = vmdk_sparse_lookup(e->sparse, g, &sector, err, errlen);
			} else {
				sector = VMDK_GRAIN_UNMAPPED;
			}
		}
		if (!r && sector != VMDK_GRAIN_UNMAPPED && sector != VMDK_GRAIN_ZERO) {
			r = vmdk_pwrite_full(e->fd, buf, n, sector * VMDK_SECTOR + in);
			if (r)
				vmdk_err(err, errlen, r, "%s: write at %" PRIu64 ": %s", e->path,
					 sector * VMDK_SECTOR + in, strerror(-r));
		}
		if (r)
			return r;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int layer_write(struct keel_vmdk *disk, const char *buf, size_t len, uint64_t off, char *err,
		       size_t errlen)
{
	int r;

	while (len) {
		struct vmdk_extent *e = &disk->ext[vmdk_find_extent(disk, off)];
		uint64_t in = off - e->start;
		size_t n = (size_t)(e->len - in) < len ? (size_t)(e->len - in) : len;

		if (e->access != VMDK_RW || e->kind == VMDK_EXT_ZERO)
			return vmdk_err(err, errlen, -EROFS,
					"%s: the extent at %" PRIu64 " (%s) is not writable",
					disk->path, e->start, e->path ? e->path : "ZERO");
		e->written = true;
		if (e->kind == VMDK_EXT_SPARSE) {
			r = sparse_write(disk, e, buf, n, in, err, errlen);
		} else {
			r = vmdk_pwrite_full(e->fd, buf, n, e->file_off + in);
			if (r)
				vmdk_err(err, errlen, r, "%s: write at %" PRIu64 ": %s", e->path,
					 e->file_off + in, strerror(-r));
		}
		if (r)
			return r;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* The first write of this open gives the disk a new CID, before any data
 * changes: a crash in between leaves a new CID on old data, which only makes
 * deltas of the old content refuse to open, never open on changed content.
 * The lock is held throughout, so writers racing to be first wait for the
 * descriptor to be on disk, and exactly one new CID is made. */
static int update_cid(struct keel_vmdk *disk, char *err, size_t errlen)
{
	char hex[16];
	uint32_t cid;
	int r = 0;

	pthread_mutex_lock(&disk->lock);
	if (disk->cid_updated)
		goto out;
	r = vmdk_new_cid(disk->desc.cid, &cid);
	if (r) {
		vmdk_err(err, errlen, r, "%s: no random CID: %s", disk->path, strerror(-r));
		goto out;
	}
	snprintf(hex, sizeof(hex), "%08x", cid);
	/* the key exists since open, so the value changes in place and the
	 * strings keel_vmdk_ddb() handed out stay valid */
	r = vmdk_desc_set(&disk->desc, "CID", hex, false);
	if (r) {
		vmdk_err(err, errlen, r, "%s: out of memory", disk->path);
		goto out;
	}
	disk->desc.cid = cid;
	r = vmdk_write_descriptor(disk, err, errlen);
	if (!r)
		__atomic_store_n(&disk->cid_updated, true, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&disk->lock);
	return r;
}

int keel_vmdk_pwrite(struct keel_vmdk *disk, const void *buf, size_t len, uint64_t off)
{
	char err[512];
	int r = range_check(disk, len, off, err, sizeof(err));

	if (!r && !disk->writable)
		r = vmdk_err(err, sizeof(err), -EROFS, "%s: opened read only", disk->path);
	if (!r && !len)
		return 0;
	if (!r && !__atomic_load_n(&disk->cid_updated, __ATOMIC_ACQUIRE))
		r = update_cid(disk, err, sizeof(err));
	if (!r)
		r = layer_write(disk, buf, len, off, err, sizeof(err));
	if (r)
		set_last_error(disk, err);
	return r;
}

int keel_vmdk_flush(struct keel_vmdk *disk)
{
	char err[512];
	int r = 0;

	if (!disk->writable)
		return 0;
	for (size_t i = 0; i < disk->next && !r; i++) {
		struct vmdk_extent *e = &disk->ext[i];

		if (e->kind == VMDK_EXT_ZERO || e->access != VMDK_RW)
			continue;
		if (fdatasync(e->fd)) {
			r = -errno;
			vmdk_err(err, sizeof(err), r, "%s: fsync: %s", e->path, strerror(-r));
		}
	}
	if (!r && disk->desc_sparse && fdatasync(disk->desc_sparse->fd)) {
		r = -errno;
		vmdk_err(err, sizeof(err), r, "%s: fsync: %s", disk->path, strerror(-r));
	}
	if (r)
		set_last_error(disk, err);
	return r;
}

/* the smallest grain of any sparse extent in the chain (512 without any) */
static uint64_t min_grain(const struct keel_vmdk *disk)
{
	uint64_t m = 0;

	for (const struct keel_vmdk *l = disk; l; l = l->parent)
		for (size_t i = 0; i < l->next; i++)
			if (l->ext[i].sparse) {
				uint64_t gb = vmdk_sparse_grain_bytes(l->ext[i].sparse);

				if (!m || gb < m)
					m = gb;
			}
	return m ? m : VMDK_SECTOR;
}

/* true when no layer holds any byte of [off, off + n) */
static bool range_unheld(struct keel_vmdk *disk, uint64_t off, uint64_t n, uint64_t step)
{
	unsigned int depth;
	uint32_t cid;

	for (uint64_t p = off; p < off + n; p = (p / step + 1) * step)
		if (keel_vmdk_layer_of(disk, p, &depth, &cid) != -ENOENT)
			return false;
	return true;
}

/* Zeroing: a flat extent gets a hole punched (written with zeros where the
 * file system cannot); in a sparse extent a range no layer holds already
 * reads as zeros and is skipped, anything else is written with zeros
 * (grains stay allocated). */
int keel_vmdk_zero(struct keel_vmdk *disk, uint64_t off, uint64_t len)
{
	static const char zeros[65536];
	uint64_t step = min_grain(disk);
	char err[512];
	int r = 0;

	if (off > disk->size || len > disk->size - off) {
		vmdk_err(err, sizeof(err), -EINVAL,
			 "%s: zeroing %" PRIu64 " bytes at %" PRIu64 " goes past the end (%" PRIu64
			 " bytes)",
			 disk->path, len, off, disk->size);
		set_last_error(disk, err);
		return -EINVAL;
	}
	while (len) {
		struct vmdk_extent *e = &disk->ext[vmdk_find_extent(disk, off)];
		size_t n = sizeof(zeros) - off % sizeof(zeros);

		/* a flat extent gets a hole punched: no data written, reads zeros */
		if ((e->kind == VMDK_EXT_FLAT || e->kind == VMDK_EXT_VMFS) && disk->writable &&
		    e->access == VMDK_RW) {
			uint64_t in = off - e->start, m = e->len - in < len ? e->len - in : len;

			/* the new CID first, as for any write */
			if (!__atomic_load_n(&disk->cid_updated, __ATOMIC_ACQUIRE)) {
				r = update_cid(disk, err, sizeof(err));
				if (r) {
					set_last_error(disk, err);
					return r;
				}
			}
			if (!fallocate(e->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       (off_t)(e->file_off + in), (off_t)m)) {
				e->written = true;
				off += m;
				len -= m;
				continue;
			}
		}
		if (n > len)
			n = (size_t)len;
		if (!range_unheld(disk, off, n, step)) {
			r = keel_vmdk_pwrite(disk, zeros, n, off);
			if (r)
				return r;
		}
		off += n;
		len -= n;
	}
	return 0;
}

int keel_vmdk_layer_of(struct keel_vmdk *disk, uint64_t off, unsigned int *ret_depth,
		       uint32_t *ret_cid)
{
	char err[512];

	for (struct keel_vmdk *l = disk; l; l = l->parent) {
		struct vmdk_extent *e;
		uint64_t sector;
		int r;

		if (off >= l->size)
			return -EINVAL;
		e = &l->ext[vmdk_find_extent(l, off)];
		if (e->kind == VMDK_EXT_ZERO)
			return -ENOENT;
		if (e->kind == VMDK_EXT_SPARSE) {
			uint64_t gb = vmdk_sparse_grain_bytes(e->sparse);

			r = vmdk_sparse_lookup(e->sparse, (off - e->start) / gb, &sector, err,
					       sizeof(err));
			if (r) {
				set_last_error(disk, err);
				return r;
			}
			if (sector == VMDK_GRAIN_ZERO)
				return -ENOENT;
			if (sector == VMDK_GRAIN_UNMAPPED)
				continue;
		}
		*ret_depth = l->depth - disk->depth;
		*ret_cid = l->desc.cid;
		return 0;
	}
	return -ENOENT;
}

int keel_vmdk_layer_file(const struct keel_vmdk *disk, unsigned int depth, uint64_t *ret_dev,
			 uint64_t *ret_ino)
{
	const struct keel_vmdk *l = disk;

	while (l && depth--)
		l = l->parent;
	if (!l)
		return -ENOENT;
	*ret_dev = (uint64_t)l->dev;
	*ret_ino = (uint64_t)l->ino;
	return 0;
}
