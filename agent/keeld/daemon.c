// SPDX-License-Identifier: GPL-2.0-only
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "keeld/control.h"
#include "keeld/daemon.h"
#include "keeld/sinks.h"
#include "keeld/subsys.h"
#include "keeld/version.h"

int keel_watch_add(struct keel_daemon *d, struct keel_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

int keel_watch_mod(struct keel_daemon *d, struct keel_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(d->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void keel_watch_del(struct keel_daemon *d, struct keel_watch *w)
{
	if (w->cb)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	/*
	 * EPOLL_CTL_DEL does not take back an event epoll_wait already
	 * returned: a subsystem stopped by a client's request (keelctl
	 * subsystem stop) frees or zeroes its watches while its ring buffer's
	 * or timer's event may still wait further down the same batch.
	 */
	for (int i = 0; i < d->batch_len; i++)
		if (d->batch[i].data.ptr == w)
			d->batch[i].data.ptr = NULL;
}

#define KEEL_BATCH_MAX 32

int keel_daemon_dispatch(struct keel_daemon *d, int timeout_ms)
{
	struct epoll_event evs[KEEL_BATCH_MAX];
	int n = epoll_wait(d->epfd, evs, KEEL_BATCH_MAX, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	d->batch = evs;
	d->batch_len = n;
	for (int i = 0; i < n && !d->stopping; i++) {
		struct keel_watch *w = evs[i].data.ptr;

		if (!w)
			continue; /* removed by an earlier callback */
		w->cb(w, evs[i].events);
	}
	d->batch = NULL;
	d->batch_len = 0;
	return n;
}

int keel_timer_start(struct keel_daemon *d, struct keel_watch *w, unsigned int interval_ms)
{
	struct itimerspec its = {
		.it_interval = { interval_ms / 1000, (interval_ms % 1000) * 1000000L },
		.it_value = { interval_ms / 1000, (interval_ms % 1000) * 1000000L },
	};
	void (*cb)(struct keel_watch *, uint32_t) = w->cb;
	int err;

	w->cb = NULL; /* not a live watch until everything succeeded */
	w->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->fd < 0)
		return -errno;
	if (timerfd_settime(w->fd, 0, &its, NULL) < 0) {
		err = -errno;
		goto close_fd;
	}
	err = keel_watch_add(d, w, EPOLLIN);
	if (err)
		goto close_fd;
	w->cb = cb;
	return 0;

close_fd:
	close(w->fd);
	w->fd = -1;
	return err;
}

void keel_timer_stop(struct keel_daemon *d, struct keel_watch *w)
{
	if (!w->cb)
		return;
	keel_watch_del(d, w);
	close(w->fd);
	w->fd = -1;
	w->cb = NULL;
}

void keel_emit(struct keel_daemon *d, const char *subsystem, const char *type, json_t *fields)
{
	keel_event_emit(d->bus, subsystem, type, fields, 0);
}

json_t *keel_daemon_status(struct keel_daemon *d)
{
	struct keel_event_bus_stats st;
	struct utsname uts;
	json_t *subs = json_array();

	uname(&uts);
	keel_event_bus_get_stats(d->bus, &st);
	keel_features_probe_kmod(&d->features); /* keel.ko may come and go */
	for (struct keel_subsys **s = d->subsys; *s; s++)
		json_array_append_new(subs, keel_subsys_status(*s));
	return json_pack(
		"{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:o}}",
		"version", KEEL_VERSION, "libbpf", libbpf_version_string(), "host", d->host,
		"kernel", uts.release, "pid", (json_int_t)getpid(), "uptime_s",
		(json_int_t)(time(NULL) - d->started), "features",
		keel_features_to_json(&d->features), "hooks",
		keel_hooks_to_json(d->features.hooks, d->features.n_hooks), "subsystems", subs,
		"events", "emitted", (json_int_t)st.emitted, "subscribers",
		(json_int_t)st.subscribers, "dropped", (json_int_t)st.dropped, "clients",
		(json_int_t)keel_control_clients(d), "sinks", keel_sinks_status(d));
}
