// SPDX-License-Identifier: GPL-2.0-only
/*
 * The read cache's full flush racing admissions: after a flush returns, no
 * block read from storage before it may be served.  Readers look up, "read"
 * missing blocks from a storage whose content is a generation number, and
 * admit them; a flusher changes the storage (the generation), flushes the
 * whole cache, then publishes the generation it flushed for.  A hit tagged
 * with an older generation than the one published before its lookup began
 * is a stale read.  Real store, real threads, no hooks: the race is caught
 * by running it many times.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rcache/store.h"

#define BS	4096u
#define READERS 2
#define DISKS	3
#define RUN	64  /* blocks per lookup and admission */
#define SPAN	256 /* blocks each disk reads */
#define FLUSHES 400

struct race {
	struct keel_rcache_store *s;
	uint64_t gen;	  /* the storage's content: atomic */
	uint64_t flushed; /* the generation the last finished flush was for */
	bool done;
	uint64_t stale, hits, admitted;
};

struct reader {
	struct race *r;
	unsigned int id;
};

static void *reader(void *arg)
{
	struct reader *rd = arg;
	struct race *r = rd->r;
	uint64_t x = 0x9e3779b97f4a7c15ull * (rd->id + 1);
	uint8_t hits[RUN / 8];
	void *buf;

	if (posix_memalign(&buf, 4096, (size_t)RUN * BS))
		return NULL;
	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		uint64_t f = __atomic_load_n(&r->flushed, __ATOMIC_ACQUIRE), seq, g;
		uint64_t disk, first;
		int n;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		disk = 0x100 + x % DISKS;
		first = (x >> 8) % (SPAN - RUN);
		n = keel_rcache_store_lookup(r->s, disk, 1, first, RUN, buf, hits, &seq);
		for (unsigned int i = 0; n > 0 && i < RUN; i++) {
			if (!(hits[i / 8] & (1u << (i % 8))))
				continue;
			__atomic_add_fetch(&r->hits, 1, __ATOMIC_RELAXED);
			if (*(uint64_t *)((char *)buf + (size_t)i * BS) < f)
				__atomic_add_fetch(&r->stale, 1, __ATOMIC_RELAXED);
		}
		/* the read from storage, after the lookup: the whole run is
		 * read again, tagged with the storage's generation now */
		g = __atomic_load_n(&r->gen, __ATOMIC_ACQUIRE);
		for (unsigned int i = 0; i < RUN; i++) {
			uint64_t *w = (uint64_t *)((char *)buf + (size_t)i * BS);

			w[0] = g;
			w[1] = disk;
			w[2] = first + i;
		}
		n = keel_rcache_store_admit(r->s, disk, 1, first, RUN, buf, seq);
		if (n > 0)
			__atomic_add_fetch(&r->admitted, (uint64_t)n, __ATOMIC_RELAXED);
	}
	free(buf);
	return NULL;
}

Test(rcache_flush_race, no_block_read_before_a_flush_is_served_after_it, .timeout = 300)
{
	char dir[] = "/var/tmp/keel-rcache-race.XXXXXX", err[512], cmd[128];
	struct keel_rcache_store_opts o = { 0 };
	struct reader rd[READERS];
	pthread_t t[READERS];
	struct race r = { 0 };

	/* /var/tmp, not $TMPDIR: the cache file is O_DIRECT, as in use
	 * (test_rcache_store.c says why) */
	cr_assert(mkdtemp(dir));
	o.dir = dir;
	o.size = 1024 * BS;
	cr_assert_eq(keel_rcache_store_open(&o, &r.s, err, sizeof(err)), 0, "%s", err);
	for (unsigned int i = 0; i < READERS; i++) {
		rd[i] = (struct reader){ &r, i };
		cr_assert_eq(pthread_create(&t[i], NULL, reader, &rd[i]), 0);
	}
	for (unsigned int i = 0; i < FLUSHES; i++) {
		uint64_t g = __atomic_add_fetch(&r.gen, 1, __ATOMIC_ACQ_REL);

		keel_rcache_store_drop(r.s, UINT64_MAX, "test: the storage changed");
		__atomic_store_n(&r.flushed, g, __ATOMIC_RELEASE);
		usleep(2000);
	}
	__atomic_store_n(&r.done, true, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < READERS; i++)
		pthread_join(t[i], NULL);
	keel_rcache_store_close(r.s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	cr_log_info("checked: %d full flushes while %d readers looked up and admitted %d-block "
		    "runs of %d disks: %llu blocks admitted, %llu hits, %llu of them read from "
		    "storage before a flush that had finished when their lookup began",
		    FLUSHES, READERS, RUN, DISKS, (unsigned long long)r.admitted,
		    (unsigned long long)r.hits, (unsigned long long)r.stale);
	cr_assert_gt(r.hits, 0, "no hits: the test checked nothing");
	cr_assert_eq(r.stale, 0, "%llu stale blocks served after a full flush",
		     (unsigned long long)r.stale);
}
