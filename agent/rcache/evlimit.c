// SPDX-License-Identifier: GPL-2.0-only
/* A limit on events per time window, then one summary (evlimit.h). */
#include "rcache/evlimit.h"

void keel_evlimit_init(struct keel_evlimit *l, uint32_t max, uint64_t window_ns)
{
	pthread_mutex_init(&l->lock, NULL);
	l->window_ns = window_ns;
	l->max = max;
	l->start_ns = 0;
	l->emitted = 0;
	l->suppressed = 0;
}

/* The window is over; its suppressed count. @l->lock held. */
static uint64_t close_window(struct keel_evlimit *l)
{
	uint64_t n = l->suppressed;

	l->start_ns = 0;
	l->emitted = 0;
	l->suppressed = 0;
	return n;
}

bool keel_evlimit_allow(struct keel_evlimit *l, uint64_t now_ns)
{
	bool ok;

	pthread_mutex_lock(&l->lock);
	/* a window over with nothing suppressed needs no summary: reopen */
	if (l->start_ns && now_ns - l->start_ns >= l->window_ns && !l->suppressed)
		close_window(l);
	if (!l->start_ns)
		l->start_ns = now_ns ? now_ns : 1;
	ok = l->emitted < l->max;
	if (ok)
		l->emitted++;
	else
		l->suppressed++;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

uint64_t keel_evlimit_flush(struct keel_evlimit *l, uint64_t now_ns)
{
	uint64_t n = 0;

	pthread_mutex_lock(&l->lock);
	if (l->start_ns && now_ns - l->start_ns >= l->window_ns)
		n = close_window(l);
	pthread_mutex_unlock(&l->lock);
	return n;
}
