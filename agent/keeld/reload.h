/* SPDX-License-Identifier: GPL-2.0-only */
/* Reload: SIGHUP re-reads the configuration (keeld/reload.c). */
#ifndef KEEL_RELOAD_H
#define KEEL_RELOAD_H

#include "keeld/daemon.h"

/*
 * Read the configuration file again; apply what can be applied live, say
 * which keys need a restart (keel.reload), or refuse a bad file whole and
 * keep the running configuration (keel.reload_refused).
 */
void keel_reload(struct keel_daemon *d);

#endif /* KEEL_RELOAD_H */
