/* SPDX-License-Identifier: GPL-2.0-only */
/* keel-rcache's socket server: one thread per client over the store. */
#ifndef KEEL_RCACHE_SERVER_H
#define KEEL_RCACHE_SERVER_H

#include "rcache/autosize.h"
#include "rcache/store.h"

struct keel_rcache_server;

struct keel_rcache_server_opts {
	const char *socket;	  /* path; a stale socket file is replaced */
	unsigned int max_clients; /* connections at once; more get EUSERS */
	struct keel_rcache_store *store;
	/* per-disk limits from live curves (NULL: none); sized every
	 * size_interval_ms */
	struct keel_rcache_autosize *autosize;
	unsigned int size_interval_ms;
	keel_rcache_event_fn event;
	void *event_ctx;
};

int keel_rcache_server_start(const struct keel_rcache_server_opts *o,
			     struct keel_rcache_server **ret, char *err, size_t errlen);
/* Serve until *stop becomes non-zero (checked every 200 ms); sweeps the
 * dirty marks once a second, sizes the disks every size_interval_ms. */
int keel_rcache_server_run(struct keel_rcache_server *srv, volatile int *stop);
/* Hang up on every client, wait for their threads, remove the socket. */
void keel_rcache_server_stop(struct keel_rcache_server *srv);

#endif /* KEEL_RCACHE_SERVER_H */
