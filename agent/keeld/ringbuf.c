// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keeld/ringbuf.h"

#define DROP_CHECK_MS 1000

void keel_ringbuf_consume(struct keel_ringbuf *r)
{
	if (r->rb)
		ring_buffer__consume(r->rb);
}

/* Drops happen in the kernel; report each new batch as one event. */
static void report_drops(struct keel_ringbuf *r)
{
	__u64 total;

	if (!r->read_dropped || r->read_dropped(r->ctx, &total) || total == r->dropped_reported)
		return;
	keel_emit(r->d, r->subsystem, r->drop_event,
		  json_pack("{s:I, s:I}", "count", (json_int_t)(total - r->dropped_reported),
			    "total", (json_int_t)total));
	r->dropped_reported = total;
}

static void on_readable(struct keel_watch *w, uint32_t events)
{
	struct keel_ringbuf *r = w->data;

	(void)events;
	if (r->woken)
		r->woken(r->ctx);
	else
		keel_ringbuf_consume(r);
}

static void on_timer(struct keel_watch *w, uint32_t events)
{
	struct keel_ringbuf *r = w->data;
	unsigned int period = r->poll_ms ? r->poll_ms : DROP_CHECK_MS;
	__u64 buf;

	(void)events;
	if (read(w->fd, &buf, sizeof(buf)) < 0)
		return;
	if (r->poll_ms)
		keel_ringbuf_consume(r);
	if (++r->ticks % (period >= DROP_CHECK_MS ? 1 : DROP_CHECK_MS / period))
		return;
	report_drops(r);
}

int keel_ringbuf_open(struct keel_ringbuf *r, struct keel_daemon *d, const struct bpf_map *map,
		      ring_buffer_sample_fn fn, void *ctx, char *why, size_t len)
{
	int err;

	r->d = d;
	r->ctx = ctx;
	r->rb = ring_buffer__new(bpf_map__fd(map), fn, ctx, NULL);
	if (!r->rb) {
		err = -errno;
		snprintf(why, len, "creating the ring buffer reader of %s: %s", bpf_map__name(map),
			 strerror(-err));
		return err;
	}
	r->watch = (struct keel_watch){ .cb = on_readable, .data = r };
	r->watch.fd = ring_buffer__epoll_fd(r->rb);
	err = keel_watch_add(d, &r->watch, EPOLLIN);
	if (err) {
		r->watch.cb = NULL; /* not watched: nothing to remove */
		snprintf(why, len, "watching the ring buffer %s: %s", bpf_map__name(map),
			 strerror(-err));
		return err;
	}
	r->timer = (struct keel_watch){ .cb = on_timer, .data = r };
	err = keel_timer_start(d, &r->timer, r->poll_ms ? r->poll_ms : DROP_CHECK_MS);
	if (err)
		snprintf(why, len, "starting the timer of the ring buffer %s: %s",
			 bpf_map__name(map), strerror(-err));
	return err;
}

void keel_ringbuf_close(struct keel_ringbuf *r)
{
	if (!r->rb)
		return;
	keel_timer_stop(r->d, &r->timer);
	keel_ringbuf_consume(r); /* deliver what is already there */
	keel_watch_del(r->d, &r->watch);
	ring_buffer__free(r->rb);
	r->rb = NULL;
	r->watch.cb = NULL;
}
