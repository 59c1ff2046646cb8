// SPDX-License-Identifier: GPL-2.0-only
/*
 * The read cache's store (store.h): the cache file, the records that make
 * it survive a restart, and the three-queue index over both.
 *
 * The index (keel/cache.h) gives each cached key a slot that stays the
 * key's while it is cached; a slot's data and record live at a fixed
 * position of the files, loc[slot].  loc is the identity for a new store;
 * a warm start re-inserts every trusted record's key, which may land in
 * another slot, and points that slot at the record's position.
 *
 * Locks, in the order they nest: a disk's rwlock (admits share it,
 * invalidations and drops take it alone, so an admission never races an
 * invalidation of its disk), then one of STRIPES position mutexes (a
 * record and its data change together), then the disk table's mutex.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <isa-l/crc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keel/cache.h"
#include "rcache/evlimit.h"
#include "rcache/store.h"
#include "common/mix64.h"

#define META_MAGIC "KEELRC01"
#define META_VERSION 1
#define HEADER_BYTES 4096
#define STRIPES 1024

enum rec_state {
	REC_FREE = 0,
	REC_BUSY = 0x59535542,	/* "BUSY": data being written, not trusted */
	REC_VALID = 0x444c4156,	/* "VALD" */
};

struct record {			/* 32 bytes, little-endian on disk (x86 only today) */
	uint64_t disk_id;
	uint64_t block;
	uint32_t cid;
	uint32_t crc;		/* CRC32C of (disk_id, block, cid) then the data */
	uint32_t state;
	uint32_t pad;
};

struct header {
	char magic[8];
	uint32_t version, block_size;
	uint64_t slots;
	uint32_t clean, pad;
	char boot_id[40];
	uint64_t opens;
};

struct disk {
	uint64_t id;
	uint32_t cid;
	bool cid_known, used;
	uint64_t seq;		/* invalidations so far; under lock */
	uint64_t count;		/* valid records; atomic */
	uint64_t limit;		/* 0: the default share */
	uint64_t hits, misses, admitted, invalidated;	/* atomic */
	pthread_rwlock_t lock;
};

struct keel_rcache_store {
	struct keel_rcache_store_opts o;
	char dir[4096];
	int fd;			/* cache data */
	bool direct;
	struct header *hdr;	/* the meta file, mapped */
	struct record *rec;
	size_t meta_len;
	uint32_t slots, bs;
	uint32_t *loc;		/* index slot -> position */
	struct keel_cache *idx;
	pthread_mutex_t stripe[STRIPES];
	pthread_mutex_t dlock;	/* the disk table */
	struct disk *disks;
	uint32_t ndisk_slots, ndisks;
	uint64_t default_limit;
	uint64_t pass_until_ns;	/* atomic: pass through until then */
	struct keel_evlimit corrupt_events;
	struct keel_rcache_store_stats st;	/* counters updated atomically */
};

#define ADD(field, n) __atomic_add_fetch(&(field), (n), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The index key; a (rare) collision is caught by the record's full key. */
static uint64_t key_of(uint64_t disk_id, uint64_t block)
{
	return keel_mix64(disk_id ^ keel_mix64(block + 0x9e3779b97f4a7c15ull));
}

static uint32_t crc_of(uint64_t disk_id, uint64_t block, uint32_t cid, const void *data,
		       size_t len)
{
	struct {
		uint64_t d, b;
		uint32_t c;
	} __attribute__((packed)) k = { htole64(disk_id), htole64(block), htole32(cid) };
	uint32_t crc = crc32_iscsi((unsigned char *)&k, sizeof(k), 0xffffffffu);

	return crc32_iscsi((unsigned char *)data, (int)len, crc) ^ 0xffffffffu;
}

static void event(struct keel_rcache_store *s, const char *type, json_t *fields)
{
	if (s->o.event)
		s->o.event(s->o.event_ctx, type, fields);
	else
		json_decref(fields);
}

static pthread_mutex_t *stripe_of(struct keel_rcache_store *s, uint32_t pos)
{
	return &s->stripe[pos % STRIPES];
}

/* ---- disks ---- */

/* The disk's entry, made on first sight; NULL when the table is full. */
static struct disk *disk_get(struct keel_rcache_store *s, uint64_t id, bool create)
{
	uint32_t i = (uint32_t)keel_mix64(id) & (s->ndisk_slots - 1);
	struct disk *d = NULL;

	pthread_mutex_lock(&s->dlock);
	for (uint32_t n = 0; n < s->ndisk_slots; n++, i = (i + 1) & (s->ndisk_slots - 1)) {
		if (s->disks[i].used && s->disks[i].id == id) {
			d = &s->disks[i];
			break;
		}
		if (!s->disks[i].used) {
			if (!create || s->ndisks >= s->o.max_disks)
				break;
			d = &s->disks[i];
			d->used = true;
			d->id = id;
			s->ndisks++;
			break;
		}
	}
	pthread_mutex_unlock(&s->dlock);
	return d;
}

static uint64_t disk_limit(struct keel_rcache_store *s, struct disk *d)
{
	uint64_t l = GET(d->limit);

	return l ? l : s->default_limit;
}

/* ---- the device ---- */

static bool passing_through(struct keel_rcache_store *s)
{
	uint64_t until = GET(s->pass_until_ns);

	return until && now_ns() < until;
}

static void device_error(struct keel_rcache_store *s, const char *op, uint32_t pos, int err)
{
	uint64_t until = now_ns() + (uint64_t)s->o.retry_ms * 1000000ull;
	bool was = passing_through(s);

	ADD(s->st.device_errors, 1);
	__atomic_store_n(&s->pass_until_ns, until, __ATOMIC_RELAXED);
	if (!was)
		event(s, "rcache.device_error",
		      json_pack("{s:s, s:s, s:I, s:s, s:I}", "op", op, "file", "cache", "offset",
				(json_int_t)pos * s->bs, "error", strerror(err), "passthrough_ms",
				(json_int_t)s->o.retry_ms));
}

static int read_block(struct keel_rcache_store *s, uint32_t pos, void *buf)
{
	ssize_t n = pread(s->fd, buf, s->bs, (off_t)pos * s->bs);

	if (n == (ssize_t)s->bs)
		return 0;
	device_error(s, "read", pos, n < 0 ? errno : EIO);
	return -EIO;
}

static int write_block(struct keel_rcache_store *s, uint32_t pos, const void *buf)
{
	ssize_t n = pwrite(s->fd, buf, s->bs, (off_t)pos * s->bs);

	if (n == (ssize_t)s->bs)
		return 0;
	device_error(s, "write", pos, n < 0 ? errno : ENOSPC);
	return -EIO;
}

/* Free the record at @pos (its stripe held); the caller removes the key. */
static void rec_free_locked(struct keel_rcache_store *s, uint32_t pos)
{
	struct record *r = &s->rec[pos];

	if (r->state == REC_VALID) {
		struct disk *d = disk_get(s, r->disk_id, false);

		if (d)
			ADD(d->count, -1);
		ADD(s->st.cached, -1);
	}
	__atomic_store_n(&r->state, REC_FREE, __ATOMIC_RELEASE);
}

/* ---- lookup ---- */

/* Drop the disk's entries if it now has another CID (a new disk content). */
static void check_cid(struct keel_rcache_store *s, struct disk *d, uint32_t cid)
{
	bool changed;

	pthread_rwlock_rdlock(&d->lock);
	changed = !d->cid_known || d->cid != cid;
	pthread_rwlock_unlock(&d->lock);
	if (!changed)
		return;
	pthread_rwlock_wrlock(&d->lock);
	if (d->cid_known && d->cid != cid) {
		char why[64];
		int64_t n;

		pthread_rwlock_unlock(&d->lock);
		snprintf(why, sizeof(why), "CID %08x -> %08x", d->cid, cid);
		n = keel_rcache_store_drop(s, d->id, why);
		(void)n;
		pthread_rwlock_wrlock(&d->lock);
	}
	d->cid = cid;
	d->cid_known = true;
	pthread_rwlock_unlock(&d->lock);
}

/* One block: true and the data in @buf on a hit. */
static bool lookup_one(struct keel_rcache_store *s, struct disk *d, uint64_t block, uint32_t cid,
		       void *buf)
{
	uint64_t key = key_of(d->id, block);
	struct record *r;
	uint32_t slot, pos;
	bool hit = false;

	if (!keel_cache_lookup(s->idx, key, &slot))
		return false;
	pos = s->loc[slot];
	r = &s->rec[pos];
	pthread_mutex_lock(stripe_of(s, pos));
	if (r->state != REC_VALID || r->disk_id != d->id || r->block != block || r->cid != cid)
		goto out;
	if (read_block(s, pos, buf))
		goto out;
	if (crc_of(r->disk_id, r->block, r->cid, buf, s->bs) != r->crc) {
		uint32_t want = r->crc, got = crc_of(r->disk_id, r->block, r->cid, buf, s->bs);

		char id[24];

		snprintf(id, sizeof(id), "%016" PRIx64, d->id);
		ADD(s->st.corrupt, 1);
		rec_free_locked(s, pos);
		pthread_mutex_unlock(stripe_of(s, pos));
		keel_cache_remove(s->idx, key);
		if (keel_evlimit_allow(&s->corrupt_events, now_ns()))
			event(s, "rcache.corrupt",
			      json_pack("{s:s, s:I, s:I, s:s, s:I, s:I, s:s}", "disk_id", id,
					"block", (json_int_t)block, "offset",
					(json_int_t)pos * s->bs, "file", "cache", "expected_crc",
					(json_int_t)want, "found_crc", (json_int_t)got, "action",
					"entry dropped, read from storage"));
		return false;
	}
	hit = true;
out:
	pthread_mutex_unlock(stripe_of(s, pos));
	return hit;
}

int keel_rcache_store_lookup(struct keel_rcache_store *s, uint64_t disk_id, uint32_t cid,
			     uint64_t block, unsigned int n, void *buf, uint8_t *hits,
			     uint64_t *ret_seq)
{
	struct disk *d;
	int nhit = 0;

	if (n > KEEL_RCACHE_MAX_BLOCKS)
		return -E2BIG;
	memset(hits, 0, (n + 7) / 8);
	d = disk_get(s, disk_id, true);
	if (!d)
		return -EUSERS;
	check_cid(s, d, cid);
	pthread_rwlock_rdlock(&d->lock);
	*ret_seq = d->seq;
	pthread_rwlock_unlock(&d->lock);
	ADD(s->st.lookups, 1);
	if (passing_through(s)) {
		ADD(s->st.miss_blocks, n);
		ADD(d->misses, n);
		return 0;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (lookup_one(s, d, block + i, cid, (char *)buf + (size_t)i * s->bs)) {
			hits[i / 8] |= (uint8_t)(1u << (i % 8));
			nhit++;
		}
	}
	ADD(s->st.hit_blocks, nhit);
	ADD(s->st.miss_blocks, n - nhit);
	ADD(d->hits, nhit);
	ADD(d->misses, n - nhit);
	return nhit;
}

/* ---- admit ---- */

/* One block; its disk's lock held shared.  0, or -EIO (device failed). */
static int admit_one(struct keel_rcache_store *s, struct disk *d, uint64_t block, uint32_t cid,
		     const void *data)
{
	uint64_t key = key_of(d->id, block);
	__u64 evkey;
	struct record *r;
	uint32_t slot, pos;
	bool ev;
	int ret;

	ret = keel_cache_insert(s->idx, key, &slot, &ev, &evkey);
	pos = s->loc[slot];
	r = &s->rec[pos];
	if (ret == -EEXIST)	/* cached already (current: invalidations remove), or a collision */
		return 0;
	if (ev)
		ADD(s->st.evictions, 1);
	pthread_mutex_lock(stripe_of(s, pos));
	rec_free_locked(s, pos);	/* the evicted key's record, if any */
	__atomic_store_n(&r->state, REC_BUSY, __ATOMIC_RELEASE);
	if (write_block(s, pos, data)) {
		__atomic_store_n(&r->state, REC_FREE, __ATOMIC_RELEASE);
		pthread_mutex_unlock(stripe_of(s, pos));
		keel_cache_remove(s->idx, key);
		return -EIO;
	}
	r->disk_id = d->id;
	r->block = block;
	r->cid = cid;
	r->crc = crc_of(d->id, block, cid, data, s->bs);
	__atomic_store_n(&r->state, REC_VALID, __ATOMIC_RELEASE);
	ADD(d->count, 1);
	ADD(s->st.cached, 1);
	pthread_mutex_unlock(stripe_of(s, pos));
	return 0;
}

int keel_rcache_store_admit(struct keel_rcache_store *s, uint64_t disk_id, uint32_t cid,
			    uint64_t block, unsigned int n, const void *buf, uint64_t seq)
{
	struct disk *d;
	int done = 0;

	if (n > KEEL_RCACHE_MAX_BLOCKS)
		return -E2BIG;
	d = disk_get(s, disk_id, true);
	if (!d)
		return -EUSERS;
	if (passing_through(s))
		return 0;
	pthread_rwlock_rdlock(&d->lock);
	if (d->seq != seq) {
		/* invalidated since the lookup: what was read may be older */
		ADD(s->st.admit_refused_stale, n);
		goto out;
	}
	if (d->cid_known && d->cid != cid) {
		ADD(s->st.admit_refused_cid, n);
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (GET(d->count) >= disk_limit(s, d)) {
			ADD(s->st.admit_refused_limit, n - i);
			break;
		}
		if (admit_one(s, d, block + i, cid, (const char *)buf + (size_t)i * s->bs))
			break;
		done++;
	}
	ADD(s->st.admitted, done);
	ADD(d->admitted, done);
out:
	pthread_rwlock_unlock(&d->lock);
	return done;
}

/* ---- invalidate, drop ---- */

/* Free position @pos if it holds a block of @disk_id in [first, first + n). */
static bool drop_pos_if(struct keel_rcache_store *s, uint32_t pos, uint64_t disk_id,
			uint64_t first, uint64_t n)
{
	struct record *r = &s->rec[pos];
	uint64_t key = 0;
	bool hit = false;

	if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == REC_FREE)
		return false;
	pthread_mutex_lock(stripe_of(s, pos));
	if (r->state != REC_FREE && (disk_id == UINT64_MAX || r->disk_id == disk_id) &&
	    (r->block - first < n)) {
		key = key_of(r->disk_id, r->block);
		rec_free_locked(s, pos);
		hit = true;
	}
	pthread_mutex_unlock(stripe_of(s, pos));
	if (hit)
		keel_cache_remove(s->idx, key);
	return hit;
}

int keel_rcache_store_invalidate(struct keel_rcache_store *s, uint64_t disk_id,
				 uint64_t block, uint64_t n)
{
	struct disk *d = disk_get(s, disk_id, true);
	uint64_t dropped = 0;

	if (!d) {
		/* no room to track the disk: it has no entries, but an admit
		 * could not see the invalidation either, so drop all */
		keel_rcache_store_drop(s, UINT64_MAX, "disk table full at an invalidation");
		return 0;
	}
	pthread_rwlock_wrlock(&d->lock);
	d->seq++;
	if (n > s->slots) {
		for (uint32_t pos = 0; pos < s->slots; pos++)
			dropped += drop_pos_if(s, pos, disk_id, block, n);
	} else {
		for (uint64_t b = block; b < block + n; b++) {
			uint32_t slot;

			if (!keel_cache_lookup(s->idx, key_of(disk_id, b), &slot))
				continue;
			dropped += drop_pos_if(s, s->loc[slot], disk_id, b, 1);
		}
	}
	pthread_rwlock_unlock(&d->lock);
	ADD(s->st.invalidated, dropped);
	ADD(d->invalidated, dropped);
	return (int)dropped;
}

int64_t keel_rcache_store_drop(struct keel_rcache_store *s, uint64_t disk_id, const char *why)
{
	struct disk *d = disk_id == UINT64_MAX ? NULL : disk_get(s, disk_id, true);
	int64_t dropped = 0;
	char id[24];

	if (d) {
		pthread_rwlock_wrlock(&d->lock);
		d->seq++;
	} else if (disk_id == UINT64_MAX) {
		/* every disk: bump every sequence so no admit in flight lands */
		pthread_mutex_lock(&s->dlock);
		for (uint32_t i = 0; i < s->ndisk_slots; i++)
			if (s->disks[i].used)
				__atomic_add_fetch(&s->disks[i].seq, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&s->dlock);
	}
	for (uint32_t pos = 0; pos < s->slots; pos++)
		dropped += drop_pos_if(s, pos, disk_id, 0, UINT64_MAX);
	if (d)
		pthread_rwlock_unlock(&d->lock);
	ADD(s->st.dropped_disks, 1);
	snprintf(id, sizeof(id), "%016" PRIx64, disk_id);
	event(s, "rcache.drop",
	      json_pack("{s:s, s:I, s:s}", "disk_id", disk_id == UINT64_MAX ? "all" : id, "entries",
			(json_int_t)dropped, "reason", why));
	return dropped;
}

int keel_rcache_store_sweep_dirty(struct keel_rcache_store *s)
{
	char path[4200], name[32];
	int n = 0;

	/* the names are ours (16 hex digits); anything else is left alone */
	snprintf(path, sizeof(path), "%s/dirty", s->dir);
	for (;;) {
		struct dirent *e;
		DIR *dir = opendir(path);
		uint64_t id = 0;
		bool found = false;

		if (!dir)
			return n;
		while ((e = readdir(dir))) {
			char *end;

			if (strlen(e->d_name) != 16)
				continue;
			id = strtoull(e->d_name, &end, 16);
			if (*end)
				continue;
			snprintf(name, sizeof(name), "%s", e->d_name);
			found = true;
			break;
		}
		closedir(dir);
		if (!found)
			return n;
		/* unlink first: a filter writing again after this still leaves its mark */
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", name);
		unlink(path);
		path[strlen(path) - 17] = '\0';
		keel_rcache_store_drop(s, id, "written while the daemon was unreachable");
		n++;
	}
}

int keel_rcache_store_set_limit(struct keel_rcache_store *s, uint64_t disk_id, uint64_t blocks)
{
	struct disk *d = disk_get(s, disk_id, true);

	if (!d)
		return -EUSERS;
	__atomic_store_n(&d->limit, blocks, __ATOMIC_RELAXED);
	return 0;
}

uint32_t keel_rcache_store_block_size(const struct keel_rcache_store *s)
{
	return s->bs;
}

/* ---- stats ---- */

void keel_rcache_store_stats(struct keel_rcache_store *s, struct keel_rcache_store_stats *ret)
{
	struct keel_cache_stats cs;

	*ret = s->st;
	ret->lookups = GET(s->st.lookups);
	ret->hit_blocks = GET(s->st.hit_blocks);
	ret->miss_blocks = GET(s->st.miss_blocks);
	ret->admitted = GET(s->st.admitted);
	ret->cached = GET(s->st.cached);
	ret->corrupt = GET(s->st.corrupt);
	ret->device_errors = GET(s->st.device_errors);
	ret->block_size = s->bs;
	ret->capacity = s->slots;
	pthread_mutex_lock(&s->dlock);
	ret->disks = s->ndisks;
	pthread_mutex_unlock(&s->dlock);
	ret->passthrough = passing_through(s);
	ret->direct = s->direct;
	keel_cache_get_stats(s->idx, &cs);
	/* the index's bytes per entry + the record + the position map */
	ret->bytes_per_entry = cs.bytes_per_entry + sizeof(struct record) + sizeof(uint32_t);
}

json_t *keel_rcache_store_stats_json(struct keel_rcache_store *s)
{
	struct keel_rcache_store_stats t;
	uint64_t total;

	keel_rcache_store_stats(s, &t);
	total = t.hit_blocks + t.miss_blocks;
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:f}",
			 "dir", s->dir, "block_size", (json_int_t)t.block_size, "capacity_blocks",
			 (json_int_t)t.capacity, "cached_blocks", (json_int_t)t.cached, "disks",
			 (json_int_t)t.disks, "lookups", (json_int_t)t.lookups, "hit_blocks",
			 (json_int_t)t.hit_blocks, "miss_blocks", (json_int_t)t.miss_blocks,
			 "hit_ratio", total ? (double)t.hit_blocks / (double)total : 0.0,
			 "admitted", (json_int_t)t.admitted, "admit_refused_stale",
			 (json_int_t)GET(s->st.admit_refused_stale), "admit_refused_limit",
			 (json_int_t)GET(s->st.admit_refused_limit), "admit_refused_cid",
			 (json_int_t)GET(s->st.admit_refused_cid), "invalidated",
			 (json_int_t)GET(s->st.invalidated), "evictions",
			 (json_int_t)GET(s->st.evictions), "corrupt", (json_int_t)t.corrupt,
			 "device_errors", (json_int_t)t.device_errors, "warm_loaded",
			 (json_int_t)t.warm_loaded, "dropped", (json_int_t)GET(s->st.dropped_disks),
			 "passthrough", t.passthrough, "direct_io", t.direct, "bytes_per_entry",
			 t.bytes_per_entry);
}

json_t *keel_rcache_store_disks_json(struct keel_rcache_store *s)
{
	json_t *a = json_array();

	pthread_mutex_lock(&s->dlock);
	for (uint32_t i = 0; a && i < s->ndisk_slots; i++) {
		struct disk *d = &s->disks[i];
		uint64_t h = GET(d->hits), m = GET(d->misses);
		char id[24], cid[16];

		if (!d->used)
			continue;
		snprintf(id, sizeof(id), "%016" PRIx64, d->id);
		snprintf(cid, sizeof(cid), "%08x", d->cid);
		json_array_append_new(
			a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:I, s:I}", "disk_id", id,
				     "cid", d->cid_known ? cid : "", "cached_blocks",
				     (json_int_t)GET(d->count), "limit_blocks",
				     (json_int_t)disk_limit(s, d), "hit_blocks", (json_int_t)h,
				     "miss_blocks", (json_int_t)m, "hit_ratio",
				     h + m ? (double)h / (double)(h + m) : 0.0, "admitted",
				     (json_int_t)GET(d->admitted), "invalidated",
				     (json_int_t)GET(d->invalidated)));
	}
	pthread_mutex_unlock(&s->dlock);
	return a;
}

/* ---- open, warm start, close ---- */

static void read_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

/*
 * Decide what the records on disk are worth (see store.h) and rebuild the
 * index from the trusted ones.  Returns the entries loaded.
 */
static uint64_t warm_load(struct keel_rcache_store *s, bool fresh, const char *boot)
{
	const char *why = NULL;
	uint64_t loaded = 0, busy = 0;
	uint8_t *used;
	uint32_t next = 0;

	if (fresh)
		why = "new cache file";
	else if (!s->hdr->clean && strcmp(s->hdr->boot_id, boot))
		why = "unclean stop before a reboot: records may have lost invalidations";
	used = calloc(s->slots, 1);
	for (uint32_t i = 0; i < s->slots; i++)
		s->loc[i] = UINT32_MAX;
	for (uint32_t pos = 0; used && !why && pos < s->slots; pos++) {
		struct record *r = &s->rec[pos];
		__u64 evkey;
		uint32_t slot;
		bool ev;

		if (r->state != REC_VALID) {
			busy += r->state == REC_BUSY;
			r->state = REC_FREE;
			continue;
		}
		if (keel_cache_insert(s->idx, key_of(r->disk_id, r->block), &slot, &ev, &evkey)) {
			r->state = REC_FREE;	/* the same key twice: keep the first */
			continue;
		}
		if (s->loc[slot] != UINT32_MAX) {
			/* an eviction (cannot happen with the same geometry): the
			 * evicted key's record goes */
			s->rec[s->loc[slot]].state = REC_FREE;
			used[s->loc[slot]] = 0;
			loaded--;
		}
		s->loc[slot] = pos;
		used[pos] = 1;
		loaded++;
		{
			struct disk *d = disk_get(s, r->disk_id, true);

			if (d) {
				d->count++;
				d->cid = r->cid;
				d->cid_known = true;
			} else {
				r->state = REC_FREE;
				keel_cache_remove(s->idx, key_of(r->disk_id, r->block));
				s->loc[slot] = UINT32_MAX;
				used[pos] = 0;
				loaded--;
			}
		}
	}
	if (why || !used) {
		memset(s->rec, 0, (size_t)s->slots * sizeof(*s->rec));
		loaded = 0;
	}
	/* the remaining slots take the remaining positions, in order */
	for (uint32_t slot = 0; slot < s->slots; slot++) {
		if (s->loc[slot] != UINT32_MAX)
			continue;
		while (used && used[next])
			next++;
		s->loc[slot] = used ? next++ : slot;
	}
	free(used);
	s->st.cached = loaded;
	s->st.warm_loaded = loaded;
	event(s, "rcache.open",
	      json_pack("{s:s, s:I, s:I, s:b, s:I, s:I, s:s?}", "dir", s->dir, "capacity_blocks",
			(json_int_t)s->slots, "block_size", (json_int_t)s->bs, "warm", !why,
			"entries", (json_int_t)loaded, "torn_dropped", (json_int_t)busy,
			"cold_reason", why));
	return loaded;
}

static int open_meta(struct keel_rcache_store *s, bool *ret_fresh, char *err, size_t errlen)
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
	if (!*ret_fresh && (memcmp(s->hdr->magic, META_MAGIC, 8) ||
			    s->hdr->version != META_VERSION || s->hdr->block_size != s->bs ||
			    s->hdr->slots != s->slots)) {
		/* another geometry or not ours: start cold (the size matched by chance) */
		*ret_fresh = true;
		memset(s->hdr, 0, s->meta_len);
	}
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static int open_data(struct keel_rcache_store *s, char *err, size_t errlen)
{
	off_t len = (off_t)s->slots * s->bs;
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/cache", s->dir);
	s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_DIRECT, 0600);
	s->direct = s->fd >= 0;
	if (s->fd < 0 && errno == EINVAL)	/* tmpfs and a few others */
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
		device_error(s, "fallocate", 0, errno);
	return 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

int keel_rcache_store_open(const struct keel_rcache_store_opts *o,
			   struct keel_rcache_store **ret, char *err, size_t errlen)
{
	struct keel_cache_opts co = { 0 };
	struct keel_rcache_store *s;
	char boot[40], path[4200];
	bool fresh = false;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->o = *o;
	s->bs = o->block_size ? o->block_size : 4096;
	if (!s->o.disk_limit_pct)
		s->o.disk_limit_pct = 100;
	if (!s->o.max_disks)
		s->o.max_disks = 4096;
	if (!s->o.retry_ms)
		s->o.retry_ms = 30000;
	keel_evlimit_init(&s->corrupt_events, s->o.corrupt_events_max ?: 16,
			  (uint64_t)(s->o.corrupt_window_ms ?: 10000) * 1000000ull);
	r = -EINVAL;
	if (s->bs < 4096 || s->bs > (1u << 20) || (s->bs & (s->bs - 1))) {
		snprintf(err, errlen, "block size %u: must be a power of two from 4096 to 1 MiB",
			 s->bs);
		goto fail;
	}
	if (o->size / s->bs < 16 || o->size / s->bs > UINT32_MAX - 1) {
		snprintf(err, errlen, "cache size %" PRIu64 " bytes: must hold 16 to 2^32-2 blocks "
			 "of %u bytes", o->size, s->bs);
		goto fail;
	}
	if (s->o.disk_limit_pct > 100 || s->o.max_disks > (1u << 20)) {
		snprintf(err, errlen, "disk limit %u%%: must be 1..100; max disks %u: at most %u",
			 s->o.disk_limit_pct, s->o.max_disks, 1u << 20);
		goto fail;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", o->dir);
	snprintf(path, sizeof(path), "%s/dirty", s->dir);
	if ((mkdir(s->dir, 0700) && errno != EEXIST) || (mkdir(path, 0700) && errno != EEXIST)) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot make the directory: %s", path, strerror(errno));
		goto fail;
	}
	s->slots = (uint32_t)(o->size / s->bs);
	s->default_limit = (uint64_t)s->slots * s->o.disk_limit_pct / 100;
	if (!s->default_limit)
		s->default_limit = 1;
	co.capacity = s->slots;
	co.shards = s->slots >= (1u << 14) ? 16 : 1;
	r = keel_cache_new(&co, &s->idx);
	if (r) {
		snprintf(err, errlen, "cannot make the index of %u entries: %s", s->slots,
			 strerror(-r));
		goto fail;
	}
	s->slots = keel_cache_slots(s->idx);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&s->stripe[i], NULL);
	pthread_mutex_init(&s->dlock, NULL);
	s->ndisk_slots = pow2_at_least(s->o.max_disks * 2);
	s->disks = calloc(s->ndisk_slots, sizeof(*s->disks));
	s->loc = calloc(s->slots, sizeof(*s->loc));
	r = -ENOMEM;
	if (!s->disks || !s->loc) {
		snprintf(err, errlen, "out of memory for %u entries", s->slots);
		goto fail;
	}
	for (uint32_t i = 0; i < s->ndisk_slots; i++)
		pthread_rwlock_init(&s->disks[i].lock, NULL);
	r = open_data(s, err, errlen);
	if (!r)
		r = open_meta(s, &fresh, err, errlen);
	if (r)
		goto fail;
	read_boot_id(boot, sizeof(boot));
	warm_load(s, fresh, boot);
	/* from now on the records change: an unclean stop must be seen */
	memcpy(s->hdr->magic, META_MAGIC, 8);
	s->hdr->version = META_VERSION;
	s->hdr->block_size = s->bs;
	s->hdr->slots = s->slots;
	snprintf(s->hdr->boot_id, sizeof(s->hdr->boot_id), "%s", boot);
	s->hdr->opens++;
	s->hdr->clean = 0;
	if (msync(s->hdr, s->meta_len, MS_SYNC)) {
		r = -errno;
		snprintf(err, errlen, "%s/meta: cannot sync: %s", s->dir, strerror(errno));
		goto fail;
	}
	keel_rcache_store_sweep_dirty(s);
	*ret = s;
	return 0;
fail:
	keel_rcache_store_close(s);
	return r;
}

static void store_free(struct keel_rcache_store *s)
{
	if (s->hdr)
		munmap(s->hdr, s->meta_len);
	if (s->fd >= 0)
		close(s->fd);
	keel_cache_free(s->idx);
	if (s->disks)
		for (uint32_t i = 0; i < s->ndisk_slots; i++)
			pthread_rwlock_destroy(&s->disks[i].lock);
	free(s->disks);
	free(s->loc);
	free(s);
}

/* The summary of the rcache.corrupt events the limit held back. */
static void corrupt_summary(struct keel_rcache_store *s, uint64_t now)
{
	uint64_t n = keel_evlimit_flush(&s->corrupt_events, now);

	if (n)
		event(s, "rcache.corrupt_summary",
		      json_pack("{s:I, s:I, s:I, s:I, s:s}", "suppressed", (json_int_t)n,
				"events_max", (json_int_t)s->corrupt_events.max, "window_ms",
				(json_int_t)(s->corrupt_events.window_ns / 1000000ull),
				"corrupt_total", (json_int_t)GET(s->st.corrupt), "action",
				"entries dropped, read from storage"));
}

void keel_rcache_store_tick(struct keel_rcache_store *s)
{
	corrupt_summary(s, now_ns());
}

void keel_rcache_store_close(struct keel_rcache_store *s)
{
	if (!s)
		return;
	corrupt_summary(s, UINT64_MAX);	/* what the limit still holds back */
	/* data and records on the device first, then the clean mark */
	if (s->hdr && s->fd >= 0 && !fdatasync(s->fd) && !msync(s->hdr, s->meta_len, MS_SYNC)) {
		s->hdr->clean = 1;
		msync(s->hdr, HEADER_BYTES, MS_SYNC);
	}
	store_free(s);
}
