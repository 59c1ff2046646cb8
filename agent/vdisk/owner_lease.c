// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lease: the renewer bumps the owner record every renew_ms; the gate
 * every read, write and discard passes before it reaches the disk; fencing
 * when the lease ran out or another host claimed the next generation.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vdisk/owner_srv.h"

void keel_owner_fence(struct keel_owner_srv *s, const char *why)
{
	int st = ST_OWNER;

	if (atomic_compare_exchange_strong(&s->state, &st, ST_FENCED) ||
	    (st = ST_RELEASING, atomic_compare_exchange_strong(&s->state, &st, ST_FENCED)))
		event(s, json_pack("{s:s, s:s, s:I, s:s}", "type", "vdisk.fenced", "disk", s->disk,
				   "generation", (json_int_t)s->rec.generation, "reason", why));
}

int keel_owner_srv_gate(struct keel_owner_srv *s)
{
	int st = atomic_load(&s->state);

	if (st != ST_OWNER && st != ST_RELEASING)
		return -EPERM;
	if (keel_owner_mono_ms() >= atomic_load(&s->valid_until)) {
		keel_owner_fence(s, "the lease was not renewed in time");
		return -EPERM;
	}
	if (!access(s->next, F_OK)) {
		keel_owner_fence(s, "a later generation exists: another host took the disk over");
		return -EPERM;
	}
	return 0;
}

/* Our record as it goes to the datastore. */
void keel_owner_fill_rec(struct keel_owner_srv *s, struct keel_owner_rec *r, uint64_t gen)
{
	memset(r, 0, sizeof(*r));
	r->generation = gen;
	snprintf(r->host, sizeof(r->host), "%s", s->host);
	snprintf(r->addr, sizeof(r->addr), "%s", s->listen);
	r->lease_ms = s->c.lease_ms;
	r->expires_ms = keel_owner_now_ms() + s->c.lease_ms;
	r->pid = getpid();
}

static int renew_locked(struct keel_owner_srv *s)
{
	struct keel_owner_rec r = s->rec;
	int64_t t0 = keel_owner_mono_ms();
	char err[PATH_MAX + 256];
	int ret;

	r.renewals++;
	r.expires_ms = keel_owner_now_ms() + s->c.lease_ms;
	ret = keel_owner_update(s->disk, &r, err, sizeof(err));
	if (ret == -ESTALE) {
		keel_owner_fence(s, err);
	} else if (ret) {
		event(s, json_pack("{s:s, s:s, s:s}", "type", "vdisk.renew_failed", "disk", s->disk,
				   "error", err));
	} else {
		s->rec = r;
		atomic_store(&s->valid_until, t0 + s->c.lease_ms - margin(s));
	}
	return ret;
}

void *keel_owner_renewer(void *arg)
{
	struct keel_owner_srv *s = arg;
	struct pollfd p = { .fd = s->stop[0], .events = POLLIN };

	while (poll(&p, 1, (int)s->c.renew_ms) == 0) {
		pthread_mutex_lock(&s->op);
		if (atomic_load(&s->state) == ST_OWNER) {
			renew_locked(s);
			keel_owner_srv_gate(s); /* fences when the lease ran out */
		}
		pthread_mutex_unlock(&s->op);
	}
	return NULL;
}

bool keel_owner_srv_clean(struct keel_owner_srv *s)
{
	return atomic_load(&s->state) == ST_STANDBY;
}
