/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A limit on how many events of one kind are emitted per time window: the
 * first @max of a window go out one by one, the rest are only counted,
 * and once the window is over the count is handed back for one summary
 * event.  A corrupted cache file can fail thousands of lookups a second;
 * the event bus (and whoever reads it) must not be flooded by them.
 */
#ifndef KEEL_RCACHE_EVLIMIT_H
#define KEEL_RCACHE_EVLIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct keel_evlimit {
	pthread_mutex_t lock;
	uint64_t window_ns;
	uint32_t max;
	uint64_t start_ns;   /* this window's first event; 0: none yet */
	uint32_t emitted;    /* in this window */
	uint64_t suppressed; /* in this window, not emitted */
};

void keel_evlimit_init(struct keel_evlimit *l, uint32_t max, uint64_t window_ns);
/* One more event at @now_ns: true to emit it, false when it was counted. */
bool keel_evlimit_allow(struct keel_evlimit *l, uint64_t now_ns);
/*
 * The events suppressed in a window that is over at @now_ns (then a new
 * window starts with the next event), 0 otherwise: when not 0, emit one
 * summary with that count.
 */
uint64_t keel_evlimit_flush(struct keel_evlimit *l, uint64_t now_ns);

#endif /* KEEL_RCACHE_EVLIMIT_H */
