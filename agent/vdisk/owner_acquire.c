// SPDX-License-Identifier: GPL-2.0-only
/*
 * Acquire: read the owner record, ask its owner to release the disk (or
 * wait out the lease of an owner that does not answer), claim generation
 * + 1 with link(), open the disk.
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

/* Take generation @cur + 1 and open the disk.  Under op. */
static int claim_and_open(struct keel_owner_srv *s, const struct keel_owner_rec *cur,
			  const char *how, int64_t started, char *err, size_t errlen)
{
	struct keel_owner_rec r;
	int64_t t0 = keel_owner_mono_ms();
	char e2[256];
	int ret;

	keel_owner_fill_rec(s, &r, cur ? cur->generation + 1 : 1);
	ret = keel_owner_claim(s->disk, &r, err, errlen);
	if (ret)
		return ret;
	s->rec = r;
	keel_owner_path(s->disk, r.generation + 1, s->next, sizeof(s->next));
	atomic_store(&s->valid_until, t0 + s->c.lease_ms - margin(s));
	atomic_store(&s->state, ST_OWNER);
	ret = s->c.open(s->c.ctx, err, errlen);
	if (ret) {
		atomic_store(&s->state, ST_STANDBY);
		r.released = true;
		keel_owner_update(s->disk, &r, e2, sizeof(e2));
		return ret;
	}
	event(s, json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "type",
			   !strcmp(how, "takeover") ? "vdisk.takeover" : "vdisk.acquired", "disk",
			   s->disk, "generation", (json_int_t)r.generation, "from",
			   cur ? cur->host : "", "how", how, "ms",
			   (json_int_t)(keel_owner_mono_ms() - started)));
	return 0;
}

/*
 * The owner did not answer: wait until its lease ran out with no renewal,
 * then take over.  A renewal means it is alive (the link to it is cut, or
 * it refuses to talk): do not take the disk from a live owner.
 */
static int wait_lease(struct keel_owner_srv *s, struct keel_owner_rec *cur, char *err,
		      size_t errlen)
{
	int64_t t0 = keel_owner_mono_ms();
	struct keel_owner_rec now;
	int r;

	for (;;) {
		r = keel_owner_read(s->disk, &now, err, errlen);
		if (r)
			return r;
		if (now.generation != cur->generation) {
			snprintf(err, errlen,
				 "%s: host %s took the disk (generation %" PRIu64
				 ") while this host waited for the lease of %s",
				 s->disk, now.host, now.generation, cur->host);
			return -EEXIST;
		}
		if (now.released) {
			*cur = now;
			return 0;
		}
		if (now.renewals != cur->renewals) {
			snprintf(
				err, errlen,
				"%s: the owner %s (%s) renews its lease but does not answer release requests: not taking the disk from a live owner",
				s->disk, cur->host, cur->addr);
			return -EHOSTUNREACH;
		}
		if (keel_owner_mono_ms() - t0 >= cur->lease_ms)
			return 1; /* expired */
		usleep(POLL_MS * 1000);
	}
}

/* The owner's refusal code as the requester's error (keel_owner_code() maps it back). */
static int refusal_errno(const char *code)
{
	static const struct {
		const char *code;
		int err;
	} map[] = {
		{ "forged", -EKEYREJECTED },
		{ "replayed", -ETIME },
		{ "malformed", -EBADMSG },
		{ "failed", -EIO },
	};

	for (size_t i = 0; code && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(code, map[i].code))
			return map[i].err;
	return -EBUSY;
}

const char *keel_owner_code(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -EBUSY:
		return "busy";
	case -EEXIST:
	case -ESTALE:
		return "lost";
	case -EHOSTUNREACH:
		return "unreachable";
	case -EKEYREJECTED:
		return "forged";
	case -ETIME:
		return "replayed";
	case -EBADMSG:
		return "malformed";
	case -EAGAIN:
		return "again";
	default:
		return "failed";
	}
}

static int acquire_locked(struct keel_owner_srv *s, char *err, size_t errlen)
{
	int64_t started = keel_owner_mono_ms();
	struct keel_owner_rec cur;
	json_t *req, *ans = NULL;
	char why[1024];
	uint64_t first = 0;
	int r, tries;

	if (atomic_load(&s->state) == ST_OWNER)
		return 0;
	if (atomic_load(&s->state) == ST_FENCED) {
		/* the old chain may still be open: close it, writing nothing */
		s->c.close(s->c.ctx, why, sizeof(why));
		atomic_store(&s->state, ST_STANDBY);
	}
	for (tries = 0; tries < 4; tries++) {
		r = keel_owner_read(s->disk, &cur, err, errlen);
		if (r == -ENOENT)
			return claim_and_open(s, NULL, "new", started, err, errlen);
		if (r)
			return r;
		/* two requesters at once: the one that finds a newer owner
		 * than the one it asked lost the race */
		if (!tries)
			first = cur.generation;
		else if (cur.generation != first) {
			snprintf(err, errlen,
				 "%s: host %s became the owner first (generation %" PRIu64 ")",
				 s->disk, cur.host, cur.generation);
			return -EEXIST;
		}
		if (cur.released)
			return claim_and_open(s, &cur, "released", started, err, errlen);
		if (!strcmp(cur.host, s->host) && cur.pid != getpid() && kill(cur.pid, 0) &&
		    errno == ESRCH) /* our own host's dead server */
			return claim_and_open(s, &cur, "takeover", started, err, errlen);
		req = json_pack("{s:s, s:s, s:I, s:s, s:s}", "op", "release", "disk", base(s->disk),
				"generation", (json_int_t)cur.generation, "from", s->host, "addr",
				s->listen);
		event(s, json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "vdisk.release_requested",
				   "disk", s->disk, "owner", cur.host, "addr", cur.addr,
				   "generation", (json_int_t)cur.generation));
		r = keel_owner_call(s->key, cur.addr, req, s->c.answer_ms, &ans, why, sizeof(why));
		json_decref(req);
		if (r == -EBADMSG || r == -EKEYREJECTED || r == -ETIME) {
			/* an answer we cannot trust is no answer: never act on it */
			snprintf(err, errlen, "%s: the owner %s: %s", s->disk, cur.host, why);
			return r;
		}
		if (r) {
			r = wait_lease(s, &cur, err, errlen);
			if (r < 0)
				return r;
			return claim_and_open(s, &cur, r ? "takeover" : "released", started, err,
					      errlen);
		}
		if (json_is_true(json_object_get(ans, "ok"))) {
			json_decref(ans);
			r = keel_owner_read(s->disk, &cur, err, errlen);
			if (r)
				return r;
			if (!cur.released)
				continue;
			return claim_and_open(s, &cur, "released", started, err, errlen);
		}
		if (!strcmp(json_string_value(json_object_get(ans, "code")) ?: "", "not_owner")) {
			json_decref(ans);
			continue; /* the record moved on: read it again */
		}
		snprintf(err, errlen, "%s: the owner %s refused to release it: %s", s->disk,
			 cur.host, json_string_value(json_object_get(ans, "error")) ?: "no reason");
		r = refusal_errno(json_string_value(json_object_get(ans, "code")));
		json_decref(ans);
		return r;
	}
	snprintf(err, errlen, "%s: the owner record kept changing; try again", s->disk);
	return -EAGAIN;
}

int keel_owner_srv_acquire(struct keel_owner_srv *s, char *err, size_t errlen)
{
	int r;

	pthread_mutex_lock(&s->op);
	r = acquire_locked(s, err, errlen);
	pthread_mutex_unlock(&s->op);
	return r;
}
