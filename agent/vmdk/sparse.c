// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hosted sparse extents: a 512-byte header, an optional embedded descriptor,
 * a grain directory (and a redundant copy) of 32-bit sector offsets of grain
 * tables, grain tables of 32-bit sector offsets of grains.  An entry of 0 is
 * a grain this extent does not hold.  Grains written for the first time are
 * appended to the file in a crash-safe order: the grain's data, then its
 * grain table entry (both tables), then (for a new table) the directory, so
 * a crash at any point leaves either the old mapping or a complete new one.
 * streamOptimized extents keep compressed grains behind markers and may put
 * the real header in a footer at the end of the file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "vmdk/vmdk_int.h"

#define GT_CACHE_MAX 8192	/* grain tables kept in memory per extent (16 MiB at 512 entries) */
#define MAX_GTS	     (1U << 22) /* grain directory entries: 16 MiB of directory */
#define MAX_GRAIN    2048	/* sectors: 1 MiB grains at most */
#define MAX_GTES     512

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

void vmdk_header_decode(const uint8_t *raw, struct vmdk_header *h)
{
	h->magic = le32(raw);
	h->version = le32(raw + 4);
	h->flags = le32(raw + 8);
	h->capacity = le64(raw + 12);
	h->grain = le64(raw + 20);
	h->desc_off = le64(raw + 28);
	h->desc_size = le64(raw + 36);
	h->gtes_per_gt = le32(raw + 44);
	h->rgd_off = le64(raw + 48);
	h->gd_off = le64(raw + 56);
	h->overhead = le64(raw + 64);
	h->unclean = raw[72];
	memcpy(h->nl, raw + 73, 4);
	h->compress = (uint16_t)(raw[77] | raw[78] << 8);
}

void vmdk_header_encode(const struct vmdk_header *h, uint8_t *raw)
{
	memset(raw, 0, 512);
	put32(raw, h->magic);
	put32(raw + 4, h->version);
	put32(raw + 8, h->flags);
	put64(raw + 12, h->capacity);
	put64(raw + 20, h->grain);
	put64(raw + 28, h->desc_off);
	put64(raw + 36, h->desc_size);
	put32(raw + 44, h->gtes_per_gt);
	put64(raw + 48, h->rgd_off);
	put64(raw + 56, h->gd_off);
	put64(raw + 64, h->overhead);
	raw[72] = h->unclean;
	memcpy(raw + 73, h->nl, 4);
	raw[77] = (uint8_t)h->compress;
	raw[78] = (uint8_t)(h->compress >> 8);
}

uint64_t vmdk_sparse_grain_bytes(const struct vmdk_sparse *s)
{
	return s->h.grain * VMDK_SECTOR;
}

void vmdk_sparse_close(struct vmdk_sparse *s)
{
	if (!s)
		return;
	if (s->gts)
		for (uint32_t i = 0; i < s->ngts; i++)
			free(s->gts[i]);
	free(s->gts);
	free(s->zcache);
	free(s->gd);
	free(s->rgd);
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->alloc_lock);
	free(s);
}

/* streamOptimized: gdOffset GD_AT_END means "see the footer": a copy of the
 * header 1024 bytes before the end, after a footer marker, before the
 * end-of-stream marker. */
static int read_footer(struct vmdk_sparse *s, uint64_t size, char *err, size_t errlen)
{
	uint8_t raw[512];
	struct vmdk_header f;
	uint64_t at;
	ssize_t n;

	if (size < 3 * 512)
		return vmdk_err(
			err, errlen, -EINVAL,
			"%s: offset 56: gdOffset: at the end (streamOptimized), but the file "
			"is only %" PRIu64 " bytes, too short for a footer",
			s->path, size);
	at = (size & ~(VMDK_SECTOR - 1)) - 1024;
	n = vmdk_pread_full(s->fd, raw, sizeof(raw), at);
	if (n != sizeof(raw))
		return vmdk_err(err, errlen, n < 0 ? (int)n : -EIO,
				"%s: offset %" PRIu64 ": footer: cannot be read", s->path, at);
	vmdk_header_decode(raw, &f);
	if (f.magic != VMDK_MAGIC || f.gd_off == VMDK_GD_AT_END)
		return vmdk_err(err, errlen, -EINVAL,
				"%s: offset %" PRIu64 ": footer: no sparse header with a grain "
				"directory offset there (magic %08x)",
				s->path, at, f.magic);
	s->h = f;
	return 0;
}

static int check_header(struct vmdk_sparse *s, uint64_t size, char *err, size_t errlen)
{
	const struct vmdk_header *h = &s->h;
	uint64_t per_gt, ngts;

	if (h->version < 1 || h->version > 3)
		return vmdk_err(err, errlen, -ENOTSUP, "%s: offset 4: version: %u is not 1, 2 or 3",
				s->path, h->version);
	if (!h->grain || h->grain > MAX_GRAIN || (h->grain & (h->grain - 1)))
		return vmdk_err(err, errlen, -EINVAL,
				"%s: offset 20: grainSize: %" PRIu64
				" sectors is not a power of two "
				"up to %d",
				s->path, h->grain, MAX_GRAIN);
	if (!h->gtes_per_gt || h->gtes_per_gt > MAX_GTES)
		return vmdk_err(err, errlen, -EINVAL,
				"%s: offset 44: numGTEsPerGT: %u is not between 1 and %d", s->path,
				h->gtes_per_gt, MAX_GTES);
	if (!h->capacity || h->capacity > KEEL_VMDK_MAX_SIZE / VMDK_SECTOR)
		return vmdk_err(err, errlen, -EFBIG,
				"%s: offset 12: capacity: %" PRIu64
				" sectors is 0 or more than keel's "
				"limit of %llu bytes",
				s->path, h->capacity, KEEL_VMDK_MAX_SIZE);
	per_gt = h->grain * h->gtes_per_gt;
	ngts = (h->capacity + per_gt - 1) / per_gt;
	if (ngts > MAX_GTS)
		return vmdk_err(err, errlen, -EFBIG,
				"%s: offset 12: capacity: %" PRIu64 " sectors in grains of %" PRIu64
				" need %" PRIu64 " grain tables, more than keel's limit of %u",
				s->path, h->capacity, h->grain, ngts, MAX_GTS);
	s->ngts = (uint32_t)ngts;
	if (h->desc_off &&
	    (h->desc_size > KEEL_VMDK_MAX_DESCRIPTOR / VMDK_SECTOR ||
	     h->desc_off > size / VMDK_SECTOR || h->desc_off + h->desc_size > size / VMDK_SECTOR))
		return vmdk_err(
			err, errlen, -EINVAL,
			"%s: offset 36: descriptorSize: %" PRIu64 " sectors at sector %" PRIu64
			" go past the end of the file (%" PRIu64 " bytes) or the %u-byte limit",
			s->path, h->desc_size, h->desc_off, size, KEEL_VMDK_MAX_DESCRIPTOR);
	if ((h->flags & VMDK_FLAG_COMPRESSED) && h->compress != VMDK_COMPRESS_DEFLATE)
		return vmdk_err(err, errlen, -ENOTSUP,
				"%s: offset 77: compressAlgorithm: %u is not deflate (1)", s->path,
				h->compress);
	return 0;
}

/* Read a directory of @s->ngts entries at sector @off, each 0 or a grain
 * table inside the file. */
static int read_directory(struct vmdk_sparse *s, uint64_t off, const char *field,
			  unsigned int field_at, uint32_t **ret, char *err, size_t errlen)
{
	uint64_t bytes = (uint64_t)s->ngts * 4, gt_bytes = (uint64_t)s->h.gtes_per_gt * 4;
	uint32_t *gd;
	ssize_t n;

	if (!off || off > s->file_end / VMDK_SECTOR || off * VMDK_SECTOR + bytes > s->file_end)
		return vmdk_err(err, errlen, -EINVAL,
				"%s: offset %u: %s: sector %" PRIu64
				" with %u entries is not inside "
				"the file (%" PRIu64 " bytes)",
				s->path, field_at, field, off, s->ngts, s->file_end);
	gd = malloc(bytes);
	if (!gd)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", s->path);
	n = vmdk_pread_full(s->fd, gd, bytes, off * VMDK_SECTOR);
	if (n != (ssize_t)bytes) {
		free(gd);
		return vmdk_err(err, errlen, n < 0 ? (int)n : -EIO,
				"%s: offset %" PRIu64 ": %s: "
				"cannot be read",
				s->path, off * VMDK_SECTOR, field);
	}
	for (uint32_t i = 0; i < s->ngts; i++) {
		uint64_t e = le32((uint8_t *)&gd[i]);

		gd[i] = (uint32_t)e;
		if (e &&
		    (e * VMDK_SECTOR < VMDK_SECTOR || e * VMDK_SECTOR + gt_bytes > s->file_end)) {
			free(gd);
			return vmdk_err(err, errlen, -EINVAL,
					"%s: offset %" PRIu64
					": %s entry %u: grain table at sector %" PRIu64
					" is past the end of the file (%" PRIu64 " bytes)",
					s->path, off * VMDK_SECTOR + (uint64_t)i * 4, field, i, e,
					s->file_end);
		}
	}
	*ret = gd;
	return 0;
}

static int load_gt(struct vmdk_sparse *s, uint32_t t, char *err, size_t errlen);
static int check_entry(struct vmdk_sparse *s, uint32_t t, uint32_t i, uint64_t e, char *err,
		       size_t errlen);

int vmdk_sparse_open(const char *path, int fd, bool writable, struct vmdk_sparse **ret, char *err,
		     size_t errlen)
{
	struct vmdk_sparse *s;
	uint8_t raw[512];
	struct stat st;
	ssize_t n;
	int r;

	*ret = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->alloc_lock, NULL);
	s->zcache_grain = UINT64_MAX;
	s->fd = fd;
	s->path = path;
	if (fstat(fd, &st)) {
		r = vmdk_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	s->file_end = (uint64_t)st.st_size;
	n = vmdk_pread_full(fd, raw, sizeof(raw), 0);
	if (n != sizeof(raw)) {
		r = vmdk_err(err, errlen, n < 0 ? (int)n : -EINVAL,
			     "%s: offset 0: header: the file is %" PRIu64 " bytes, a sparse header "
			     "needs 512",
			     path, s->file_end);
		goto fail;
	}
	vmdk_header_decode(raw, &s->h);
	if (s->h.magic != VMDK_MAGIC) {
		r = vmdk_err(err, errlen, -EINVAL, "%s: offset 0: magic: %08x is not KDMV (%08x)",
			     path, s->h.magic, VMDK_MAGIC);
		goto fail;
	}
	if (s->h.gd_off == VMDK_GD_AT_END) {
		uint64_t desc_off = s->h.desc_off, desc_size = s->h.desc_size;

		r = read_footer(s, s->file_end, err, errlen);
		if (r)
			goto fail;
		/* the footer may leave the descriptor out: the header's is the one */
		if (!s->h.desc_off) {
			s->h.desc_off = desc_off;
			s->h.desc_size = desc_size;
		}
	}
	r = check_header(s, s->file_end, err, errlen);
	if (r)
		goto fail;
	s->compressed = s->h.flags & VMDK_FLAG_COMPRESSED;
	s->zero_grain = s->h.flags & VMDK_FLAG_ZERO_GRAIN;
	s->writable = writable && !s->compressed;
	r = read_directory(s, s->h.gd_off, "gdOffset", 56, &s->gd, err, errlen);
	if (r)
		goto fail;
	if ((s->h.flags & VMDK_FLAG_RGD) && s->h.rgd_off) {
		r = read_directory(s, s->h.rgd_off, "rgdOffset", 48, &s->rgd, err, errlen);
		if (r)
			goto fail;
	}
	s->gts = calloc(s->ngts, sizeof(*s->gts));
	if (!s->gts) {
		r = vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	/* a disk keel may write gets every table checked now, so that no write
	 * (not even the new CID) lands on a disk with a bad table somewhere */
	for (uint32_t t = 0; s->writable && t < s->ngts; t++) {
		if (!s->gd[t])
			continue;
		r = s->gts[t] ? 0 : load_gt(s, t, err, errlen);
		for (uint32_t i = 0; !r && i < s->h.gtes_per_gt; i++)
			r = check_entry(s, t, i, s->gts[t][i], err, errlen);
		if (r)
			goto fail;
	}
	/* new grains go at the end, sector-aligned */
	s->file_end = (s->file_end + VMDK_SECTOR - 1) & ~(VMDK_SECTOR - 1);
	*ret = s;
	return 0;
fail:
	vmdk_sparse_close(s);
	return r;
}

int vmdk_sparse_descriptor(struct vmdk_sparse *s, char **ret, char *err, size_t errlen)
{
	size_t bytes = (size_t)(s->h.desc_size * VMDK_SECTOR);
	char *text;
	ssize_t n;

	*ret = NULL;
	if (!s->h.desc_off || !s->h.desc_size)
		return 0;
	text = malloc(bytes + 1);
	if (!text)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", s->path);
	n = vmdk_pread_full(s->fd, text, bytes, s->h.desc_off * VMDK_SECTOR);
	if (n < 0) {
		free(text);
		return vmdk_err(err, errlen, (int)n, "%s: offset %" PRIu64 ": descriptor: %s",
				s->path, s->h.desc_off * VMDK_SECTOR, strerror((int)-n));
	}
	text[n] = '\0';
	*ret = text;
	return 0;
}

int vmdk_sparse_write_descriptor(struct vmdk_sparse *s, const char *text, char *err, size_t errlen)
{
	size_t bytes = (size_t)(s->h.desc_size * VMDK_SECTOR), len = strlen(text);
	char *buf;
	int r;

	if (!s->h.desc_off || len >= bytes)
		return vmdk_err(
			err, errlen, -ENOSPC,
			"%s: offset 36: descriptorSize: the new descriptor (%zu bytes) does "
			"not fit in %zu",
			s->path, len, bytes);
	buf = calloc(1, bytes);
	if (!buf)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", s->path);
	memcpy(buf, text, len);
	r = vmdk_pwrite_full(s->fd, buf, bytes, s->h.desc_off * VMDK_SECTOR);
	free(buf);
	/* durable before the data it announces changes (the new CID) */
	if (!r && fdatasync(s->fd))
		r = -errno;
	if (r)
		return vmdk_err(err, errlen, r, "%s: writing the descriptor: %s", s->path,
				strerror(-r));
	return 0;
}

/* Entry @i of grain table @t must be 0, 1 (a zeroed grain; read as zeros
 * with or without the header's flag), or a grain starting inside the file
 * past the metadata. */
static int check_entry(struct vmdk_sparse *s, uint32_t t, uint32_t i, uint64_t e, char *err,
		       size_t errlen)
{
	if (!e || e == 1)
		return 0;
	/* writing such a grain would overwrite the header or the tables */
	if (!s->compressed && e < s->h.overhead)
		return vmdk_err(err, errlen, -EIO,
				"%s: offset %" PRIu64
				": grain table %u entry %u: grain at sector %" PRIu64
				" lies in the metadata (overHead %" PRIu64 " sectors)",
				s->path, (uint64_t)s->gd[t] * VMDK_SECTOR + (uint64_t)i * 4, t, i,
				e, s->h.overhead);
	if (e * VMDK_SECTOR < s->file_end)
		return 0;
	return vmdk_err(err, errlen, -EIO,
			"%s: offset %" PRIu64 ": grain table %u entry %u: grain at sector %" PRIu64
			" is past the end of the file (%" PRIu64 " bytes)",
			s->path, (uint64_t)s->gd[t] * VMDK_SECTOR + (uint64_t)i * 4, t, i, e,
			s->file_end);
}

/* Load grain table @t (lock held); entries are checked as they are used. */
static int load_gt(struct vmdk_sparse *s, uint32_t t, char *err, size_t errlen)
{
	size_t bytes = (size_t)s->h.gtes_per_gt * 4;
	uint64_t at = (uint64_t)s->gd[t] * VMDK_SECTOR;
	uint32_t *gt;
	ssize_t n;

	if (s->ncached >= GT_CACHE_MAX) {
		for (uint32_t i = 0; i < s->ngts; i++) {
			free(s->gts[i]);
			s->gts[i] = NULL;
		}
		s->ncached = 0;
	}
	gt = malloc(bytes);
	if (!gt)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", s->path);
	n = vmdk_pread_full(s->fd, gt, bytes, at);
	if (n != (ssize_t)bytes) {
		free(gt);
		return vmdk_err(err, errlen, n < 0 ? (int)n : -EIO,
				"%s: offset %" PRIu64 ": grain table %u: cannot be read", s->path,
				at, t);
	}
	for (uint32_t i = 0; i < s->h.gtes_per_gt; i++)
		gt[i] = le32((uint8_t *)&gt[i]);
	s->gts[t] = gt;
	s->ncached++;
	return 0;
}

static int lookup_locked(struct vmdk_sparse *s, uint64_t g, uint64_t *ret, char *err, size_t errlen)
{
	uint64_t t = g / s->h.gtes_per_gt;
	int r;

	if (t >= s->ngts)
		return vmdk_err(err, errlen, -EINVAL, "%s: grain %" PRIu64 " is past the capacity",
				s->path, g);
	if (!s->gd[t]) {
		*ret = VMDK_GRAIN_UNMAPPED;
		return 0;
	}
	if (!s->gts[t]) {
		r = load_gt(s, (uint32_t)t, err, errlen);
		if (r)
			return r;
	}
	*ret = s->gts[t][g % s->h.gtes_per_gt];
	return check_entry(s, (uint32_t)t, (uint32_t)(g % s->h.gtes_per_gt), *ret, err, errlen);
}

int vmdk_sparse_lookup(struct vmdk_sparse *s, uint64_t g, uint64_t *ret, char *err, size_t errlen)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = lookup_locked(s, g, ret, err, errlen);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* A compressed grain: [lba u64][size u32][zlib data] with markers, or the
 * zlib data alone. */
static int read_compressed(struct vmdk_sparse *s, uint64_t g, uint64_t sector, char *out, char *err,
			   size_t errlen)
{
	uint64_t gb = vmdk_sparse_grain_bytes(s), at = sector * VMDK_SECTOR, max = 2 * gb + 4096;
	uint8_t hdr[12];
	uLongf outlen = gb;
	uint64_t clen;
	uint8_t *in;
	ssize_t n;
	int zr;

	if (s->h.flags & VMDK_FLAG_MARKERS) {
		n = vmdk_pread_full(s->fd, hdr, sizeof(hdr), at);
		if (n != sizeof(hdr))
			return vmdk_err(err, errlen, -EIO,
					"%s: offset %" PRIu64 ": grain marker: "
					"truncated",
					s->path, at);
		clen = le32(hdr + 8);
		if (le64(hdr) != g * s->h.grain)
			return vmdk_err(err, errlen, -EIO,
					"%s: offset %" PRIu64 ": grain marker: lba %" PRIu64
					", the "
					"grain table says %" PRIu64,
					s->path, at, le64(hdr), g * s->h.grain);
		if (!clen || clen > max)
			return vmdk_err(err, errlen, -EIO,
					"%s: offset %" PRIu64 ": grain marker: size %" PRIu64
					" is 0 or "
					"larger than %" PRIu64,
					s->path, at + 8, clen, max);
		at += sizeof(hdr);
	} else {
		clen = s->file_end - at < max ? s->file_end - at : max;
	}
	in = malloc(clen);
	if (!in)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", s->path);
	n = vmdk_pread_full(s->fd, in, clen, at);
	if (n < 0 || ((s->h.flags & VMDK_FLAG_MARKERS) && (uint64_t)n != clen)) {
		free(in);
		return vmdk_err(err, errlen, -EIO,
				"%s: offset %" PRIu64 ": compressed grain: "
				"truncated",
				s->path, at);
	}
	zr = uncompress((Bytef *)out, &outlen, in, (uLong)n);
	free(in);
	if (zr != Z_OK && !(zr == Z_BUF_ERROR && outlen == gb))
		return vmdk_err(err, errlen, -EIO,
				"%s: offset %" PRIu64 ": compressed grain %" PRIu64
				": zlib error %d",
				s->path, at, g, zr);
	memset(out + outlen, 0, gb - outlen);
	return 0;
}

int vmdk_sparse_read_grain(struct vmdk_sparse *s, uint64_t g, uint64_t sector, void *buf,
			   size_t len, uint64_t in, char *err, size_t errlen)
{
	ssize_t n;
	char *grain;
	int r;

	if (s->compressed) {
		/* one inflated grain is kept: readers in small pieces inflate each once */
		pthread_mutex_lock(&s->lock);
		if (s->zcache && s->zcache_grain == g) {
			memcpy(buf, s->zcache + in, len);
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		pthread_mutex_unlock(&s->lock);
		grain = malloc(vmdk_sparse_grain_bytes(s));
		if (!grain)
			return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", s->path);
		r = read_compressed(s, g, sector, grain, err, errlen);
		if (r) {
			free(grain);
			return r;
		}
		memcpy(buf, grain + in, len);
		pthread_mutex_lock(&s->lock);
		free(s->zcache);
		s->zcache = grain;
		s->zcache_grain = g;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	n = vmdk_pread_full(s->fd, buf, len, sector * VMDK_SECTOR + in);
	if (n < 0)
		return vmdk_err(err, errlen, (int)n, "%s: read at %" PRIu64 ": %s", s->path,
				sector * VMDK_SECTOR + in, strerror((int)-n));
	/* a grain cut short by a crash (file shorter than the grain) reads as zeros */
	memset((char *)buf + n, 0, len - (size_t)n);
	return 0;
}

static int write_entry(struct vmdk_sparse *s, uint64_t table_sector, uint32_t idx, uint32_t v,
		       char *err, size_t errlen)
{
	uint8_t le[4];
	uint64_t at = table_sector * VMDK_SECTOR + (uint64_t)idx * 4;
	int r;

	put32(le, v);
	r = vmdk_pwrite_full(s->fd, le, sizeof(le), at);
	if (r)
		return vmdk_err(err, errlen, r, "%s: writing the table entry at %" PRIu64 ": %s",
				s->path, at, strerror(-r));
	return 0;
}

/* A new grain table at the end of the file holding one entry (lock held). */
static int new_table(struct vmdk_sparse *s, uint32_t idx, uint32_t grain_sector,
		     uint64_t *ret_sector, char *err, size_t errlen)
{
	size_t bytes = (size_t)s->h.gtes_per_gt * 4;
	uint64_t sector = s->file_end / VMDK_SECTOR;
	size_t padded = (bytes + VMDK_SECTOR - 1) & ~(VMDK_SECTOR - 1);
	uint8_t *gt = calloc(1, padded);
	int r;

	if (!gt)
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", s->path);
	put32(gt + (size_t)idx * 4, grain_sector);
	r = vmdk_pwrite_full(s->fd, gt, padded, s->file_end);
	free(gt);
	if (r)
		return vmdk_err(err, errlen, r, "%s: writing a grain table at %" PRIu64 ": %s",
				s->path, s->file_end, strerror(-r));
	s->file_end += padded;
	*ret_sector = sector;
	return 0;
}

/*
 * Fault injection for tests/unit/test_vmdk_crash.c: with KEEL_VMDK_CRASH_AT=N
 * in the environment the process ends (exit status 99, no cleanup, like a
 * kill) right after the Nth write of grain allocation, counted from 1 over
 * the process's life.  Read once; costs one comparison otherwise.
 */
static void crash_point(void)
{
	static int at = -2, done;
	const char *e;
	char *end;

	if (at == -2) {
		e = getenv("KEEL_VMDK_CRASH_AT");
		at = e ? (int)strtol(e, &end, 10) : -1;
		if (e && (*end || at <= 0))
			at = -1;
	}
	if (at > 0 && ++done == at)
		_exit(99);
}

/* The order of an allocation must hold on the disk, not only in the page
 * cache: without this, a power loss may keep a table entry and lose the
 * grain it points at (tests/unit/test_vmdk_powerloss.c). */
static int sync_step(struct vmdk_sparse *s, const char *after, char *err, size_t errlen)
{
	if (!fdatasync(s->fd))
		return 0;
	return vmdk_err(err, errlen, -errno, "%s: fdatasync after writing %s: %s", s->path, after,
			strerror(errno));
}

/* Step 2 for a grain whose table exists: its entry, in the redundant table
 * and then the primary one (lock held). */
static int map_in_table(struct vmdk_sparse *s, uint64_t t, uint32_t idx, uint32_t grain_sector,
			char *err, size_t errlen)
{
	int r;

	if (s->rgd && s->rgd[t]) {
		r = write_entry(s, s->rgd[t], idx, grain_sector, err, errlen);
		if (r)
			return r;
		crash_point();
	}
	r = write_entry(s, s->gd[t], idx, grain_sector, err, errlen);
	if (r)
		return r;
	crash_point();
	if (s->gts[t])
		s->gts[t][idx] = grain_sector;
	return 0;
}

/* Steps 2 and 3 for a grain whose table does not exist (images made
 * elsewhere): new tables holding its entry, made durable, then the
 * directory entries pointing at them.  @s->lock is held on entry and
 * return, and dropped around the fdatasync. */
static int map_in_new_table(struct vmdk_sparse *s, uint64_t t, uint32_t idx, uint32_t grain_sector,
			    char *err, size_t errlen)
{
	uint64_t gt_sec, rgt_sec = 0;
	int r;

	r = new_table(s, idx, grain_sector, &gt_sec, err, errlen);
	if (r)
		return r;
	crash_point();
	if (s->rgd) {
		r = new_table(s, idx, grain_sector, &rgt_sec, err, errlen);
		if (r)
			return r;
		crash_point();
	}
	pthread_mutex_unlock(&s->lock);
	r = sync_step(s, "new grain tables", err, errlen);
	pthread_mutex_lock(&s->lock);
	if (r)
		return r;
	if (s->rgd) {
		r = write_entry(s, s->h.rgd_off, (uint32_t)t, (uint32_t)rgt_sec, err, errlen);
		if (r)
			return r;
		crash_point();
		s->rgd[t] = (uint32_t)rgt_sec;
	}
	r = write_entry(s, s->h.gd_off, (uint32_t)t, (uint32_t)gt_sec, err, errlen);
	if (r)
		return r;
	crash_point();
	s->gd[t] = (uint32_t)gt_sec;
	return 0;
}

/*
 * Give grains @g, @g + 1, ... (at most @n) places at the end of the file,
 * holding @data (@n whole grains); *@ret_done says how many were allocated
 * (the leading ones still unmapped: a grain another thread allocated first
 * ends the run; -EEXIST when it is @g).  Allocations of one extent run one
 * at a time (alloc_lock); the grains' data is written and made durable with
 * one fdatasync for the whole run, without holding @s->lock, so reads of
 * other grains do not wait for the disk.
 */
int vmdk_sparse_alloc(struct vmdk_sparse *s, uint64_t g, uint64_t n, const void *data,
		      uint64_t *ret_done, char *err, size_t errlen)
{
	uint64_t gb = vmdk_sparse_grain_bytes(s), cur, at, m = 0;
	size_t gt_room = 2 * (((size_t)s->h.gtes_per_gt * 4 + 511) & ~(size_t)511);
	int r = 0;

	*ret_done = 0;
	if (!s->writable)
		return vmdk_err(err, errlen, -EROFS, "%s: not writable", s->path);
	pthread_mutex_lock(&s->alloc_lock);
	pthread_mutex_lock(&s->lock);
	while (!r && m < n) {
		r = lookup_locked(s, g + m, &cur, err, errlen);
		if (r || (cur != VMDK_GRAIN_UNMAPPED && cur != VMDK_GRAIN_ZERO))
			break;
		m++;
	}
	if (!r && !m)
		r = -EEXIST;
	/* room for the grains and, at worst, new tables for each */
	if (!r && (s->file_end + m * (gb + gt_room)) / VMDK_SECTOR > UINT32_MAX)
		r = vmdk_err(err, errlen, -ENOSPC,
			     "%s: full: grain offsets are 32-bit sectors (2 TiB per extent)",
			     s->path);
	/* only allocations move file_end, and they hold alloc_lock */
	at = s->file_end;
	pthread_mutex_unlock(&s->lock);
	if (r)
		goto out;
	/* 1: the grains' data, durable before anything points at them */
	r = vmdk_pwrite_full(s->fd, data, m * gb, at);
	if (r) {
		vmdk_err(err, errlen, r, "%s: writing %" PRIu64 " grains at %" PRIu64 ": %s",
			 s->path, m, at, strerror(-r));
		goto out;
	}
	r = sync_step(s, "new grains", err, errlen);
	if (r)
		goto out;
	pthread_mutex_lock(&s->lock);
	s->file_end = at + m * gb;
	crash_point();
	for (uint64_t i = 0; !r && i < m; i++) {
		uint64_t t = (g + i) / s->h.gtes_per_gt;
		uint32_t idx = (uint32_t)((g + i) % s->h.gtes_per_gt);
		uint32_t sector = (uint32_t)((at + i * gb) / VMDK_SECTOR);

		if (s->gd[t])
			r = map_in_table(s, t, idx, sector, err, errlen);
		else
			r = map_in_new_table(s, t, idx, sector, err, errlen);
		if (!r)
			*ret_done = i + 1;
	}
	pthread_mutex_unlock(&s->lock);
out:
	pthread_mutex_unlock(&s->alloc_lock);
	return r;
}
