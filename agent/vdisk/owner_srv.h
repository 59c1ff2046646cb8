/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The disk server's side of ownership, shared by its files (one idea each):
 *
 *   owner_acquire.c  read the owner, ask it to release (or wait out its
 *                    lease), claim generation + 1, open
 *   owner_release.c  the release listener: signed requests from other
 *                    hosts, refusals, closing the disk for a requester
 *   owner_lease.c    the lease renewer, self-fencing and the I/O gate
 *   owner_server.c   start and stop, the local control socket, status
 *
 * States: STANDBY (not the owner, disk closed), OWNER, RELEASING (closing
 * for a requester: the I/O already admitted finishes and is flushed),
 * FENCED (the lease ran out or another host took the disk: nothing more
 * reaches the disk until an acquire).
 *
 * The lease is a delta lease (as sanlock's): the owner bumps "renewals" in
 * its record every renew_ms; a requester that gets no answer watches the
 * record with its own monotonic clock and takes over only after lease_ms
 * without a change.  The owner stops admitting I/O at its last successful
 * renewal's start + lease_ms - lease_ms / 5, by its own monotonic clock, so
 * it has stopped before any requester can take over, and no clock needs to
 * agree across hosts.
 */
#ifndef KEEL_VDISK_OWNER_SRV_H
#define KEEL_VDISK_OWNER_SRV_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include "vdisk/owner.h"

enum { ST_STANDBY, ST_OWNER, ST_RELEASING, ST_FENCED };
static const char *const state_names[]
	__attribute__((unused)) = { "standby", "owner", "releasing", "fenced" };

#define REQUEST_MAX 4096
#define POLL_MS	    50 /* how often a requester looks at the record */

struct keel_owner_srv {
	struct keel_owner_srv_conf c;
	char disk[PATH_MAX], host[KEEL_OWNER_HOST_MAX], listen[KEEL_OWNER_ADDR_MAX];
	char control[PATH_MAX];
	struct keel_owner_key *key;
	struct keel_owner_nonces *nonces;
	pthread_mutex_t op;	   /* acquire, release, renewal: one at a time */
	struct keel_owner_rec rec; /* ours, while OWNER (under op) */
	_Atomic int state;
	_Atomic int64_t valid_until; /* monotonic ms: the gate closes then */
	_Atomic bool migrating;	     /* release even with clients connected */
	char next[PATH_MAX];	     /* generation + 1's record: fenced if it exists */
	int listen_fd, control_fd, stop[2];
	pthread_t listener, controller, renewer;
	bool threads;
};

static inline void event(struct keel_owner_srv *s, json_t *e)
{
	if (e && s->c.event)
		s->c.event(s->c.ctx, e);
	json_decref(e);
}

static inline const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static inline unsigned int margin(const struct keel_owner_srv *s)
{
	return s->c.lease_ms / 5;
}

/* owner_lease.c */
void keel_owner_fence(struct keel_owner_srv *s, const char *why);
void keel_owner_fill_rec(struct keel_owner_srv *s, struct keel_owner_rec *r, uint64_t gen);
void *keel_owner_renewer(void *arg);
/* owner_release.c */
int keel_owner_release_locked(struct keel_owner_srv *s, const char *to, char *err, size_t errlen);
void *keel_owner_listener(void *arg);
/* owner_server.c: one JSON line each way */
ssize_t keel_owner_read_line(int fd, char *buf, size_t cap, int timeout_ms);
void keel_owner_send_json(int fd, json_t *o);

#endif /* KEEL_VDISK_OWNER_SRV_H */
