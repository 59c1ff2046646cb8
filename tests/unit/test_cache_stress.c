// SPDX-License-Identifier: GPL-2.0-only
/*
 * Multi-threaded stress of the cache: lock-free lookups racing inserts,
 * replacing inserts, removes and evictions on several shards.  Built two ways: as a Criterion
 * test (make), and with -DKEEL_TSAN_MAIN as a plain program for
 * ThreadSanitizer (make tsan-cache), because Criterion's forking runner
 * does not start under TSan.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "keel/cache.h"

#define THREADS 4
#define OPS	200000
#define KEYS	3000

struct worker {
	struct keel_cache *c;
	int id;
	__u64 wrong_slot, accesses;
};

static __u64 rnd(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool same_parity(void *ctx, __u64 key, __u32 slot)
{
	(void)slot;
	return key % 2 == *(__u64 *)ctx % 2;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	__u64 r = 0x9e3779b97f4a7c15ull * (__u64)(w->id + 1);

	for (int i = 0; i < OPS; i++) {
		__u64 x = rnd(&r), key = x % KEYS, k2;
		__u32 slot;

		switch (x >> 60) {
		case 0:
			keel_cache_remove(w->c, key);
			break;
		case 1:
			keel_cache_insert(w->c, key, NULL, NULL, NULL);
			break;
		case 2:
			keel_cache_access(w->c, key);
			w->accesses++;
			break;
		case 3:
			/* an owner (the key's parity) replacing its own */
			keel_cache_insert_replacing(w->c, key, same_parity, &key, NULL, NULL);
			break;
		default:
			/* A hit's slot holds the key, unless the key was
			 * evicted in between, which a second lookup shows. */
			if (keel_cache_lookup(w->c, key, &slot) &&
			    keel_cache_slot_key(w->c, slot, &k2) && k2 != key &&
			    keel_cache_lookup(w->c, key, &slot) &&
			    keel_cache_slot_key(w->c, slot, &k2) && k2 != key)
				w->wrong_slot++;
			if (!keel_cache_lookup(w->c, key, NULL))
				keel_cache_insert(w->c, key, NULL, NULL, NULL);
		}
	}
	return NULL;
}

/* Returns NULL when all invariants hold, else what broke. */
static const char *stress(char *msg, size_t len)
{
	struct keel_cache_opts o = { .capacity = 1024, .ghost_capacity = 2048, .shards = 4 };
	struct keel_cache *c;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct keel_cache_stats st;
	__u64 cached = 0, accesses = 0;
	const char *bad = NULL;

	if (keel_cache_new(&o, &c))
		return "keel_cache_new failed";
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .c = c, .id = i };
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		if (w[i].wrong_slot)
			bad = "a lookup returned a slot holding another key";
		accesses += w[i].accesses;
	}
	keel_cache_get_stats(c, &st);
	for (__u64 k = 0; k < KEYS; k++) {
		enum keel_cache_where wh = keel_cache_where(c, k);
		bool hit = keel_cache_lookup(c, k, NULL);

		if (hit != (wh == KEEL_CACHE_COLD || wh == KEEL_CACHE_HOT))
			bad = "lookup and where() disagree";
		cached += hit;
	}
	if (st.cached > 1024)
		bad = "capacity exceeded";
	if (st.ghost_live > 2048)
		bad = "ghost over its bound";
	if (cached != st.cached)
		bad = "hash table and queue counts disagree";
	if (st.hits + st.misses != accesses)
		bad = "keel_cache_access() hits + misses differ from the calls";
	snprintf(msg, len,
		 "%d threads x %d mixed lookup/insert/replace/remove on 4 "
		 "shards: %llu cached (%llu cold, %llu hot), %llu ghosts, "
		 "%llu evictions, %llu accesses counted as %llu hits + %llu "
		 "misses; %s",
		 THREADS, OPS, (unsigned long long)st.cached, (unsigned long long)st.cold,
		 (unsigned long long)st.hot, (unsigned long long)st.ghost_live,
		 (unsigned long long)st.evictions, (unsigned long long)accesses,
		 (unsigned long long)st.hits, (unsigned long long)st.misses,
		 bad ? bad : "invariants hold");
	keel_cache_free(c);
	return bad;
}

#ifdef KEEL_TSAN_MAIN
int main(void)
{
	char msg[512];
	const char *bad = stress(msg, sizeof(msg));

	printf("%s\n%s\n", msg, bad ? "0 passed, 1 failed" : "1 passed, 0 failed");
	return bad ? 1 : 0;
}
#else
#include <criterion/criterion.h>
#include <criterion/logging.h>

Test(cache_stress, threads_keep_invariants, .timeout = 120)
{
	char msg[512];
	const char *bad = stress(msg, sizeof(msg));

	cr_log_info("%s", msg);
	cr_assert_null(bad, "%s", msg);
}
#endif
