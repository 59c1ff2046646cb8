/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The read cache store's insides, shared by its three files (not an
 * interface: store.h is):
 *   store.c           the index and what goes through it: lookup, admit,
 *                     invalidate, drop, limits, stats
 *   store_records.c   the files: cache data (O_DIRECT) and the mapped
 *                     records, CRC32C, device errors and pass-through
 *   store_recovery.c  open, the warm start (what is trusted, store.h),
 *                     dirty marks, close
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
#ifndef KEEL_RCACHE_STORE_INT_H
#define KEEL_RCACHE_STORE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/mix64.h"
#include "keel/cache.h"
#include "rcache/evlimit.h"
#include "rcache/store.h"
#include "common/clock.h"

#define META_MAGIC   "KEELRC01"
#define META_VERSION 1
#define HEADER_BYTES 4096
#define STRIPES	     1024

enum rec_state {
	REC_FREE = 0,
	REC_BUSY = 0x59535542,	/* "BUSY": data being written, not trusted */
	REC_VALID = 0x444c4156, /* "VALD" */
};

struct record { /* 32 bytes, little-endian on disk (x86 only today) */
	uint64_t disk_id;
	uint64_t block;
	uint32_t cid;
	uint32_t crc; /* CRC32C of (disk_id, block, cid) then the data */
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
	uint64_t seq;				      /* invalidations so far; under lock */
	uint64_t count;				      /* valid records; atomic */
	uint64_t limit;				      /* 0: the default share */
	uint64_t hits, misses, admitted, invalidated; /* atomic */
	pthread_rwlock_t lock;
};

struct keel_rcache_store {
	struct keel_rcache_store_opts o;
	char dir[4096];
	int fd; /* cache data */
	bool direct;
	struct header *hdr; /* the meta file, mapped */
	struct record *rec;
	size_t meta_len;
	uint32_t slots, bs;
	uint32_t *loc; /* index slot -> position */
	struct keel_cache *idx;
	pthread_mutex_t stripe[STRIPES];
	pthread_mutex_t dlock; /* the disk table */
	struct disk *disks;
	uint32_t ndisk_slots, ndisks;
	uint64_t default_limit;
	uint64_t pass_until_ns; /* atomic: pass through until then */
	struct keel_evlimit corrupt_events;
	struct keel_rcache_store_stats st; /* counters updated atomically */
};

#define ADD(field, n) __atomic_add_fetch(&(field), (n), __ATOMIC_RELAXED)
#define GET(field)    __atomic_load_n(&(field), __ATOMIC_RELAXED)

static inline uint64_t keel_rcache_now_ns(void)
{
	return keel_clock_ns(CLOCK_MONOTONIC);
}

/* The index key; a (rare) collision is caught by the record's full key. */
static inline uint64_t keel_rcache_key(uint64_t disk_id, uint64_t block)
{
	return keel_mix64(disk_id ^ keel_mix64(block + 0x9e3779b97f4a7c15ull));
}

static inline void keel_rcache_event(struct keel_rcache_store *s, const char *type, json_t *fields)
{
	if (s->o.event)
		s->o.event(s->o.event_ctx, type, fields);
	else
		json_decref(fields);
}

static inline pthread_mutex_t *keel_rcache_stripe(struct keel_rcache_store *s, uint32_t pos)
{
	return &s->stripe[pos % STRIPES];
}

/* store.c */
struct disk *keel_rcache_disk_get(struct keel_rcache_store *s, uint64_t id, bool create);
void keel_rcache_corrupt_summary(struct keel_rcache_store *s, uint64_t now);

/* store_records.c */
uint32_t keel_rcache_crc(uint64_t disk_id, uint64_t block, uint32_t cid, const void *data,
			 size_t len);
bool keel_rcache_passing_through(struct keel_rcache_store *s);
void keel_rcache_device_error(struct keel_rcache_store *s, const char *op, uint32_t pos, int err);
int keel_rcache_read_block(struct keel_rcache_store *s, uint32_t pos, void *buf);
int keel_rcache_write_block(struct keel_rcache_store *s, uint32_t pos, const void *buf);
void keel_rcache_rec_free_locked(struct keel_rcache_store *s, uint32_t pos);
int keel_rcache_open_meta(struct keel_rcache_store *s, bool *ret_fresh, char *err, size_t errlen);
int keel_rcache_open_data(struct keel_rcache_store *s, char *err, size_t errlen);

#endif /* KEEL_RCACHE_STORE_INT_H */
