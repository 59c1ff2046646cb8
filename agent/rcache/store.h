/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The read cache's store: fixed-size blocks of virtual disks kept in one
 * cache file on fast local storage, indexed by the three-queue cache
 * (keel/cache.h) keyed by (disk ID, block), shared by every disk with a
 * limit per disk (docs/rcache.md).
 *
 * Files in the store's directory:
 *   cache   slots x block_size bytes of data, opened O_DIRECT (when the
 *           file system allows it: tmpfs does not)
 *   meta    a 4 KiB header, then one 32-byte record per slot: which
 *           (disk, block, CID) the slot holds and a CRC32C of the key and
 *           the data; mapped shared, so it survives the process
 *   dirty/  one empty file per disk (16 hex digits) that a cache filter
 *           wrote while it could not reach the daemon: that disk's entries
 *           may be stale and are dropped (keel_rcache_store_sweep_dirty)
 *
 * What is trusted after a restart (the "generations" are boot IDs):
 *   - the header says the last stop was clean: every record;
 *   - unclean, same boot (the process was killed): every record too, since
 *     the records and the data are the kernel's page cache and the device,
 *     written in an order that leaves a slot being changed marked as such;
 *   - unclean, another boot (power loss, host crash): nothing; page-cache
 *     writes of the records (invalidations among them) may be lost.
 * A record is used only when the CRC32C of its key and the data read
 * matches: a corrupted or torn block is dropped (and reported) on its
 * first read, never returned.
 *
 * All calls are safe from many threads at once.  Buffers given to lookup
 * and admit must be aligned to 4096 bytes (O_DIRECT).
 */
#ifndef KEEL_RCACHE_STORE_H
#define KEEL_RCACHE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define KEEL_RCACHE_MAX_BLOCKS 256 /* blocks in one lookup or admit */

struct keel_rcache_store;

/* @fields is stolen (may be NULL) */
typedef void (*keel_rcache_event_fn)(void *ctx, const char *type, json_t *fields);

struct keel_rcache_store_opts {
	const char *dir;	 /* made if missing (mode 0700) */
	uint64_t size;		 /* bytes of cached data */
	uint32_t block_size;	 /* power of two, 4096..1 MiB; 0: 4096 */
	uint32_t disk_limit_pct; /* default share of one disk, 1..100; 0: 100 */
	uint32_t max_disks;	 /* disks tracked at once; 0: 4096 */
	uint32_t retry_ms;	 /* after a device error, pass through this long; 0: 30 s */
	/* rcache.corrupt events: at most this many per window, then one
	 * rcache.corrupt_summary with the count (0: 16 per 10 s) */
	uint32_t corrupt_events_max, corrupt_window_ms;
	keel_rcache_event_fn event;
	void *event_ctx;
};

struct keel_rcache_store_stats {
	uint64_t block_size, capacity, cached, disks;
	uint64_t lookups, hit_blocks, miss_blocks;
	uint64_t admitted, admit_refused_stale, admit_refused_limit, admit_refused_cid;
	uint64_t invalidated, dropped_disks, corrupt, device_errors, evictions;
	uint64_t limit_evictions; /* evicted by lowering a disk's limit */
	uint64_t warm_loaded;	  /* entries trusted at open */
	bool passthrough;	  /* after a device error, until retry */
	bool direct;		  /* the cache file is O_DIRECT */
	double bytes_per_entry;	  /* index + record, per cached block */
};

int keel_rcache_store_open(const struct keel_rcache_store_opts *o, struct keel_rcache_store **ret,
			   char *err, size_t errlen);
/* A clean stop: data and records synced, the header marked clean. */
void keel_rcache_store_close(struct keel_rcache_store *s);

uint32_t keel_rcache_store_block_size(const struct keel_rcache_store *s);

/*
 * Look up @n blocks of @disk_id from @block on: each hit's data is put at
 * buf + i * block_size and bit i of @hits set.  @ret_seq gets the disk's
 * invalidation sequence, to give back to admit.  Returns the hits.
 */
int keel_rcache_store_lookup(struct keel_rcache_store *s, uint64_t disk_id, uint32_t cid,
			     uint64_t block, unsigned int n, void *buf, uint8_t *hits,
			     uint64_t *ret_seq);
/*
 * Offer @n blocks read from storage after a lookup that returned @seq.
 * Refused (not an error: returns 0 admitted) when the disk was
 * invalidated since @seq, its CID changed, it is at its limit, or the
 * store passes through after a device error.  Returns the blocks admitted.
 */
int keel_rcache_store_admit(struct keel_rcache_store *s, uint64_t disk_id, uint32_t cid,
			    uint64_t block, unsigned int n, const void *buf, uint64_t seq);
/* Drop @n blocks from @block on (a write or discard is coming or done). */
int keel_rcache_store_invalidate(struct keel_rcache_store *s, uint64_t disk_id, uint64_t block,
				 uint64_t n);
/* Drop every entry of a disk (UINT64_MAX: of every disk); returns how many. */
int64_t keel_rcache_store_drop(struct keel_rcache_store *s, uint64_t disk_id, const char *why);
/* Drop the disks named in dir/dirty/; returns how many disks. */
int keel_rcache_store_sweep_dirty(struct keel_rcache_store *s);
/* Emit what is due with time: the summary of suppressed rcache.corrupt events. */
void keel_rcache_store_tick(struct keel_rcache_store *s);
/* Set a disk's limit in blocks (0: back to the default share); below what
 * the disk holds, its entries are evicted down to it at once (cold first). */
int keel_rcache_store_set_limit(struct keel_rcache_store *s, uint64_t disk_id, uint64_t blocks);

void keel_rcache_store_stats(struct keel_rcache_store *s, struct keel_rcache_store_stats *ret);
json_t *keel_rcache_store_stats_json(struct keel_rcache_store *s);
json_t *keel_rcache_store_disks_json(struct keel_rcache_store *s);

#endif /* KEEL_RCACHE_STORE_H */
