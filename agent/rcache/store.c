// SPDX-License-Identifier: GPL-2.0-only
/*
 * The read cache's store (store.h), its index side: lookups, admissions,
 * invalidations and drops through the three-queue index, per-disk limits
 * and counters.  The files are in store_records.c, open and the warm
 * start in store_recovery.c; the layout and the lock order in store_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rcache/store_int.h"

/* ---- disks ---- */

/* The disk's entry, made on first sight; NULL when the table is full. */
struct disk *keel_rcache_disk_get(struct keel_rcache_store *s, uint64_t id, bool create)
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
	uint64_t key = keel_rcache_key(d->id, block);
	struct record *r;
	uint32_t slot, pos;
	bool hit = false;

	if (!keel_cache_lookup(s->idx, key, &slot))
		return false;
	pos = s->loc[slot];
	r = &s->rec[pos];
	pthread_mutex_lock(keel_rcache_stripe(s, pos));
	if (r->state != REC_VALID || r->disk_id != d->id || r->block != block || r->cid != cid)
		goto out;
	if (keel_rcache_read_block(s, pos, buf))
		goto out;
	if (keel_rcache_crc(r->disk_id, r->block, r->cid, buf, s->bs) != r->crc) {
		uint32_t want = r->crc,
			 got = keel_rcache_crc(r->disk_id, r->block, r->cid, buf, s->bs);

		char id[24];

		snprintf(id, sizeof(id), "%016" PRIx64, d->id);
		ADD(s->st.corrupt, 1);
		keel_rcache_rec_free_locked(s, pos);
		pthread_mutex_unlock(keel_rcache_stripe(s, pos));
		keel_cache_remove(s->idx, key);
		if (keel_evlimit_allow(&s->corrupt_events, keel_rcache_now_ns()))
			keel_rcache_event(s, "rcache.corrupt",
					  json_pack("{s:s, s:I, s:I, s:s, s:I, s:I, s:s}",
						    "disk_id", id, "block", (json_int_t)block,
						    "offset", (json_int_t)pos * s->bs, "file",
						    "cache", "expected_crc", (json_int_t)want,
						    "found_crc", (json_int_t)got, "action",
						    "entry dropped, read from storage"));
		return false;
	}
	hit = true;
out:
	pthread_mutex_unlock(keel_rcache_stripe(s, pos));
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
	d = keel_rcache_disk_get(s, disk_id, true);
	if (!d)
		return -EUSERS;
	check_cid(s, d, cid);
	pthread_rwlock_rdlock(&d->lock);
	*ret_seq = d->seq;
	pthread_rwlock_unlock(&d->lock);
	ADD(s->st.lookups, 1);
	if (keel_rcache_passing_through(s)) {
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

/* The victim a disk at its limit may give up: one of its own blocks. */
struct own_pick {
	struct keel_rcache_store *s;
	uint64_t disk_id;
};

/* Called under the index's shard lock: reads the record without its
 * stripe, so it may misjudge a record being changed; the eviction frees
 * whatever the record holds then, and counts it to its own disk. */
static bool own_block(void *ctx, __u64 key, __u32 slot)
{
	struct own_pick *p = ctx;
	struct record *r = &p->s->rec[p->s->loc[slot]];

	(void)key;
	return __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == REC_VALID &&
	       __atomic_load_n(&r->disk_id, __ATOMIC_RELAXED) == p->disk_id;
}

/*
 * One block; its disk's lock held shared.  @own: the disk is at its limit,
 * the block replaces one of the disk's own (the policy's first victim among
 * them).  0, -ENOSPC (@own and no block of the disk to replace), or -EIO
 * (device failed).
 */
static int admit_one(struct keel_rcache_store *s, struct disk *d, uint64_t block, uint32_t cid,
		     const void *data, bool own)
{
	uint64_t key = keel_rcache_key(d->id, block);
	struct own_pick pick = { s, d->id };
	__u64 evkey;
	struct record *r;
	uint32_t slot, pos;
	bool ev = false;
	int ret;

	if (own) {
		ret = keel_cache_insert_replacing(s->idx, key, own_block, &pick, &slot, &evkey);
		if (ret == -ENOSPC)
			return -ENOSPC;
		ev = !ret;
	} else {
		ret = keel_cache_insert(s->idx, key, &slot, &ev, &evkey);
	}
	pos = s->loc[slot];
	r = &s->rec[pos];
	if (ret == -EEXIST) /* cached already (current: invalidations remove), or a collision */
		return 0;
	if (ev)
		ADD(s->st.evictions, 1);
	pthread_mutex_lock(keel_rcache_stripe(s, pos));
	keel_rcache_rec_free_locked(s, pos); /* the evicted key's record, if any */
	__atomic_store_n(&r->state, REC_BUSY, __ATOMIC_RELEASE);
	if (keel_rcache_write_block(s, pos, data)) {
		__atomic_store_n(&r->state, REC_FREE, __ATOMIC_RELEASE);
		pthread_mutex_unlock(keel_rcache_stripe(s, pos));
		keel_cache_remove(s->idx, key);
		return -EIO;
	}
	__atomic_store_n(&r->disk_id, d->id, __ATOMIC_RELAXED);
	r->block = block;
	r->cid = cid;
	r->crc = keel_rcache_crc(d->id, block, cid, data, s->bs);
	__atomic_store_n(&r->state, REC_VALID, __ATOMIC_RELEASE);
	ADD(d->count, 1);
	ADD(s->st.cached, 1);
	pthread_mutex_unlock(keel_rcache_stripe(s, pos));
	return 0;
}

int keel_rcache_store_admit(struct keel_rcache_store *s, uint64_t disk_id, uint32_t cid,
			    uint64_t block, unsigned int n, const void *buf, uint64_t seq)
{
	struct disk *d;
	int done = 0;

	if (n > KEEL_RCACHE_MAX_BLOCKS)
		return -E2BIG;
	d = keel_rcache_disk_get(s, disk_id, true);
	if (!d)
		return -EUSERS;
	if (keel_rcache_passing_through(s))
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
		uint64_t limit = disk_limit(s, d);
		int ret;

		/*
		 * A disk at its limit replaces its own coldest block: refusing
		 * froze its blocks once the cache was full, and a removal
		 * followed by an insert cost a second, global eviction (the
		 * removed slot waits on its queue; docs/rcache.md).  A limit
		 * of the whole cache is no limit: the policy makes room.
		 */
		ret = admit_one(s, d, block + i, cid, (const char *)buf + (size_t)i * s->bs,
				limit < s->slots && GET(d->count) >= limit);
		if (ret == -ENOSPC) {
			/* none of its blocks where this one would go */
			ADD(s->st.admit_refused_limit, n - i);
			break;
		}
		if (ret)
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
static bool drop_pos_if(struct keel_rcache_store *s, uint32_t pos, uint64_t disk_id, uint64_t first,
			uint64_t n)
{
	struct record *r = &s->rec[pos];
	uint64_t key = 0;
	bool hit = false;

	if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == REC_FREE)
		return false;
	pthread_mutex_lock(keel_rcache_stripe(s, pos));
	if (r->state != REC_FREE && (disk_id == UINT64_MAX || r->disk_id == disk_id) &&
	    (r->block - first < n)) {
		key = keel_rcache_key(r->disk_id, r->block);
		keel_rcache_rec_free_locked(s, pos);
		hit = true;
	}
	pthread_mutex_unlock(keel_rcache_stripe(s, pos));
	if (hit)
		keel_cache_remove(s->idx, key);
	return hit;
}

int keel_rcache_store_invalidate(struct keel_rcache_store *s, uint64_t disk_id, uint64_t block,
				 uint64_t n)
{
	struct disk *d = keel_rcache_disk_get(s, disk_id, true);
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

			if (!keel_cache_lookup(s->idx, keel_rcache_key(disk_id, b), &slot))
				continue;
			dropped += drop_pos_if(s, s->loc[slot], disk_id, b, 1);
		}
	}
	pthread_rwlock_unlock(&d->lock);
	ADD(s->st.invalidated, dropped);
	ADD(d->invalidated, dropped);
	return (int)dropped;
}

/*
 * A flush of every disk bumps each disk's sequence under its write lock, as
 * an invalidation does: an admission in flight holds the lock shared from
 * its sequence check to its last record, so it either ends before the bump
 * (and the scan that follows drops what it wrote) or sees the new sequence
 * and is refused.  Bumped without the lock, an admission past its check
 * wrote behind the scan: a block read before the flush was served after it
 * (test_rcache_flush_race).  The table's mutex nests inside the disk locks
 * (store_int.h), so it is not held across them; entries never leave the
 * table, and a disk added behind the loop had its first lookup after the
 * flush began.
 */
static void bump_every_disk(struct keel_rcache_store *s)
{
	for (uint32_t i = 0; i < s->ndisk_slots; i++) {
		struct disk *d = &s->disks[i];
		bool used;

		pthread_mutex_lock(&s->dlock);
		used = d->used;
		pthread_mutex_unlock(&s->dlock);
		if (!used)
			continue;
		pthread_rwlock_wrlock(&d->lock);
		d->seq++;
		pthread_rwlock_unlock(&d->lock);
	}
}

int64_t keel_rcache_store_drop(struct keel_rcache_store *s, uint64_t disk_id, const char *why)
{
	struct disk *d = disk_id == UINT64_MAX ? NULL : keel_rcache_disk_get(s, disk_id, true);
	int64_t dropped = 0;
	char id[24];

	if (d) {
		pthread_rwlock_wrlock(&d->lock);
		d->seq++;
	} else if (disk_id == UINT64_MAX) {
		bump_every_disk(s);
	}
	for (uint32_t pos = 0; pos < s->slots; pos++)
		dropped += drop_pos_if(s, pos, disk_id, 0, UINT64_MAX);
	if (d)
		pthread_rwlock_unlock(&d->lock);
	ADD(s->st.dropped_disks, 1);
	snprintf(id, sizeof(id), "%016" PRIx64, disk_id);
	keel_rcache_event(s, "rcache.drop",
			  json_pack("{s:s, s:I, s:s}", "disk_id",
				    disk_id == UINT64_MAX ? "all" : id, "entries",
				    (json_int_t)dropped, "reason", why));
	return dropped;
}

/*
 * Evict a disk's entries until it holds at most @limit: the cold ones
 * first (the policy's next victims), then any.  Two passes over the
 * records at most.  Returns how many were evicted.
 */
static uint64_t trim(struct keel_rcache_store *s, struct disk *d, uint64_t limit)
{
	uint64_t n = 0;

	for (int pass = 0; pass < 2; pass++)
		for (uint32_t pos = 0; pos < s->slots && GET(d->count) > limit; pos++) {
			struct record *r = &s->rec[pos];

			if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != REC_VALID ||
			    r->disk_id != d->id)
				continue;
			if (!pass && keel_cache_where(s->idx, keel_rcache_key(d->id, r->block)) !=
					     KEEL_CACHE_COLD)
				continue;
			n += drop_pos_if(s, pos, d->id, 0, UINT64_MAX);
		}
	ADD(s->st.limit_evictions, n);
	return n;
}

int keel_rcache_store_set_limit(struct keel_rcache_store *s, uint64_t disk_id, uint64_t blocks)
{
	struct disk *d = keel_rcache_disk_get(s, disk_id, true);

	if (!d)
		return -EUSERS;
	__atomic_store_n(&d->limit, blocks, __ATOMIC_RELAXED);
	/* a lowered limit takes effect now: the room goes to the others */
	if (GET(d->count) > disk_limit(s, d))
		trim(s, d, disk_limit(s, d));
	return 0;
}

uint32_t keel_rcache_store_block_size(const struct keel_rcache_store *s)
{
	return s->bs;
}

/* ---- stats, events due with time ---- */

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
	ret->passthrough = keel_rcache_passing_through(s);
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
			 "s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:f}",
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
			 (json_int_t)GET(s->st.evictions), "limit_evictions",
			 (json_int_t)GET(s->st.limit_evictions), "corrupt", (json_int_t)t.corrupt,
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
		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:I, s:I}",
						   "disk_id", id, "cid", d->cid_known ? cid : "",
						   "cached_blocks", (json_int_t)GET(d->count),
						   "limit_blocks", (json_int_t)disk_limit(s, d),
						   "hit_blocks", (json_int_t)h, "miss_blocks",
						   (json_int_t)m, "hit_ratio",
						   h + m ? (double)h / (double)(h + m) : 0.0,
						   "admitted", (json_int_t)GET(d->admitted),
						   "invalidated", (json_int_t)GET(d->invalidated)));
	}
	pthread_mutex_unlock(&s->dlock);
	return a;
}

/* The summary of the rcache.corrupt events the limit held back. */
void keel_rcache_corrupt_summary(struct keel_rcache_store *s, uint64_t now)
{
	uint64_t n = keel_evlimit_flush(&s->corrupt_events, now);

	if (n)
		keel_rcache_event(s, "rcache.corrupt_summary",
				  json_pack("{s:I, s:I, s:I, s:I, s:s}", "suppressed",
					    (json_int_t)n, "events_max",
					    (json_int_t)s->corrupt_events.max, "window_ms",
					    (json_int_t)(s->corrupt_events.window_ns / 1000000ull),
					    "corrupt_total", (json_int_t)GET(s->st.corrupt),
					    "action", "entries dropped, read from storage"));
}

void keel_rcache_store_tick(struct keel_rcache_store *s)
{
	keel_rcache_corrupt_summary(s, keel_rcache_now_ns());
}
