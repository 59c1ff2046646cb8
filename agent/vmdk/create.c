// SPDX-License-Identifier: GPL-2.0-only
/*
 * Creating VMDK disks: monolithicFlat (NAME.vmdk + NAME-flat.vmdk),
 * monolithicSparse (one file, descriptor inside), twoGbMaxExtentSparse and
 * twoGbMaxExtentFlat (NAME.vmdk + NAME-s001.vmdk... / NAME-f001.vmdk...,
 * extents of at most 2047 MiB), and sparse deltas on top of a parent.  Sparse
 * extents get the layout VMware and QEMU use: header, embedded descriptor,
 * redundant directory and tables, directory and tables (all tables
 * preallocated), data from the first grain boundary on.  No file that exists
 * is overwritten; on failure every file made is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmdk/vmdk_int.h"

#define GRAIN		   128 /* sectors: 64 KiB grains, as VMware and QEMU */
#define GTES		   512
#define EMBEDDED_DESC	   20		/* sectors kept for an embedded descriptor */
#define SPLIT_SECTORS	   4192256ULL	/* 2047 MiB: a twoGbMaxExtent extent */
#define MAX_SPARSE_SECTORS (1ULL << 32) /* 2 TiB: grain offsets are 32-bit sectors */

struct created {
	char *files[KEEL_VMDK_MAX_EXTENTS + 1];
	size_t n;
};

static int create_file(struct created *c, const char *path, int *ret_fd, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		return vmdk_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
	c->files[c->n] = strdup(path);
	if (!c->files[c->n]) {
		close(fd);
		unlink(path);
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	c->n++;
	*ret_fd = fd;
	return 0;
}

static void created_done(struct created *c, bool failed)
{
	for (size_t i = 0; i < c->n; i++) {
		if (failed)
			unlink(c->files[i]);
		free(c->files[i]);
	}
	c->n = 0;
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off, const char *path, char *err,
		     size_t errlen)
{
	int r = vmdk_pwrite_full(fd, buf, len, off);

	if (r)
		return vmdk_err(err, errlen, r, "%s: write at %" PRIu64 ": %s", path, off,
				strerror(-r));
	return 0;
}

/* a directory of @n tables of 4 sectors each, the first at @first */
static int write_directory(int fd, uint64_t at, uint64_t first, uint32_t n, const char *path,
			   char *err, size_t errlen)
{
	uint8_t *gd = calloc(n, 4);
	int r;

	if (!gd)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = (uint32_t)(first + (uint64_t)i * (GTES * 4 / VMDK_SECTOR));

		gd[4 * i] = (uint8_t)v;
		gd[4 * i + 1] = (uint8_t)(v >> 8);
		gd[4 * i + 2] = (uint8_t)(v >> 16);
		gd[4 * i + 3] = (uint8_t)(v >> 24);
	}
	r = write_all(fd, gd, (size_t)n * 4, at * VMDK_SECTOR, path, err, errlen);
	free(gd);
	return r;
}

/* A hosted sparse extent of @sectors, with @desc embedded when not NULL. */
static int create_sparse(struct created *c, const char *path, uint64_t sectors, const char *desc,
			 char *err, size_t errlen)
{
	uint32_t ngts = (uint32_t)((sectors + GRAIN * GTES - 1) / (GRAIN * GTES));
	uint64_t gd_sectors = ((uint64_t)ngts * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
	uint64_t gt_sectors = (uint64_t)ngts * (GTES * 4 / VMDK_SECTOR);
	struct vmdk_header h = {
		.magic = VMDK_MAGIC,
		.version = 1,
		.flags = VMDK_FLAG_NL_DETECT | VMDK_FLAG_RGD,
		.capacity = sectors,
		.grain = GRAIN,
		.gtes_per_gt = GTES,
		.nl = { '\n', ' ', '\r', '\n' },
	};
	uint8_t raw[512];
	int fd, r;

	if (sectors > MAX_SPARSE_SECTORS)
		return vmdk_err(err, errlen, -EFBIG,
				"%s: size: %" PRIu64
				" bytes is more than a sparse extent holds (2 TiB): "
				"use twoGbMaxExtentSparse",
				path, sectors * VMDK_SECTOR);
	if (desc) {
		h.desc_off = 1;
		h.desc_size = EMBEDDED_DESC;
		if (strlen(desc) >= EMBEDDED_DESC * VMDK_SECTOR)
			return vmdk_err(err, errlen, -ENAMETOOLONG,
					"%s: the descriptor (%zu bytes) does not fit in %d sectors",
					path, strlen(desc), EMBEDDED_DESC);
	}
	h.rgd_off = 1 + h.desc_size;
	h.gd_off = h.rgd_off + gd_sectors + gt_sectors;
	h.overhead = h.gd_off + gd_sectors + gt_sectors;
	h.overhead = (h.overhead + GRAIN - 1) / GRAIN * GRAIN;
	vmdk_header_encode(&h, raw);
	r = create_file(c, path, &fd, err, errlen);
	if (r)
		return r;
	if (ftruncate(fd, (off_t)(h.overhead * VMDK_SECTOR))) {
		r = vmdk_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	r = write_all(fd, raw, sizeof(raw), 0, path, err, errlen);
	if (!r && desc)
		r = write_all(fd, desc, strlen(desc), VMDK_SECTOR, path, err, errlen);
	if (!r)
		r = write_directory(fd, h.rgd_off, h.rgd_off + gd_sectors, ngts, path, err, errlen);
	if (!r)
		r = write_directory(fd, h.gd_off, h.gd_off + gd_sectors, ngts, path, err, errlen);
	if (!r && fsync(fd))
		r = vmdk_err(err, errlen, -errno, "%s: fsync: %s", path, strerror(errno));
out:
	close(fd);
	return r;
}

static int create_flat(struct created *c, const char *path, uint64_t sectors, char *err,
		       size_t errlen)
{
	int fd, r = create_file(c, path, &fd, err, errlen);

	if (r)
		return r;
	if (ftruncate(fd, (off_t)(sectors * VMDK_SECTOR)))
		r = vmdk_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
	close(fd);
	return r;
}

static int create_text(struct created *c, const char *path, const char *text, char *err,
		       size_t errlen)
{
	int fd, r = create_file(c, path, &fd, err, errlen);

	if (r)
		return r;
	r = write_all(fd, text, strlen(text), 0, path, err, errlen);
	if (!r && fsync(fd))
		r = vmdk_err(err, errlen, -errno, "%s: fsync: %s", path, strerror(errno));
	close(fd);
	return r;
}

/* The parentFileNameHint to store: the parent's name when it sits beside the
 * child, its absolute path otherwise. */
static char *parent_hint(const char *child, const char *parent)
{
	char *cdir = vmdk_dirname(child), *creal = NULL, *preal = NULL, *pdir = NULL, *hint = NULL;

	if (!cdir)
		return NULL;
	creal = realpath(cdir, NULL);
	preal = realpath(parent, NULL);
	if (creal && preal && (pdir = vmdk_dirname(preal))) {
		if (!strcmp(creal, pdir))
			hint = strdup(strrchr(preal, '/') + 1);
		else
			hint = strdup(preal);
	}
	free(cdir);
	free(creal);
	free(preal);
	free(pdir);
	return hint;
}

static int base_desc(struct vmdk_desc *d, enum keel_vmdk_type type, uint64_t sectors,
		     uint32_t parent_cid, const char *hint)
{
	char cid[16], cyl[32];
	uint32_t id;
	uint64_t c = sectors / (16 * 63);
	int r;

	r = vmdk_new_cid(0, &id);
	if (r)
		return r;
	snprintf(cid, sizeof(cid), "%08x", id);
	snprintf(cyl, sizeof(cyl), "%" PRIu64, c > 16383 ? 16383 : c ? c : 1);
	r = vmdk_desc_set(d, "version", "1", false);
	r = r ?: vmdk_desc_set(d, "CID", cid, false);
	snprintf(cid, sizeof(cid), "%08x", parent_cid);
	r = r ?: vmdk_desc_set(d, "parentCID", cid, false);
	r = r ?: vmdk_desc_set(d, "createType", keel_vmdk_type_name(type), true);
	if (hint)
		r = r ?: vmdk_desc_set(d, "parentFileNameHint", hint, true);
	r = r ?: vmdk_desc_set(d, "ddb.virtualHWVersion", "4", true);
	r = r ?: vmdk_desc_set(d, "ddb.geometry.cylinders", cyl, true);
	r = r ?: vmdk_desc_set(d, "ddb.geometry.heads", "16", true);
	r = r ?: vmdk_desc_set(d, "ddb.geometry.sectors", "63", true);
	r = r ?: vmdk_desc_set(d, "ddb.adapterType", "ide", true);
	return r;
}

/* NAME of NAME.vmdk, with its directory */
static char *stem(const char *path)
{
	size_t n = strlen(path);

	if (n > 5 && !strcmp(path + n - 5, ".vmdk"))
		n -= 5;
	return strndup(path, n);
}

static int build(const char *path, enum keel_vmdk_type type, uint64_t sectors, uint32_t pcid,
		 const char *hint, struct created *c, char *err, size_t errlen)
{
	struct vmdk_desc d = { 0 };
	char *base = stem(path), *text = NULL, *file = NULL;
	const char *name;
	bool split = type == KEEL_VMDK_TWOGB_SPARSE || type == KEEL_VMDK_TWOGB_FLAT;
	bool sparse = type == KEEL_VMDK_MONOLITHIC_SPARSE || type == KEEL_VMDK_TWOGB_SPARSE;
	uint64_t n = split ? (sectors + SPLIT_SECTORS - 1) / SPLIT_SECTORS : 1;
	int r;

	if (!base)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
	name = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
	if (n > KEEL_VMDK_MAX_EXTENTS) {
		r = vmdk_err(err, errlen, -EFBIG,
			     "%s: size: %" PRIu64 " bytes needs %" PRIu64 " extents of 2047 MiB, "
			     "more than keel's limit of %d",
			     path, sectors * VMDK_SECTOR, n, KEEL_VMDK_MAX_EXTENTS);
		goto out;
	}
	r = base_desc(&d, type, sectors, pcid, hint);
	for (uint64_t i = 0; i < n && !r; i++) {
		uint64_t len = split && i == n - 1 ? sectors - i * SPLIT_SECTORS :
			       split		   ? SPLIT_SECTORS :
						     sectors;
		char ename[NAME_MAX + 1];
		int nlen;

		if (type == KEEL_VMDK_MONOLITHIC_SPARSE)
			nlen = snprintf(ename, sizeof(ename), "%s",
					strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
		else if (type == KEEL_VMDK_MONOLITHIC_FLAT)
			nlen = snprintf(ename, sizeof(ename), "%s-flat.vmdk", name);
		else
			nlen = snprintf(ename, sizeof(ename), "%s-%c%03" PRIu64 ".vmdk", name,
					sparse ? 's' : 'f', i + 1);
		if (nlen < 0 || (size_t)nlen >= sizeof(ename)) {
			r = vmdk_err(err, errlen, -ENAMETOOLONG,
				     "%s: the extent file names would be longer than %d bytes",
				     path, NAME_MAX);
			goto out;
		}
		r = vmdk_desc_add_extent(&d, VMDK_RW, len, sparse ? VMDK_EXT_SPARSE : VMDK_EXT_FLAT,
					 ename, 0);
	}
	if (r) {
		vmdk_err(err, errlen, r, "%s: building the descriptor: %s", path, strerror(-r));
		goto out;
	}
	text = vmdk_desc_format(&d);
	if (!text) {
		r = vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if (type == KEEL_VMDK_MONOLITHIC_SPARSE) {
		r = create_sparse(c, path, sectors, text, err, errlen);
		goto out;
	}
	r = create_text(c, path, text, err, errlen);
	for (size_t i = 0; i < d.next && !r; i++) {
		free(file);
		/* extent files sit beside the descriptor */
		if (asprintf(&file, "%.*s%s", (int)(name - base), base, d.ext[i].file) < 0) {
			file = NULL;
			r = vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
			break;
		}
		r = sparse ? create_sparse(c, file, d.ext[i].sectors, NULL, err, errlen) :
			     create_flat(c, file, d.ext[i].sectors, err, errlen);
	}
out:
	free(file);
	free(text);
	free(base);
	vmdk_desc_free(&d);
	return r;
}

int keel_vmdk_create(const char *path, const struct keel_vmdk_create_opts *opts, char *err,
		     size_t errlen)
{
	struct created c = { .n = 0 };
	struct keel_vmdk *parent = NULL;
	enum keel_vmdk_type type = opts->type;
	uint64_t size = opts->size;
	uint32_t pcid = VMDK_CID_NONE;
	char *hint = NULL;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if ((unsigned int)type > KEEL_VMDK_STREAM_OPTIMIZED)
		return vmdk_err(err, errlen, -EINVAL, "%s: type: %d is not a createType", path,
				type);
	if (type == KEEL_VMDK_STREAM_OPTIMIZED)
		return vmdk_err(
			err, errlen, -ENOTSUP,
			"%s: type: keel reads streamOptimized disks but does not create them "
			"(qemu-img convert -o subformat=streamOptimized does)",
			path);
	if (opts->parent) {
		if (type == KEEL_VMDK_MONOLITHIC_FLAT || type == KEEL_VMDK_TWOGB_FLAT)
			return vmdk_err(err, errlen, -EINVAL,
					"%s: type: a delta disk is sparse (monolithicSparse or "
					"twoGbMaxExtentSparse), not %s",
					path, keel_vmdk_type_name(type));
		r = keel_vmdk_open(opts->parent, KEEL_VMDK_RDONLY, &parent, err, errlen);
		if (r)
			return r;
		size = keel_vmdk_size(parent);
		pcid = keel_vmdk_cid(parent);
		keel_vmdk_close(parent);
		hint = parent_hint(path, opts->parent);
		if (!hint)
			return vmdk_err(err, errlen, -ENOMEM, "%s: parent %s: cannot name it: %s",
					path, opts->parent, strerror(errno));
	} else if (!size || size % VMDK_SECTOR || size > KEEL_VMDK_MAX_SIZE) {
		return vmdk_err(err, errlen, -EINVAL,
				"%s: size: %" PRIu64
				" bytes is not a positive multiple of 512 up to "
				"keel's limit of %llu",
				path, size, KEEL_VMDK_MAX_SIZE);
	}
	r = build(path, type, size / VMDK_SECTOR, pcid, hint, &c, err, errlen);
	created_done(&c, r != 0);
	free(hint);
	return r;
}
