/* SPDX-License-Identifier: GPL-2.0-only */
/* systemd's watchdog: WATCHDOG=1 from keeld's loop (keeld/watchdog.c). */
#ifndef KEEL_WATCHDOG_H
#define KEEL_WATCHDOG_H

#include "keeld/daemon.h"

/* Start pinging when systemd asks; the period in @ret_ms (0: not asked). */
int keel_watchdog_start(struct keel_daemon *d, unsigned int *ret_ms);
void keel_watchdog_stop(struct keel_daemon *d);

#endif /* KEEL_WATCHDOG_H */
