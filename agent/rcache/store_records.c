// SPDX-License-Identifier: GPL-2.0-only
/*
 * The read cache store's files (store_int.h): the cache data, opened
 * O_DIRECT where the file system allows it, and the meta file of records
 * (a header, one 32-byte record per position), mapped shared so that it
 * outlives the process; the CRC32C that ties a record to its data; a
 * failing device and the pass-through that follows.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <isa-l/crc.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "rcache/store_int.h"

uint32_t keel_rcache_crc(uint64_t disk_id, uint64_t block, uint32_t cid, const void *data,
			 size_t len)
{
	struct {
		uint64_t d, b;
		uint32_t c;
	} __attribute__((packed)) k = { htole64(disk_id), htole64(block), htole32(cid) };
	uint32_t crc = crc32_iscsi((unsigned char *)&k, sizeof(k), 0xffffffffu);

	return crc32_iscsi((unsigned char *)data, (int)len, crc) ^ 0xffffffffu;
}

/* ---- the device ---- */

bool keel_rcache_passing_through(struct keel_rcache_store *s)
{
	uint64_t until = GET(s->pass_until_ns);

	return until && keel_rcache_now_ns() < until;
}

void keel_rcache_device_error(struct keel_rcache_store *s, const char *op, uint32_t pos, int err)
{
	uint64_t until = keel_rcache_now_ns() + (uint64_t)s->o.retry_ms * 1000000ull;
	bool was = keel_rcache_passing_through(s);

	ADD(s->st.device_errors, 1);
	__atomic_store_n(&s->pass_until_ns, until, __ATOMIC_RELAXED);
	if (!was)
		keel_rcache_event(s, "rcache.device_error",
				  json_pack("{s:s, s:s, s:I, s:s, s:I}", "op", op, "file", "cache",
					    "offset", (json_int_t)pos * s->bs, "error",
					    strerror(err), "passthrough_ms",
					    (json_int_t)s->o.retry_ms));
}

int keel_rcache_read_block(struct keel_rcache_store *s, uint32_t pos, void *buf)
{
	ssize_t n = pread(s->fd, buf, s->bs, (off_t)pos * s->bs);

	if (n == (ssize_t)s->bs)
		return 0;
	keel_rcache_device_error(s, "read", pos, n < 0 ? errno : EIO);
	return -EIO;
}

int keel_rcache_write_block(struct keel_rcache_store *s, uint32_t pos, const void *buf)
{
	ssize_t n = pwrite(s->fd, buf, s->bs, (off_t)pos * s->bs);

	if (n == (ssize_t)s->bs)
		return 0;
	keel_rcache_device_error(s, "write", pos, n < 0 ? errno : ENOSPC);
	return -EIO;
}

/* Free the record at @pos (its stripe held); the caller removes the key. */
void keel_rcache_rec_free_locked(struct keel_rcache_store *s, uint32_t pos)
{
	struct record *r = &s->rec[pos];

	if (r->state == REC_VALID) {
		struct disk *d = keel_rcache_disk_get(s, r->disk_id, false);

		if (d)
			ADD(d->count, -1);
		ADD(s->st.cached, -1);
	}
	__atomic_store_n(&r->state, REC_FREE, __ATOMIC_RELEASE);
}

/* ---- the files ---- */

int keel_rcache_open_meta(struct keel_rcache_store *s, bool *ret_fresh, char *err, size_t errlen)
{
	char path[4200];
	struct stat st;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/meta", s->dir);
	s->meta_len = HEADER_BYTES + (size_t)s->slots * sizeof(struct record);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fstat(fd, &st)) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	*ret_fresh = (size_t)st.st_size != s->meta_len;
	if (*ret_fresh && (ftruncate(fd, 0) || ftruncate(fd, (off_t)s->meta_len))) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot size to %zu bytes: %s", path, s->meta_len,
			 strerror(errno));
		goto out;
	}
	s->hdr = mmap(NULL, s->meta_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s->hdr == MAP_FAILED) {
		s->hdr = NULL;
		r = -errno;
		snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
		goto out;
	}
	s->rec = (struct record *)((char *)s->hdr + HEADER_BYTES);
	if (!*ret_fresh &&
	    (memcmp(s->hdr->magic, META_MAGIC, 8) || s->hdr->version != META_VERSION ||
	     s->hdr->block_size != s->bs || s->hdr->slots != s->slots)) {
		/* another geometry or not ours: start cold (the size matched by chance) */
		*ret_fresh = true;
		memset(s->hdr, 0, s->meta_len);
	}
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int keel_rcache_open_data(struct keel_rcache_store *s, char *err, size_t errlen)
{
	off_t len = (off_t)s->slots * s->bs;
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/cache", s->dir);
	s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_DIRECT, 0600);
	s->direct = s->fd >= 0;
	if (s->fd < 0 && errno == EINVAL) /* tmpfs and a few others */
		s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->fd < 0 || fstat(s->fd, &st)) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -errno;
	}
	if (st.st_size != len && ftruncate(s->fd, len)) {
		snprintf(err, errlen, "%s: cannot size to %lld bytes: %s", path, (long long)len,
			 strerror(errno));
		return -errno;
	}
	/* reserve the space now; a full device leaves a sparse file and the
	 * store passes through until writes succeed (store.h) */
	if (fallocate(s->fd, 0, 0, len) && errno != EOPNOTSUPP)
		keel_rcache_device_error(s, "fallocate", 0, errno);
	return 0;
}
