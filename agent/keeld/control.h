/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket keelctl talks to.  Protocol (docs/keelctl.md): the
 * client sends one JSON object per line, {"cmd": ...}; keeld answers one
 * JSON line {"ok": true, ...} or {"ok": false, "error": "..."}.  The
 * "events" command turns the connection into an event subscriber.
 * Commands that change something need a privileged peer: root, or a member
 * of [control] group, judged from SO_PEERCRED.
 */
#ifndef KEEL_CONTROL_H
#define KEEL_CONTROL_H

#include "keeld/daemon.h"

/* Create and listen on [control] socket; -errno and @why on failure. */
int keel_control_open(struct keel_daemon *d, char *why, size_t len);
/* Close every connection and remove the socket file. */
void keel_control_close(struct keel_daemon *d);
unsigned int keel_control_clients(const struct keel_daemon *d);

#endif /* KEEL_CONTROL_H */
