// SPDX-License-Identifier: GPL-2.0-only
/*
 * integrity: a CRC32C per block of the disk, kept beside it in a checksum
 * file; a read whose data does not match its block's checksum fails with
 * EIO and a vdisk.integrity_mismatch event: corrupted data is never
 * returned.
 *
 *   [filter.integrity]
 *   file = disk.vmdk.crc32c  ; default: the disk's path + ".crc32c"
 *   block_size = 4096        ; a power of two, 512..1M; fixed at creation
 *
 * The checksum file: a 4 KiB header ("KEELCRC1", version, block size,
 * disk size), then per block two little-endian CRC32C slots (a, b).
 *   (0, 0)  unknown: never written through this filter; read unverified
 *   (x, x)  the block's data has checksum x
 *   (x, y)  a write of data y was under way: x or y is accepted
 *   (0, y)  the first write of the block was under way: unverified
 * A write sets (x, y), writes the data below, then sets (y, y), so a crash
 * (kill -9 of the disk server) at any point leaves a block that verifies.
 * The file is mapped; flush and FUA writes sync it.  A block whose
 * checksum is 0 is stored as unknown (one chance in 2^32).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keel/vfilter.h"

#define MAGIC		   "KEELCRC1"
#define HEADER		   4096
#define NSTRIPES	   1024 /* block locks, by block number */
#define MAX_EVENTS_PER_SEC 100	/* mismatch events; all are counted */

struct header {
	char magic[8];
	uint32_t version, block_size;
	uint64_t disk_size;
};

struct integrity {
	uint32_t bs;
	uint64_t nblocks, size;
	char file[PATH_MAX];
	int fd;
	unsigned char *map;
	size_t map_len;
	uint32_t *slot;			  /* 2 per block, after the header */
	uint32_t zero_crc, zero_crc_last; /* of a zero block, of the last one */
	pthread_mutex_t stripe[NSTRIPES];
	uint64_t verified, unverified, mismatches;
	pthread_mutex_t ev_lock;
	time_t ev_sec;
	unsigned int ev_count;
};

static uint32_t crc32c(const void *p, size_t len)
{
	return crc32_iscsi((unsigned char *)p, (int)len, 0xffffffffu) ^ 0xffffffffu;
}

static uint32_t blen(const struct integrity *g, uint64_t b)
{
	uint64_t left = g->size - b * g->bs;

	return left < g->bs ? (uint32_t)left : g->bs;
}

/* Lock the stripes of blocks [b0, b1] in ascending order (no deadlock). */
static void lock_range(struct integrity *g, uint64_t b0, uint64_t b1, bool lock)
{
	uint64_t n = b1 - b0 + 1;
	unsigned int s = b0 % NSTRIPES, e = b1 % NSTRIPES;
	unsigned int ranges[2][2];
	int nr = 0;

	if (n >= NSTRIPES) {
		ranges[nr][0] = 0, ranges[nr++][1] = NSTRIPES - 1;
	} else if (s <= e) {
		ranges[nr][0] = s, ranges[nr++][1] = e;
	} else {
		ranges[nr][0] = 0, ranges[nr++][1] = e;
		ranges[nr][0] = s, ranges[nr++][1] = NSTRIPES - 1;
	}
	for (int i = 0; i < nr; i++)
		for (unsigned int k = ranges[i][0]; k <= ranges[i][1]; k++) {
			if (lock)
				pthread_mutex_lock(&g->stripe[k]);
			else
				pthread_mutex_unlock(&g->stripe[k]);
		}
}

static uint32_t get_slot(struct integrity *g, uint64_t b, int i)
{
	return le32toh(__atomic_load_n(&g->slot[2 * b + i], __ATOMIC_RELAXED));
}

static void set_slots(struct integrity *g, uint64_t b, uint32_t a, uint32_t n)
{
	__atomic_store_n(&g->slot[2 * b], htole32(a), __ATOMIC_RELAXED);
	__atomic_store_n(&g->slot[2 * b + 1], htole32(n), __ATOMIC_RELAXED);
}

static void mismatch_event(struct keel_vfilter *f, struct integrity *g, uint64_t b, uint32_t want,
			   uint32_t got)
{
	time_t now = time(NULL);
	bool send;

	__atomic_fetch_add(&g->mismatches, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&g->ev_lock);
	if (now != g->ev_sec) {
		g->ev_sec = now;
		g->ev_count = 0;
	}
	send = g->ev_count++ < MAX_EVENTS_PER_SEC;
	pthread_mutex_unlock(&g->ev_lock);
	if (send) {
		char e[16], g2[16];

		snprintf(e, sizeof(e), "%08x", want);
		snprintf(g2, sizeof(g2), "%08x", got);
		keel_vfilter_event(f, "vdisk.integrity_mismatch",
				   json_pack("{s:I, s:i, s:I, s:s, s:s, s:s}", "offset",
					     (json_int_t)(b * g->bs), "length", (int)blen(g, b),
					     "block", (json_int_t)b, "expected_crc32c", e,
					     "found_crc32c", g2, "file", g->file));
	}
}

/* Does block @b hold @data?  Heals (x, y) to (y, y) once y is seen. */
static int verify(struct keel_vfilter *f, struct integrity *g, uint64_t b, const void *data)
{
	uint32_t a = get_slot(g, b, 0), n = get_slot(g, b, 1), crc;

	if (!a) {
		__atomic_fetch_add(&g->unverified, 1, __ATOMIC_RELAXED);
		return 0;
	}
	crc = crc32c(data, blen(g, b));
	if (crc == a || crc == n) {
		if (crc != a && g->map)
			set_slots(g, b, crc, crc);
		__atomic_fetch_add(&g->verified, 1, __ATOMIC_RELAXED);
		return 0;
	}
	mismatch_event(f, g, b, a, crc);
	return -EIO;
}

/* Read blocks [b0, b1] from below into @buf and check each.  Stripes locked. */
static int read_blocks(struct keel_vfilter *f, struct integrity *g, unsigned char *buf, uint64_t b0,
		       uint64_t b1)
{
	uint64_t off = b0 * g->bs, end = (b1 + 1) * g->bs;
	int r;

	if (end > g->size)
		end = g->size;
	r = keel_vfilter_pread(keel_vfilter_below(f), buf, end - off, off);
	for (uint64_t b = b0; !r && b <= b1; b++)
		r = verify(f, g, b, buf + (b - b0) * g->bs);
	return r;
}

static int integrity_pread(struct keel_vfilter *f, void *buf, size_t len, uint64_t off)
{
	struct integrity *g = keel_vfilter_priv(f);
	uint64_t b0 = off / g->bs, b1, head;
	unsigned char *tmp = NULL;
	int r;

	if (!len)
		return 0;
	b1 = (off + len - 1) / g->bs;
	head = off - b0 * g->bs;
	if (head || (len % g->bs && off + len != g->size)) {
		tmp = malloc((b1 - b0 + 1) * g->bs);
		if (!tmp)
			return -ENOMEM;
	}
	lock_range(g, b0, b1, true);
	r = read_blocks(f, g, tmp ? tmp : buf, b0, b1);
	lock_range(g, b0, b1, false);
	if (tmp) {
		if (!r)
			memcpy(buf, tmp + head, len);
		free(tmp);
	}
	return r;
}

static int sync_slots(struct integrity *g, uint64_t b0, uint64_t b1)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t s = (uintptr_t)&g->slot[2 * b0] & ~(page - 1);
	uintptr_t e = (uintptr_t)&g->slot[2 * b1 + 2];

	return msync((void *)s, e - s, MS_SYNC) ? -errno : 0;
}

static int integrity_pwrite(struct keel_vfilter *f, const void *buf, size_t len, uint64_t off,
			    unsigned int flags)
{
	struct integrity *g = keel_vfilter_priv(f);
	uint64_t b0 = off / g->bs, b1, head, tail_b;
	unsigned char *edge = NULL;
	uint32_t *crc;
	int r = 0;

	if (!len)
		return keel_vfilter_pwrite(keel_vfilter_below(f), buf, len, off, flags);
	b1 = (off + len - 1) / g->bs;
	head = off - b0 * g->bs;
	crc = malloc((b1 - b0 + 1) * sizeof(*crc));
	edge = malloc(2 * (size_t)g->bs);
	if (!crc || !edge) {
		free(crc);
		free(edge);
		return -ENOMEM;
	}
	lock_range(g, b0, b1, true);
	for (uint64_t b = b0; b <= b1 && !r; b++) {
		uint64_t bstart = b * g->bs, bl = blen(g, b);

		if (bstart >= off && bstart + bl <= off + len) {
			crc[b - b0] = crc32c((const unsigned char *)buf + (bstart - off), bl);
			continue;
		}
		/* a block the write covers in part: checksum the merged block,
		 * after checking what it holds now (never launder corruption) */
		r = read_blocks(f, g, edge, b, b);
		if (r)
			break;
		tail_b = bstart < off ? off - bstart : 0;
		memcpy(edge + tail_b, (const unsigned char *)buf + (bstart + tail_b - off),
		       (bstart + bl < off + len ? bstart + bl : off + len) - (bstart + tail_b));
		crc[b - b0] = crc32c(edge, bl);
	}
	if (!r) {
		for (uint64_t b = b0; b <= b1; b++)
			set_slots(g, b, get_slot(g, b, 0), crc[b - b0]);
		r = keel_vfilter_pwrite(keel_vfilter_below(f), buf, len, off, flags);
		if (!r)
			for (uint64_t b = b0; b <= b1; b++)
				set_slots(g, b, crc[b - b0], crc[b - b0]);
		if (!r && (flags & KEEL_VF_FUA))
			r = sync_slots(g, b0, b1);
	}
	lock_range(g, b0, b1, false);
	(void)head;
	free(crc);
	free(edge);
	return r;
}

static int integrity_flush(struct keel_vfilter *f)
{
	struct integrity *g = keel_vfilter_priv(f);
	int r = keel_vfilter_flush(keel_vfilter_below(f));

	if (!r && msync(g->map, g->map_len, MS_SYNC))
		r = -errno;
	return r;
}

static int integrity_discard(struct keel_vfilter *f, uint64_t off, uint64_t len, unsigned int flags)
{
	struct integrity *g = keel_vfilter_priv(f);
	uint64_t b0, b1;
	unsigned char *tmp = NULL;
	int r;

	if (!len)
		return keel_vfilter_discard(keel_vfilter_below(f), off, len, flags);
	b0 = off / g->bs;
	b1 = (off + len - 1) / g->bs;
	lock_range(g, b0, b1, true);
	/* unknown while the range changes: a crash here leaves it unverified */
	for (uint64_t b = b0; b <= b1; b++)
		set_slots(g, b, 0, 0);
	r = keel_vfilter_discard(keel_vfilter_below(f), off, len, flags);
	if (!r && (flags & KEEL_VF_ZERO)) {
		for (uint64_t b = b0; b <= b1 && !r; b++) {
			uint64_t bstart = b * g->bs, bl = blen(g, b);
			uint32_t c;

			if (bstart >= off && bstart + bl <= off + len) {
				c = bl == g->bs ? g->zero_crc : g->zero_crc_last;
			} else {
				/* zeroed in part: checksum what is there now */
				if (!tmp && !(tmp = malloc(g->bs))) {
					r = -ENOMEM;
					break;
				}
				r = keel_vfilter_pread(keel_vfilter_below(f), tmp, bl, bstart);
				c = crc32c(tmp, bl);
			}
			if (!r)
				set_slots(g, b, c, c);
		}
	}
	if (!r && (flags & KEEL_VF_FUA))
		r = sync_slots(g, b0, b1);
	lock_range(g, b0, b1, false);
	free(tmp);
	return r;
}

/* Read every block and check it: `keelctl vdisk check`. */
static json_t *check_all(struct keel_vfilter *f, struct integrity *g)
{
	uint64_t per = (1u << 20) / g->bs ? (1u << 20) / g->bs : 1;
	uint64_t v0 = g->verified, u0 = g->unverified, bad = 0;
	unsigned char *buf = malloc(per * g->bs);
	json_t *where = json_array();

	if (!buf)
		return NULL;
	for (uint64_t b0 = 0; b0 < g->nblocks; b0 += per) {
		uint64_t b1 = b0 + per - 1 < g->nblocks ? b0 + per - 1 : g->nblocks - 1;

		lock_range(g, b0, b1, true);
		if (keel_vfilter_pread(keel_vfilter_below(f), buf,
				       (b1 + 1) * g->bs > g->size ? g->size - b0 * g->bs :
								    (b1 - b0 + 1) * g->bs,
				       b0 * g->bs)) {
			bad++;
			json_array_append_new(where, json_pack("{s:I, s:s}", "offset",
							       (json_int_t)(b0 * g->bs), "error",
							       "read failed below"));
		} else {
			for (uint64_t b = b0; b <= b1; b++)
				if (verify(f, g, b, buf + (b - b0) * g->bs)) {
					bad++;
					if (json_array_size(where) < 100)
						json_array_append_new(
							where, json_pack("{s:I}", "offset",
									 (json_int_t)(b * g->bs)));
				}
		}
		lock_range(g, b0, b1, false);
	}
	free(buf);
	return json_pack("{s:I, s:I, s:I, s:I, s:o}", "blocks", (json_int_t)g->nblocks, "verified",
			 (json_int_t)(g->verified - v0), "unverified",
			 (json_int_t)(g->unverified - u0), "mismatched", (json_int_t)bad,
			 "mismatches", where);
}

static int integrity_control(struct keel_vfilter *f, const char *op, json_t *args, json_t **ret,
			     char *err, size_t errlen)
{
	struct integrity *g = keel_vfilter_priv(f);

	(void)args;
	if (!strcmp(op, "stats"))
		*ret = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "file", g->file, "block_size",
				 (int)g->bs, "blocks", (json_int_t)g->nblocks, "verified_reads",
				 (json_int_t)g->verified, "unverified_reads",
				 (json_int_t)g->unverified, "mismatches",
				 (json_int_t)g->mismatches);
	else if (!strcmp(op, "check"))
		*ret = check_all(f, g);
	else {
		snprintf(err, errlen,
			 "filter integrity has no operation \"%s\" (known: stats, check)", op);
		return -EOPNOTSUPP;
	}
	return *ret ? 0 : -ENOMEM;
}

static int create_file(struct integrity *g, const char *where, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 16];
	struct header h = { .version = 1, .block_size = g->bs, .disk_size = g->size };
	unsigned char page[HEADER] = { 0 };
	int fd, r = 0;

	memcpy(h.magic, MAGIC, 8);
	h.version = htole32(h.version);
	h.block_size = htole32(h.block_size);
	h.disk_size = htole64(h.disk_size);
	memcpy(page, &h, sizeof(h));
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", g->file, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || pwrite(fd, page, HEADER, 0) != HEADER ||
	    ftruncate(fd, HEADER + (off_t)g->nblocks * 8) || fsync(fd))
		r = -errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	if (!r && rename(tmp, g->file))
		r = -errno;
	if (r) {
		unlink(tmp);
		snprintf(err, errlen, "%s file: cannot create %s: %s", where, g->file,
			 strerror(-r));
	}
	return r;
}

static int open_file(struct integrity *g, bool rdonly, const char *where, char *err, size_t errlen)
{
	struct header h;
	struct stat st;
	int r;

	g->fd = open(g->file, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (g->fd < 0 && errno == ENOENT && !rdonly) {
		r = create_file(g, where, err, errlen);
		if (r)
			return r;
		g->fd = open(g->file, O_RDWR | O_CLOEXEC);
	}
	if (g->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s file: cannot open %s: %s", where, g->file,
			 strerror(errno));
		return r;
	}
	if (pread(g->fd, &h, sizeof(h), 0) != sizeof(h) || memcmp(h.magic, MAGIC, 8)) {
		snprintf(err, errlen, "%s: offset 0: magic is not \"%s\": not a keel checksum file",
			 g->file, MAGIC);
		return -EINVAL;
	}
	if (le32toh(h.version) != 1) {
		snprintf(err, errlen, "%s: offset 8: version %u is not 1", g->file,
			 le32toh(h.version));
		return -EINVAL;
	}
	if (le32toh(h.block_size) != g->bs) {
		snprintf(
			err, errlen,
			"%s: offset 12: block_size %u differs from %s block_size %u (a checksum file keeps the block size it was made with)",
			g->file, le32toh(h.block_size), where, g->bs);
		return -EINVAL;
	}
	if (le64toh(h.disk_size) != g->size) {
		snprintf(err, errlen, "%s: offset 16: disk_size %llu is not the disk's size %llu",
			 g->file, (unsigned long long)le64toh(h.disk_size),
			 (unsigned long long)g->size);
		return -EINVAL;
	}
	g->map_len = HEADER + g->nblocks * 8;
	if (fstat(g->fd, &st) || (uint64_t)st.st_size < g->map_len) {
		snprintf(err, errlen, "%s: %llu bytes, shorter than its %llu blocks need (%zu)",
			 g->file, (unsigned long long)st.st_size, (unsigned long long)g->nblocks,
			 g->map_len);
		return -EINVAL;
	}
	g->map = mmap(NULL, g->map_len, rdonly ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->fd, 0);
	if (g->map == MAP_FAILED) {
		g->map = NULL;
		r = -errno;
		snprintf(err, errlen, "%s: cannot map it: %s", g->file, strerror(errno));
		return r;
	}
	g->slot = (uint32_t *)(g->map + HEADER);
	return 0;
}

static int integrity_open(struct keel_vfilter *f, struct keel_vfilter_conf *c, char *err,
			  size_t errlen)
{
	struct integrity *g = calloc(1, sizeof(*g));
	char def[PATH_MAX];
	uint64_t bs;
	unsigned char *zero;
	int r, rdonly;

	if (!g)
		return -ENOMEM;
	g->fd = -1;
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_init(&g->stripe[i], NULL);
	pthread_mutex_init(&g->ev_lock, NULL);
	keel_vfilter_set_priv(f, g);
	r = keel_vfilter_conf_u64(c, "block_size", 4096, 512, 1 << 20, &bs, err, errlen);
	if (r)
		return r;
	if (bs & (bs - 1)) {
		snprintf(err, errlen, "%s block_size: %llu is not a power of two",
			 keel_vfilter_conf_where(c), (unsigned long long)bs);
		return -EINVAL;
	}
	snprintf(def, sizeof(def), "%s.crc32c", keel_vfilter_disk_path(f));
	r = keel_vfilter_conf_path(c, "file", def, g->file, sizeof(g->file), err, errlen);
	if (r)
		return r;
	g->bs = (uint32_t)bs;
	g->size = keel_vfilter_disk_size(f);
	g->nblocks = (g->size + bs - 1) / bs;
	zero = calloc(1, bs);
	if (!zero)
		return -ENOMEM;
	g->zero_crc = crc32c(zero, bs);
	g->zero_crc_last = g->nblocks ? crc32c(zero, blen(g, g->nblocks - 1)) : 0;
	free(zero);
	rdonly = keel_vfilter_disk_readonly(f);
	return open_file(g, rdonly, keel_vfilter_conf_where(c), err, errlen);
}

static void integrity_close(struct keel_vfilter *f)
{
	struct integrity *g = keel_vfilter_priv(f);

	if (!g)
		return;
	if (g->map) {
		msync(g->map, g->map_len, MS_SYNC);
		munmap(g->map, g->map_len);
	}
	if (g->fd >= 0)
		close(g->fd);
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_destroy(&g->stripe[i]);
	pthread_mutex_destroy(&g->ev_lock);
	free(g);
}

/* what integrity_open() reads (agent/vdisk/create_params.c checks a create against it) */
static const struct keel_vfilter_param integrity_params[] = {
	{ "block_size", KEEL_VF_PARAM_U64, 512, 1 << 20 },
	{ "file", KEEL_VF_PARAM_PATH, 0, 0 },
	{ NULL },
};

const struct keel_vfilter_ops keel_vfilter_integrity = {
	.name = "integrity",
	.summary = "CRC32C per block beside the disk; a mismatch is EIO and an event",
	.params = integrity_params,
	.open = integrity_open,
	.close = integrity_close,
	.pread = integrity_pread,
	.pwrite = integrity_pwrite,
	.flush = integrity_flush,
	.discard = integrity_discard,
	.control = integrity_control,
};
