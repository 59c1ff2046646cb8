// SPDX-License-Identifier: GPL-2.0-only
/*
 * systemd's watchdog (WatchdogSec= in the unit): keeld's loop sends
 * WATCHDOG=1 every half period from a timer on the same loop, so a keeld
 * whose loop is stuck (and thus no longer answers its ring buffers or
 * keelctl) stops pinging and systemd restarts it.  Off when systemd did
 * not ask (no WATCHDOG_USEC).
 */
#include <errno.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "keeld/watchdog.h"

static void on_tick(struct keel_watch *w, uint32_t events)
{
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) < 0)
		return;
	sd_notify(0, "WATCHDOG=1");
}

int keel_watchdog_start(struct keel_daemon *d, unsigned int *ret_ms)
{
	uint64_t usec = 0;
	unsigned int ms;
	int err;

	*ret_ms = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || !usec)
		return 0;
	ms = (unsigned int)(usec / 2000);
	if (!ms)
		ms = 1;
	d->watchdog = calloc(1, sizeof(*d->watchdog));
	if (!d->watchdog)
		return -ENOMEM;
	d->watchdog->cb = on_tick;
	err = keel_timer_start(d, d->watchdog, ms);
	if (err)
		return err;
	sd_notify(0, "WATCHDOG=1");
	*ret_ms = ms;
	return 0;
}

void keel_watchdog_stop(struct keel_daemon *d)
{
	if (!d->watchdog)
		return;
	keel_timer_stop(d, d->watchdog);
	free(d->watchdog);
	d->watchdog = NULL;
}
