// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmnet's clocks and its one deadline timer: departures, whitelist
 * removals and provider retries each have a deadline, and a single
 * one-shot timerfd fires at the earliest.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "vmnet/vmnet.h"

uint64_t vmnet_now_mono(void)
{
	return keel_clock_ns(CLOCK_MONOTONIC);
}

uint64_t vmnet_now_boot(void)
{
	return keel_clock_ns(CLOCK_BOOTTIME);
}

/* The one-shot timer fires at the earliest deadline of any table. */
void vmnet_timer_arm(struct vmnet *v)
{
	struct itimerspec its = { 0 };
	uint64_t next = UINT64_MAX, now;

	if (v->timer.fd <= 0)
		return;
	for (unsigned int i = 0; i < v->max_nics; i++)
		if (v->nics[i].used && v->nics[i].state == NIC_DEPARTING &&
		    v->nics[i].depart_at < next)
			next = v->nics[i].depart_at;
	for (unsigned int i = 0; i < v->max_wl; i++)
		if (v->wl[i].used && v->wl[i].remove_at && v->wl[i].remove_at < next)
			next = v->wl[i].remove_at;
	now = vmnet_provider_deadline(v);
	if (now < next)
		next = now;
	if (next != UINT64_MAX) {
		if (next == 0)
			next = 1;
		its.it_value.tv_sec = (time_t)(next / 1000000000ULL);
		its.it_value.tv_nsec = (long)(next % 1000000000ULL);
	}
	timerfd_settime(v->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_timer(struct keel_watch *w, uint32_t events)
{
	struct vmnet *v = w->data;
	uint64_t buf, now = vmnet_now_mono();

	(void)events;
	if (read(w->fd, &buf, sizeof(buf)) < 0 && errno != EAGAIN)
		return;
	vmnet_nics_expire(v, now);
	vmnet_wl_expire(v, now);
	vmnet_provider_kick(v, now);
	vmnet_timer_arm(v);
}

int vmnet_timer_open(struct vmnet *v, char *why, size_t len)
{
	int err;

	v->timer = (struct keel_watch){ .cb = on_timer, .data = v };
	v->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->timer.fd < 0 || keel_watch_add(v->d, &v->timer, EPOLLIN) < 0) {
		err = -errno;
		snprintf(why, len, "creating the deadline timer: %s", strerror(-err));
		return err;
	}
	return 0;
}

void vmnet_timer_close(struct vmnet *v)
{
	if (v->timer.fd > 0) {
		keel_watch_del(v->d, &v->timer);
		close(v->timer.fd);
	}
}
