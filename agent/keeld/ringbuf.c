// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keeld/ringbuf.h"

int keel_ringbuf_open(struct keel_daemon *d, const struct bpf_map *map,
		      ring_buffer_sample_fn fn, void *ctx, struct keel_watch *w,
		      struct ring_buffer **ret_rb, char *why, size_t len)
{
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map), fn, ctx, NULL);
	int err;

	*ret_rb = rb;
	if (!rb) {
		err = -errno;
		snprintf(why, len, "creating the ring buffer reader of %s: %s",
			 bpf_map__name(map), strerror(-err));
		return err;
	}
	w->fd = ring_buffer__epoll_fd(rb);
	err = keel_watch_add(d, w, EPOLLIN);
	if (err)
		snprintf(why, len, "watching the ring buffer %s: %s", bpf_map__name(map),
			 strerror(-err));
	return err;
}
