/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The keeld process: one thread, one epoll loop.  Everything that can wake
 * keeld (signals, the control socket, ring buffers, timers) is a watch: an
 * fd and a callback.  One thread means no locks, and one writer to every
 * BPF map.
 */
#ifndef KEEL_DAEMON_H
#define KEEL_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <limits.h>
#include <time.h>

#include "keeld/config.h"
#include "keeld/events.h"
#include "keeld/probe.h"

struct keel_daemon;
struct keel_subsys;
struct keel_control;
struct keel_sinks;
struct keel_metrics;

struct keel_watch {
	int fd;
	void (*cb)(struct keel_watch *w, uint32_t events);
	void *data;
};

struct keel_daemon {
	struct keel_config cfg;
	struct keel_features features;
	struct keel_event_bus *bus;
	struct keel_control *control;
	struct keel_sinks *sinks;     /* journal, file (keeld/sinks.c) */
	struct keel_metrics *metrics; /* [metrics] listen (keeld/metrics.c) */
	struct keel_watch *watchdog;  /* systemd's WatchdogSec (keeld/watchdog.c) */
	struct keel_subsys **subsys;  /* NULL-terminated */
	int epfd;
	/*
	 * The epoll_wait batch being dispatched (keel_daemon_dispatch): a
	 * callback may remove a watch whose event is further down the batch,
	 * and keel_watch_del() forgets that event there.
	 */
	struct epoll_event *batch;
	int batch_len;
	bool stopping;
	int exit_status;
	time_t started;
	char host[64];
	char config_path[PATH_MAX]; /* given with --config; "": the default */
};

int keel_watch_add(struct keel_daemon *d, struct keel_watch *w, uint32_t events);
int keel_watch_mod(struct keel_daemon *d, struct keel_watch *w, uint32_t events);
/*
 * Stop watching @w.  Once this returns, keeld never calls @w again, even for
 * an event epoll already returned in the batch being dispatched, so the
 * caller may free or reuse @w at once.
 */
void keel_watch_del(struct keel_daemon *d, struct keel_watch *w);

/*
 * Wait up to @timeout_ms (-1: forever) for events and call each ready watch's
 * callback, in epoll's order, until d->stopping.  Returns the number of
 * events epoll returned, 0 on EINTR or timeout, a negative errno on error.
 */
int keel_daemon_dispatch(struct keel_daemon *d, int timeout_ms);

/* A periodic timer: a timerfd watch firing every @interval_ms. */
int keel_timer_start(struct keel_daemon *d, struct keel_watch *w, unsigned int interval_ms);
void keel_timer_stop(struct keel_daemon *d, struct keel_watch *w);

/* Emit an event from @subsystem: see keel_event_emit(). */
void keel_emit(struct keel_daemon *d, const char *subsystem, const char *type, json_t *fields);

/* Status of the whole daemon, as `keelctl status --json` prints it. */
json_t *keel_daemon_status(struct keel_daemon *d);

#endif /* KEEL_DAEMON_H */
