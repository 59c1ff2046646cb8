/* SPDX-License-Identifier: GPL-2.0-only */
/* keelctl's side of the control socket protocol (see agent/keeld/control.h). */
#ifndef KEEL_CLIENT_H
#define KEEL_CLIENT_H

#include <jansson.h>
#include <stdio.h>

struct keel_client {
	int fd;
	FILE *in; /* buffered reader of the socket */
};

/* Connect to keeld at @path; -errno and a message in @why on failure. */
int keel_client_connect(struct keel_client *c, const char *path, char *why, size_t len);
void keel_client_close(struct keel_client *c);
/* Send @req (not taken) as one line. */
int keel_client_send(struct keel_client *c, json_t *req);
/* Read one JSON line; NULL at end of stream or on a malformed line. */
json_t *keel_client_recv(struct keel_client *c, char *why, size_t len);
/*
 * Send @req and read the reply; on {"ok": false} return NULL with keeld's
 * error in @why.
 */
json_t *keel_client_call(struct keel_client *c, json_t *req, char *why, size_t len);

#endif /* KEEL_CLIENT_H */
