// SPDX-License-Identifier: GPL-2.0-only
/*
 * Opening a VMDK disk: read its descriptor (a text file, or the text
 * embedded in a sparse extent), open every extent it names, then its parent
 * if it is a delta, checking that the chain has no loop, that every parent
 * exists and still has the CID its child was made on, and that sizes agree.
 * Everything is checked before the disk is handed out, so nothing is ever
 * written to a disk that did not parse.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmdk/vmdk_int.h"

static void close_extents(struct keel_vmdk *disk)
{
	for (size_t i = 0; i < disk->next; i++) {
		struct vmdk_extent *e = &disk->ext[i];

		if (e->sparse && e->sparse != disk->desc_sparse)
			vmdk_sparse_close(e->sparse);
		else if (!e->sparse && e->fd >= 0)
			close(e->fd);
		free(e->path);
	}
	free(disk->ext);
	disk->ext = NULL;
	disk->next = 0;
}

void keel_vmdk_close(struct keel_vmdk *disk)
{
	if (!disk)
		return;
	keel_vmdk_close(disk->parent);
	close_extents(disk);
	vmdk_sparse_close(disk->desc_sparse);
	vmdk_desc_free(&disk->desc);
	pthread_mutex_destroy(&disk->lock);
	free(disk->path);
	free(disk->dir);
	free(disk);
}

/* The descriptor text of @path: the whole file, or what a sparse extent
 * embeds.  Consumes @fd (closed, or kept by the sparse extent). */
static int read_descriptor(struct keel_vmdk *disk, int fd, char **ret, char *err, size_t errlen)
{
	uint8_t head[4];
	struct stat st;
	ssize_t n;
	char *text;
	int r;

	if (fstat(fd, &st)) {
		r = -errno;
		close(fd);
		return vmdk_err(err, errlen, r, "%s: %s", disk->path, strerror(-r));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return vmdk_err(err, errlen, -EINVAL, "%s: not a regular file", disk->path);
	}
	disk->dev = st.st_dev;
	disk->ino = st.st_ino;
	n = vmdk_pread_full(fd, head, sizeof(head), 0);
	if (n < 0) {
		close(fd);
		return vmdk_err(err, errlen, (int)n, "%s: %s", disk->path, strerror((int)-n));
	}
	if (n == 4 && head[0] == 'K' && head[1] == 'D' && head[2] == 'M' && head[3] == 'V') {
		/* the sparse extent owns @fd from here, failing or not */
		r = vmdk_sparse_open(disk->path, fd, disk->writable, &disk->desc_sparse, err,
				     errlen);
		if (r)
			return r;
		r = vmdk_sparse_descriptor(disk->desc_sparse, ret, err, errlen);
		if (!r && !*ret)
			r = vmdk_err(
				err, errlen, -EINVAL,
				"%s: offset 28: descriptorOffset: 0, this sparse extent has no "
				"embedded descriptor: open the descriptor file that names it",
				disk->path);
		return r;
	}
	if (n == 4 && !memcmp(head, "COWD", 4)) {
		close(fd);
		return vmdk_err(
			err, errlen, -ENOTSUP,
			"%s: offset 0: magic: COWD (ESX vmfsSparse) extents are not supported",
			disk->path);
	}
	if ((uint64_t)st.st_size > KEEL_VMDK_MAX_DESCRIPTOR) {
		close(fd);
		return vmdk_err(
			err, errlen, -EFBIG,
			"%s: offset 0: magic: not a sparse extent (no KDMV), and at %lld bytes "
			"too large for a descriptor (limit %u)",
			disk->path, (long long)st.st_size, KEEL_VMDK_MAX_DESCRIPTOR);
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", disk->path);
	}
	n = vmdk_pread_full(fd, text, (size_t)st.st_size, 0);
	close(fd);
	if (n < 0) {
		free(text);
		return vmdk_err(err, errlen, (int)n, "%s: %s", disk->path, strerror((int)-n));
	}
	/* The text ends at the first NUL.  QEMU pads descriptor files with NULs,
	 * and when it rewrites one with a shorter CID (it prints CIDs without
	 * leading zeros) the old text's tail stays after the NUL. */
	text[n] = '\0';
	disk->desc_tail = false;
	for (ssize_t i = (ssize_t)strlen(text); i < n; i++)
		if (text[i])
			disk->desc_tail = true;
	if (!text[0]) {
		free(text);
		return vmdk_err(err, errlen, -EINVAL,
				"%s: offset 0: magic: neither a sparse extent (KDMV) nor a text "
				"descriptor",
				disk->path);
	}
	*ret = text;
	return 0;
}

static int open_extent(struct keel_vmdk *disk, size_t i, uint64_t start, char *err, size_t errlen)
{
	const struct vmdk_desc_extent *d = &disk->desc.ext[i];
	struct vmdk_extent *e = &disk->ext[i];
	bool rw = disk->writable && d->access == VMDK_RW;
	struct stat st;
	int fd, r;

	e->kind = d->kind;
	e->access = d->access;
	e->start = start;
	e->len = d->sectors * VMDK_SECTOR;
	e->file_off = d->offset * VMDK_SECTOR;
	if (d->kind == VMDK_EXT_ZERO)
		return 0;
	e->path = vmdk_join(disk->dir, d->file);
	if (!e->path)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", disk->path);
	fd = open(e->path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return vmdk_err(err, errlen, -errno, "%s: descriptor line %u: extent file: %s: %s",
				disk->path, d->line, e->path, strerror(errno));
	if (fstat(fd, &st)) {
		r = -errno;
		close(fd);
		return vmdk_err(err, errlen, r, "%s: %s", e->path, strerror(-r));
	}
	if (d->kind == VMDK_EXT_FLAT || d->kind == VMDK_EXT_VMFS) {
		e->fd = fd;
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < e->file_off + e->len)
			return vmdk_err(
				err, errlen, -EINVAL,
				"%s: descriptor line %u: extent size: %s is %lld bytes, the "
				"extent needs %" PRIu64 " (offset %" PRIu64 " + %" PRIu64 ")",
				disk->path, d->line, e->path, (long long)st.st_size,
				e->file_off + e->len, e->file_off, e->len);
		return 0;
	}
	/* SPARSE: the descriptor's own file when the descriptor is embedded */
	if (disk->desc_sparse && st.st_dev == disk->dev && st.st_ino == disk->ino) {
		close(fd);
		e->sparse = disk->desc_sparse;
	} else {
		r = vmdk_sparse_open(e->path, fd, rw, &e->sparse, err, errlen);
		if (r)
			return r;
	}
	e->fd = e->sparse->fd;
	if (e->sparse->h.capacity < d->sectors)
		return vmdk_err(err, errlen, -EINVAL,
				"%s: descriptor line %u: extent size: %" PRIu64 " sectors, but %s "
				"holds only %" PRIu64 " (header capacity)",
				disk->path, d->line, d->sectors, e->path, e->sparse->h.capacity);
	if (disk->writable && e->sparse->compressed)
		return vmdk_err(
			err, errlen, -EROFS,
			"%s: %s has compressed grains (streamOptimized): keel opens it only "
			"read only",
			disk->path, e->path);
	return 0;
}

static int open_parent(struct keel_vmdk *disk, char *err, size_t errlen)
{
	const char *hint = disk->desc.parent_hint;
	unsigned int line = 0;
	struct stat st;
	char *ppath;
	int r;

	for (size_t i = 0; i < disk->desc.nkv; i++)
		if (!strcmp(disk->desc.kv[i].key, "parentFileNameHint"))
			line = disk->desc.kv[i].line;
	if (disk->depth + 1 >= KEEL_VMDK_MAX_CHAIN)
		return vmdk_err(err, errlen, -ELOOP,
				"%s: descriptor line %u: parentFileNameHint: the chain is deeper "
				"than keel's limit of %d layers",
				disk->path, line, KEEL_VMDK_MAX_CHAIN);
	ppath = vmdk_join(disk->dir, hint);
	if (!ppath)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", disk->path);
	if (stat(ppath, &st)) {
		r = vmdk_err(err, errlen, -errno,
			     "%s: descriptor line %u: parentFileNameHint: parent %s: %s",
			     disk->path, line, ppath, strerror(errno));
		free(ppath);
		return r;
	}
	for (const struct keel_vmdk *l = disk; l; l = l->child) {
		if (l->dev == st.st_dev && l->ino == st.st_ino) {
			r = vmdk_err(err, errlen, -ELOOP,
				     "%s: descriptor line %u: parentFileNameHint: parent %s is "
				     "already in the chain (%s): a loop",
				     disk->path, line, ppath, l->path);
			free(ppath);
			return r;
		}
	}
	r = vmdk_open_layer(ppath, false, disk->depth + 1, disk, &disk->parent, err, errlen);
	free(ppath);
	if (r)
		return r;
	if (disk->parent->desc.cid != disk->desc.parent_cid)
		return vmdk_err(err, errlen, -ESTALE,
				"%s: parentCID: %08x, but the parent %s has CID %08x: the parent "
				"changed after this delta was made",
				disk->path, disk->desc.parent_cid, disk->parent->path,
				disk->parent->desc.cid);
	if (disk->parent->size != disk->size)
		return vmdk_err(err, errlen, -EINVAL,
				"%s: extent size: the delta is %" PRIu64
				" bytes, its parent %s %" PRIu64,
				disk->path, disk->size, disk->parent->path, disk->parent->size);
	return 0;
}

int vmdk_open_layer(const char *path, bool writable, unsigned int depth,
		    const struct keel_vmdk *child, struct keel_vmdk **ret, char *err, size_t errlen)
{
	struct keel_vmdk *disk;
	char *text = NULL;
	uint64_t start = 0;
	int fd, r;

	*ret = NULL;
	disk = calloc(1, sizeof(*disk));
	if (!disk)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
	pthread_mutex_init(&disk->lock, NULL);
	disk->writable = writable;
	disk->depth = depth;
	disk->child = child;
	disk->path = strdup(path);
	disk->dir = vmdk_dirname(path);
	if (!disk->path || !disk->dir) {
		r = vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		r = vmdk_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	r = read_descriptor(disk, fd, &text, err, errlen);
	if (r)
		goto fail;
	r = vmdk_desc_parse(text, strlen(text), path, &disk->desc, err, errlen);
	free(text);
	/* text that does not parse, then more bytes after a NUL: a binary file */
	if (r && disk->desc_tail && !disk->desc_sparse)
		r = vmdk_err(err, errlen, -EINVAL,
			     "%s: offset 0: magic: neither a sparse extent (KDMV) nor a text "
			     "descriptor",
			     path);
	if (r)
		goto fail;
	if (writable && !vmdk_desc_get(&disk->desc, "CID") &&
	    vmdk_desc_set(&disk->desc, "CID", "ffffffff", false)) {
		r = vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	if (writable && disk->desc.type == KEEL_VMDK_STREAM_OPTIMIZED) {
		r = vmdk_err(err, errlen, -EROFS,
			     "%s: createType: streamOptimized disks are read only in keel: open "
			     "with KEEL_VMDK_RDONLY (or convert the disk)",
			     path);
		goto fail;
	}
	disk->ext = calloc(disk->desc.next, sizeof(*disk->ext));
	if (!disk->ext) {
		r = vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	for (size_t i = 0; i < disk->desc.next; i++)
		disk->ext[i].fd = -1;
	disk->next = disk->desc.next;
	for (size_t i = 0; i < disk->next; i++) {
		r = open_extent(disk, i, start, err, errlen);
		if (r)
			goto fail;
		start += disk->ext[i].len;
	}
	disk->size = start;
	if (disk->desc.parent_cid != VMDK_CID_NONE) {
		r = open_parent(disk, err, errlen);
		if (r)
			goto fail;
	}
	disk->child = NULL;
	*ret = disk;
	return 0;
fail:
	keel_vmdk_close(disk);
	return r;
}

int keel_vmdk_open(const char *path, unsigned int flags, struct keel_vmdk **ret, char *err,
		   size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (flags & ~KEEL_VMDK_RDONLY)
		return vmdk_err(err, errlen, -EINVAL, "%s: unknown open flags 0x%x", path, flags);
	return vmdk_open_layer(path, !(flags & KEEL_VMDK_RDONLY), 0, NULL, ret, err, errlen);
}

uint64_t keel_vmdk_size(const struct keel_vmdk *disk)
{
	return disk->size;
}

uint32_t keel_vmdk_cid(const struct keel_vmdk *disk)
{
	return disk->desc.cid;
}

enum keel_vmdk_type keel_vmdk_type(const struct keel_vmdk *disk)
{
	return disk->desc.type;
}

const char *keel_vmdk_ddb(const struct keel_vmdk *disk, const char *key)
{
	return vmdk_desc_get(&disk->desc, key);
}

void keel_vmdk_last_error(struct keel_vmdk *disk, char *buf, size_t len)
{
	if (!len)
		return;
	pthread_mutex_lock(&disk->lock);
	snprintf(buf, len, "%s", disk->last_err);
	pthread_mutex_unlock(&disk->lock);
}

/* Rewrite the descriptor: in place inside the sparse extent that embeds it,
 * or through a temporary file renamed over the descriptor file, so that a
 * crash leaves the old or the new text, never a mix. */
int vmdk_write_descriptor(struct keel_vmdk *disk, char *err, size_t errlen)
{
	char *text = vmdk_desc_format(&disk->desc), *tmp = NULL;
	int fd = -1, r;

	if (!text)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", disk->path);
	if (disk->desc_sparse) {
		r = vmdk_sparse_write_descriptor(disk->desc_sparse, text, err, errlen);
		goto out;
	}
	if (asprintf(&tmp, "%s.keel-tmp", disk->path) < 0) {
		tmp = NULL;
		r = vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", disk->path);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = vmdk_err(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	r = vmdk_pwrite_full(fd, text, strlen(text), 0);
	if (!r && fsync(fd))
		r = -errno;
	if (!r && rename(tmp, disk->path))
		r = -errno;
	if (r) {
		unlink(tmp);
		vmdk_err(err, errlen, r, "%s: writing the descriptor: %s", disk->path,
			 strerror(-r));
	}
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(text);
	return r;
}

/* A new content ID: what VMware and QEMU do on the first write, so that a
 * delta made on the old content refuses to open on the new one. */
int vmdk_new_cid(uint32_t old, uint32_t *ret)
{
	uint32_t cid;

	do {
		if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
			return -errno;
	} while (cid == old || cid == VMDK_CID_NONE || cid == 0xfffffffeu);
	*ret = cid;
	return 0;
}
