/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keel three-queue cache: a cold FIFO, a ghost queue and a hot CLOCK.
 *
 * Policy
 *   - A new key enters the cold FIFO (1% of the cache to start with).
 *   - A hit marks the entry: a 2-bit saturating counter and the epoch of
 *     the reference (the shard's miss count, coarsened); nothing moves.
 *     The counter counts reuse, not bursts: the first hit sets it to 1, a
 *     later one raises it only if the recorded reference is at least 1/5
 *     of the shard's capacity in misses old.
 *   - When the cold FIFO has to give up an entry, its head is examined: if
 *     it was hit while cold it becomes hot (in place, no copy); while hot
 *     has room it moves to hot anyway; otherwise it is evicted and leaves a
 *     64-bit fingerprint, with the time of its last reference, in the ghost.
 *   - A miss found in the ghost goes to hot only if its reuse distance is
 *     shorter than 3/5 of the age of the hot entry the CLOCK hand would
 *     evict for it (LIRS's test: reused sooner than hot's coldest entry,
 *     with a margin for the epoch rounding and CLOCK's choice of victim);
 *     else it enters cold again.  A loop larger than the cache so keeps a
 *     fixed subset in hot, as LIRS does, instead of thrashing.
 *   - Hot evicts with CLOCK (a FIFO with reinsertion): the entry at the
 *     head with a non-zero counter loses one and goes to the tail, one at
 *     zero is evicted (and ghosted, marked as coming from hot).
 *   - A frequency sketch (agent/cache/sketch.h: 4-bit count-min, halved
 *     every 10 x the capacity) learns of every miss and of the references
 *     the miss path collects (the hand taking a counter down, a
 *     promotion).  When hot is full, a cold entry that was hit is promoted
 *     only if the sketch rates it at least as frequent as hot's CLOCK
 *     victim; else it is evicted like an unreferenced one.
 *   - Sizing adapts: a ghost hit on a key that left cold unreferenced and
 *     came back within twice cold's size (a near miss) grows the cold
 *     target by one; one on a key that left hot and came back within twice
 *     the age of hot's current CLOCK victim shrinks it by one; bounds 1% of
 *     the capacity .. all but one entry.
 *   A sequential scan only ever enters cold (and the ghost); the hot entries
 *   are evicted only when hot is over its target, which a scan never
 *   causes because every scanned key lands in cold.
 *
 * Concurrency
 *   The cache is split into shards by key hash (opts.shards, a power of two).
 *   Each shard has:
 *   - one writer mutex, held by insert, remove and eviction.  Misses pay it;
 *     they also pay for a disk read, so it is not the bottleneck.
 *   - a hash table whose buckets are grouped in stripes, each stripe with a
 *     sequence counter.  A writer bumps the counter to odd before it unlinks
 *     or links an entry and back to even after.  A lookup reads the counter,
 *     walks the chain with atomic loads, and retries if the counter moved
 *     (seqlock).  So a hit takes no lock and writes nothing but the entry's
 *     16-bit mark, and only when it changes (the first hit since the hand
 *     passed, a mark 1/16 of the shard's capacity in misses old, or a
 *     counter that may rise: not saturated, mark 1/5 of it old): no
 *     atomic read-modify-write and no shared counter on a hit.
 *   - the ghost: a set-associative table of 64-bit words (fingerprint and
 *     last-reference time); lookups and inserts happen on the miss path
 *     under the shard mutex.
 *   keel_cache_access() counts hits and misses in 16 per-thread stripes of
 *   one cache line each (a thread keeps the stripe it first picked), not in
 *   the shards.  All shared fields are read and written with __atomic
 *   builtins, so the cache is clean under ThreadSanitizer.
 *
 * Memory
 *   Per cached entry: a 16-byte slot (key 8 B, hash chain 4 B, mark 2 B,
 *   state 1 B, pad), queue link 4 B (a slot is on the cold or the hot FIFO,
 *   never both), bucket head 3.75 B (15 buckets per 16 entries) = 23.75 B,
 *   23.79 B with the stripes and headers for 1M entries.  The sketch adds
 *   0.5-1 B per entry (two 4-bit counters per entry, rounded down to a
 *   power of two), counted in bytes_total, not in bytes_per_entry.
 *   Per ghost entry: 8 B; the ghost holds 2 x capacity by default.
 *   keel_cache_stats() reports both as measured from the allocations.
 */
#ifndef KEEL_CACHE_H
#define KEEL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define KEEL_CACHE_NO_SLOT 0xffffffffu

struct keel_cache;

struct keel_cache_opts {
	/* Entries the cache holds (all shards together); must be > 0. */
	__u64 capacity;
	/* Ghost fingerprints kept, in entries; 0 picks 2 x the capacity. */
	__u64 ghost_capacity;
	/* Number of shards, a power of two; 0 picks 1.  Each shard needs at
	 * least 16 entries, so fewer are used for tiny caches. */
	__u32 shards;
	/* Initial cold target in percent of the capacity; 0 picks 1. */
	__u32 cold_pct;
	/* Disable the adaptive sizing (the cold target stays at cold_pct). */
	bool fixed;
};

struct keel_cache_stats {
	__u64 capacity;	      /* entries */
	__u64 ghost_capacity; /* ghost entries */
	__u64 cached;	      /* entries now cached */
	__u64 cold;	      /* of which in the cold FIFO */
	__u64 hot;	      /* of which hot */
	__u64 ghost_live;     /* ghost fingerprints within the ghost window */
	__u64 cold_target;    /* current adaptive cold target (sum of shards) */
	__u64 hits, misses;   /* from keel_cache_access() only */
	__u64 ghost_hits;     /* misses found in the ghost (admitted to hot or not) */
	__u64 promotions;     /* cold -> hot at the FIFO head */
	__u64 evictions;
	double bytes_per_entry; /* metadata bytes / capacity */
	double bytes_per_ghost; /* ghost bytes / ghost capacity */
	__u64 bytes_total;	/* all metadata allocated */
};

/* Where a key is; for tests and tools. */
enum keel_cache_where {
	KEEL_CACHE_ABSENT = 0,
	KEEL_CACHE_COLD,
	KEEL_CACHE_HOT,
	KEEL_CACHE_GHOST,
};

/* Create a cache; returns 0 and *ret_cache, or -EINVAL / -ENOMEM. */
int keel_cache_new(const struct keel_cache_opts *opts, struct keel_cache **ret_cache);
/* Free a cache; accepts NULL.  No other thread may use it any more. */
void keel_cache_free(struct keel_cache *c);

/*
 * Lock-free lookup.  Returns true on a hit and marks the entry referenced;
 * *ret_slot (may be NULL) then holds a slot number in [0, slots) that stays
 * the key's while it is cached.  A caller that copies data out of a slot
 * checks keel_cache_slot_key() afterwards to detect a concurrent eviction.
 */
bool keel_cache_lookup(struct keel_cache *c, __u64 key, __u32 *ret_slot);

/*
 * Insert a key after a miss.  Returns 0 with *ret_slot (may be NULL) set,
 * -EEXIST (and the slot) if another thread inserted it first.  Evicts as the
 * policy says; *ret_evicted (may be NULL) is set to whether a key was
 * evicted and *ret_evicted_key to which one.
 */
int keel_cache_insert(struct keel_cache *c, __u64 key, __u32 *ret_slot, bool *ret_evicted,
		      __u64 *ret_evicted_key);

/*
 * Whether the caller accepts the cached @key (in @slot) as the victim of
 * keel_cache_insert_replacing.  Called with the key's shard locked: it
 * must not call into the cache.
 */
typedef bool (*keel_cache_pick_fn)(void *ctx, __u64 key, __u32 slot);

/* Entries keel_cache_insert_replacing examines at most for a victim. */
#define KEEL_CACHE_PICK_SCAN 4096

/*
 * Insert a key after a miss in the place of a key the caller accepts
 * (@pick), never in a free slot nor in the place of another: a cache
 * shared by several owners, each with a limit, lets an owner at its limit
 * replace its own entries.  The victim is the accepted entry that the
 * policy would evict first: cold unreferenced entries in FIFO order, then
 * hot ones the CLOCK hand would take (counter 0), then referenced cold,
 * then referenced hot; only among the entries of the new key's shard and
 * the first KEEL_CACHE_PICK_SCAN of its queues.  Its slot takes the new
 * key at once (a keel_cache_remove()d slot waits on its queue instead).
 * Returns 0 with *ret_slot and *ret_evicted_key (each may be NULL) set,
 * -EEXIST (and the slot) if the key is cached already, -ENOSPC if no
 * entry was accepted (nothing changed), -EINVAL without @pick.
 */
int keel_cache_insert_replacing(struct keel_cache *c, __u64 key, keel_cache_pick_fn pick, void *ctx,
				__u32 *ret_slot, __u64 *ret_evicted_key);

/* Lookup, then insert on a miss.  Returns true on a hit; counts hits/misses. */
bool keel_cache_access(struct keel_cache *c, __u64 key);

/* Drop a key (its data went stale); returns 0 or -ENOENT.  No ghost left. */
int keel_cache_remove(struct keel_cache *c, __u64 key);

/* Total slots (slot numbers run from 0 to this minus one). */
__u32 keel_cache_slots(const struct keel_cache *c);
/* The key held in a slot, or false when the slot is free. */
bool keel_cache_slot_key(const struct keel_cache *c, __u32 slot, __u64 *ret_key);

/* Where a key is now (takes the shard lock; not for the hot path). */
enum keel_cache_where keel_cache_where(struct keel_cache *c, __u64 key);

/* Counters and measured memory; takes each shard lock briefly. */
void keel_cache_get_stats(struct keel_cache *c, struct keel_cache_stats *ret);

#endif /* KEEL_CACHE_H */
