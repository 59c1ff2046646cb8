/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keeld's durable event record: the sinks of agent/keeld/sink.h made from
 * the [events] keys, and the keel.dropped reports of what they lost.
 */
#ifndef KEEL_SINKS_H
#define KEEL_SINKS_H

#include <jansson.h>

#include "keeld/daemon.h"

/*
 * Start the sinks d->cfg asks for.  A journal without journald is a
 * warning; a file that cannot be opened is an error (@why says which).
 */
int keel_sinks_start(struct keel_daemon *d, char *why, size_t len);
/*
 * Replace the sinks by those @c asks for (reload): the new ones are opened
 * first, and on error (@why) the running ones stay.
 */
int keel_sinks_reconfigure(struct keel_daemon *d, const struct keel_config *c, char *why,
			   size_t len);
/* Write out what the sinks hold (a few seconds at most), stop them. */
void keel_sinks_stop(struct keel_daemon *d);
/* Each sink's counters, for `keelctl status` (events.sinks). */
json_t *keel_sinks_status(struct keel_daemon *d);

#endif /* KEEL_SINKS_H */
