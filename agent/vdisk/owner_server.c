// SPDX-License-Identifier: GPL-2.0-only
/*
 * The disk server's side of ownership: acquire (read the owner, ask it to
 * release, claim generation + 1, open), release on a signed request, the
 * lease renewer, and the gate every I/O passes before it reaches the disk.
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

#include "vdisk/owner.h"

enum { ST_STANDBY, ST_OWNER, ST_RELEASING, ST_FENCED };
static const char *const state_names[] = { "standby", "owner", "releasing", "fenced" };

#define REQUEST_MAX 4096
#define POLL_MS 50		/* how often a requester looks at the record */

struct keel_owner_srv {
	struct keel_owner_srv_conf c;
	char disk[PATH_MAX], host[KEEL_OWNER_HOST_MAX], listen[KEEL_OWNER_ADDR_MAX];
	char control[PATH_MAX];
	struct keel_owner_key *key;
	struct keel_owner_nonces *nonces;
	pthread_mutex_t op;		/* acquire, release, renewal: one at a time */
	struct keel_owner_rec rec;	/* ours, while OWNER (under op) */
	_Atomic int state;
	_Atomic int64_t valid_until;	/* monotonic ms: the gate closes then */
	_Atomic bool migrating;		/* release even with clients connected */
	char next[PATH_MAX];		/* generation + 1's record: fenced if it exists */
	int listen_fd, control_fd, stop[2];
	pthread_t listener, controller, renewer;
	bool threads;
};

static void event(struct keel_owner_srv *s, json_t *e)
{
	if (e && s->c.event)
		s->c.event(s->c.ctx, e);
	json_decref(e);
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static unsigned int margin(const struct keel_owner_srv *s)
{
	return s->c.lease_ms / 5;
}

static void fence(struct keel_owner_srv *s, const char *why)
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
		fence(s, "the lease was not renewed in time");
		return -EPERM;
	}
	if (!access(s->next, F_OK)) {
		fence(s, "a later generation exists: another host took the disk over");
		return -EPERM;
	}
	return 0;
}

/* Our record as it goes to the datastore. */
static void fill_rec(struct keel_owner_srv *s, struct keel_owner_rec *r, uint64_t gen)
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
		fence(s, err);
	} else if (ret) {
		event(s, json_pack("{s:s, s:s, s:s}", "type", "vdisk.renew_failed", "disk", s->disk,
				   "error", err));
	} else {
		s->rec = r;
		atomic_store(&s->valid_until, t0 + s->c.lease_ms - margin(s));
	}
	return ret;
}

static void *renewer(void *arg)
{
	struct keel_owner_srv *s = arg;
	struct pollfd p = { .fd = s->stop[0], .events = POLLIN };

	while (poll(&p, 1, (int)s->c.renew_ms) == 0) {
		pthread_mutex_lock(&s->op);
		if (atomic_load(&s->state) == ST_OWNER) {
			renew_locked(s);
			keel_owner_srv_gate(s);	/* fences when the lease ran out */
		}
		pthread_mutex_unlock(&s->op);
	}
	return NULL;
}

/* Take generation @cur + 1 and open the disk.  Under op. */
static int claim_and_open(struct keel_owner_srv *s, const struct keel_owner_rec *cur,
			  const char *how, int64_t started, char *err, size_t errlen)
{
	struct keel_owner_rec r;
	int64_t t0 = keel_owner_mono_ms();
	char e2[256];
	int ret;

	fill_rec(s, &r, cur ? cur->generation + 1 : 1);
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
			snprintf(err, errlen, "%s: host %s took the disk (generation %" PRIu64 ") while this host waited for the lease of %s",
				 s->disk, now.host, now.generation, cur->host);
			return -EEXIST;
		}
		if (now.released) {
			*cur = now;
			return 0;
		}
		if (now.renewals != cur->renewals) {
			snprintf(err, errlen, "%s: the owner %s (%s) renews its lease but does not answer release requests: not taking the disk from a live owner",
				 s->disk, cur->host, cur->addr);
			return -EHOSTUNREACH;
		}
		if (keel_owner_mono_ms() - t0 >= cur->lease_ms)
			return 1;	/* expired */
		usleep(POLL_MS * 1000);
	}
}

/* The owner's refusal code as the requester's error (keel_owner_code() maps it back). */
static int refusal_errno(const char *code)
{
	static const struct { const char *code; int err; } map[] = {
		{ "forged", -EKEYREJECTED }, { "replayed", -ETIME }, { "malformed", -EBADMSG },
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
	case 0: return "ok";
	case -EBUSY: return "busy";
	case -EEXIST: case -ESTALE: return "lost";
	case -EHOSTUNREACH: return "unreachable";
	case -EKEYREJECTED: return "forged";
	case -ETIME: return "replayed";
	case -EBADMSG: return "malformed";
	case -EAGAIN: return "again";
	default: return "failed";
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
			snprintf(err, errlen, "%s: host %s became the owner first (generation %" PRIu64 ")",
				 s->disk, cur.host, cur.generation);
			return -EEXIST;
		}
		if (cur.released)
			return claim_and_open(s, &cur, "released", started, err, errlen);
		if (!strcmp(cur.host, s->host) && cur.pid != getpid() && kill(cur.pid, 0) &&
		    errno == ESRCH)	/* our own host's dead server */
			return claim_and_open(s, &cur, "takeover", started, err, errlen);
		req = json_pack("{s:s, s:s, s:I, s:s, s:s}", "op", "release", "disk",
				base(s->disk), "generation", (json_int_t)cur.generation, "from",
				s->host, "addr", s->listen);
		event(s, json_pack("{s:s, s:s, s:s, s:s, s:I}", "type",
				   "vdisk.release_requested", "disk", s->disk, "owner", cur.host,
				   "addr", cur.addr, "generation", (json_int_t)cur.generation));
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
			continue;	/* the record moved on: read it again */
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

/* Close for a requester and mark the record released.  Under op. */
static int release_locked(struct keel_owner_srv *s, const char *to, char *err, size_t errlen)
{
	int64_t t0 = keel_owner_mono_ms();
	struct keel_owner_rec r = s->rec;
	int ret;

	atomic_store(&s->state, ST_RELEASING);
	ret = s->c.close(s->c.ctx, err, errlen);	/* in-flight I/O, flush, close */
	if (ret) {
		/* not durable: keep the disk, the requester gets the error */
		atomic_store(&s->state, ST_OWNER);
		if (s->c.open(s->c.ctx, err + strlen(err), errlen - strlen(err)))
			fence(s, "reopening after a failed release failed");
		return ret;
	}
	atomic_store(&s->state, ST_STANDBY);
	r.released = true;
	r.expires_ms = keel_owner_now_ms();
	ret = keel_owner_update(s->disk, &r, err, errlen);
	if (ret && ret != -ESTALE)
		return ret;
	event(s, json_pack("{s:s, s:s, s:I, s:s, s:I}", "type", "vdisk.released", "disk", s->disk,
			   "generation", (json_int_t)r.generation, "to", to, "ms",
			   (json_int_t)(keel_owner_mono_ms() - t0)));
	return 0;
}

int keel_owner_srv_release(struct keel_owner_srv *s, char *err, size_t errlen)
{
	int r = 0;

	pthread_mutex_lock(&s->op);
	if (atomic_load(&s->state) == ST_OWNER)
		r = release_locked(s, "", err, errlen);
	pthread_mutex_unlock(&s->op);
	return r;
}

static void refused(struct keel_owner_srv *s, const char *peer, json_t *req, const char *code,
		    const char *why)
{
	event(s, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "type", "vdisk.release_refused",
			   "disk", s->disk, "peer", peer, "code", code, "reason", why, "from",
			   json_string_value(json_object_get(req, "from"))));
}

static json_t *answer(const char *code, const char *why)
{
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "code", code, "error", why);
}

/* One release request from another host. */
static json_t *handle_release(struct keel_owner_srv *s, const char *peer, const char *line,
			      size_t len)
{
	char why[PATH_MAX + 256];
	struct timespec until;
	json_error_t je;
	json_t *req, *ans;
	int r;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(req)) {
		snprintf(why, sizeof(why), "malformed: not a JSON object (%s)", req ? "" : je.text);
		refused(s, peer, NULL, "malformed", why);
		json_decref(req);
		req = NULL;
		ans = answer("malformed", why);
		goto out;
	}
	r = keel_owner_verify(s->key, req, why, sizeof(why));
	if (!r && keel_owner_nonce_seen(s->nonces, json_string_value(json_object_get(req, "nonce")),
					keel_owner_now_ms())) {
		snprintf(why, sizeof(why), "replayed: this nonce was already used");
		r = -EALREADY;
	}
	if (r) {
		const char *code = r == -EKEYREJECTED ? "forged"
				   : r == -EBADMSG    ? "malformed"
						      : "replayed";
		refused(s, peer, req, code, why);
		ans = answer(code, why);
		goto out;
	}
	if (!json_is_string(json_object_get(req, "op")) ||
	    strcmp(json_string_value(json_object_get(req, "op")), "release") ||
	    !json_is_string(json_object_get(req, "disk")) ||
	    !json_is_integer(json_object_get(req, "generation")) ||
	    !json_is_string(json_object_get(req, "from"))) {
		snprintf(why, sizeof(why), "malformed: it needs op \"release\", disk, generation and from");
		refused(s, peer, req, "malformed", why);
		ans = answer("malformed", why);
		goto out;
	}
	/* a renewal holds op for an fsync or two: wait for it, not for an
	 * acquire of ours that waits on another host (that would deadlock
	 * two servers asking each other) */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	if (pthread_mutex_timedlock(&s->op, &until)) {
		ans = answer("busy", "an acquire or release of this disk is under way here");
		refused(s, peer, req, "busy", "an acquire or release is under way");
		goto out;
	}
	event(s, json_pack("{s:s, s:s, s:s, s:s, s:O}", "type", "vdisk.release_requested", "disk",
			   s->disk, "peer", peer, "from",
			   json_string_value(json_object_get(req, "from")), "generation",
			   json_object_get(req, "generation")));
	/* a request that waited in the backlog while this server was paused
	 * finds it fenced: a fenced owner releases nothing (no flush) */
	if (atomic_load(&s->state) == ST_OWNER)
		keel_owner_srv_gate(s);
	if (strcmp(json_string_value(json_object_get(req, "disk")), base(s->disk)) ||
	    atomic_load(&s->state) != ST_OWNER ||
	    (uint64_t)json_integer_value(json_object_get(req, "generation")) != s->rec.generation) {
		snprintf(why, sizeof(why), "this server (%s, state %s, generation %" PRIu64 ") does not own %s at generation %" JSON_INTEGER_FORMAT,
			 s->host, state_names[atomic_load(&s->state)], s->rec.generation,
			 json_string_value(json_object_get(req, "disk")),
			 json_integer_value(json_object_get(req, "generation")));
		ans = answer("not_owner", why);
	} else if (s->c.busy && s->c.busy(s->c.ctx) && !atomic_load(&s->migrating)) {
		snprintf(why, sizeof(why), "busy: %d NBD clients are connected and the disk is not being migrated (keel-vdisk migrating DISK on)",
			 s->c.busy(s->c.ctx));
		refused(s, peer, req, "busy", why);
		ans = answer("busy", why);
	} else if ((r = release_locked(s, json_string_value(json_object_get(req, "from")), why,
				       sizeof(why)))) {
		refused(s, peer, req, "failed", why);
		ans = answer("failed", why);
	} else {
		ans = json_pack("{s:b, s:I}", "ok", 1, "generation", (json_int_t)s->rec.generation);
	}
	pthread_mutex_unlock(&s->op);
out:
	if (ans && json_is_string(json_object_get(req, "nonce")))
		json_object_set(ans, "re", json_object_get(req, "nonce"));
	json_decref(req);
	if (ans)
		keel_owner_sign(s->key, ans);
	return ans;
}

/* Read one line (at most REQUEST_MAX bytes) within 2 s. */
static ssize_t read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = keel_owner_mono_ms() + timeout_ms;
	size_t off = 0;

	while (off < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - keel_owner_mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, buf + off, cap - off, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		off += (size_t)n;
		if (memchr(buf, '\n', off))
			return (char *)memchr(buf, '\n', off) - buf;
	}
	return -EMSGSIZE;
}

static void send_json(int fd, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);
	size_t n, off = 0;

	if (!text)
		return;
	n = strlen(text);
	text[n++] = '\n';
	while (off < n) {
		ssize_t w = send(fd, text + off, n - off, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(text);
}

static void peer_name(int fd, char *ret, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN] = "?";

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) || ss.ss_family == AF_UNIX) {
		snprintf(ret, len, "unix");
		return;
	}
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof(a));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof(a));
	snprintf(ret, len, "%s", a);
}

static void *listener(void *arg)
{
	struct keel_owner_srv *s = arg;
	char *buf = malloc(REQUEST_MAX + 1), peer[64];

	while (buf) {
		struct pollfd p[2] = { { .fd = s->listen_fd, .events = POLLIN },
				       { .fd = s->stop[0], .events = POLLIN } };
		ssize_t n;
		json_t *ans;
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		peer_name(fd, peer, sizeof(peer));
		n = read_line(fd, buf, REQUEST_MAX, 2000);
		if (n < 0) {
			refused(s, peer, NULL, "malformed",
				n == -EMSGSIZE ? "malformed: a request line longer than 4096 bytes"
					       : "malformed: no complete request line within 2 s");
			close(fd);
			continue;
		}
		ans = handle_release(s, peer, buf, (size_t)n);
		if (ans)
			send_json(fd, ans);
		json_decref(ans);
		close(fd);
	}
	free(buf);
	return NULL;
}

bool keel_owner_srv_clean(struct keel_owner_srv *s)
{
	return atomic_load(&s->state) == ST_STANDBY;
}

json_t *keel_owner_srv_status(struct keel_owner_srv *s)
{
	struct keel_owner_rec r;
	char err[PATH_MAX + 256];
	int64_t left = atomic_load(&s->valid_until) - keel_owner_mono_ms();
	int st = atomic_load(&s->state);
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:b}", "disk", s->disk, "state",
		      state_names[st], "host", s->host, "addr", s->listen, "generation",
		      (json_int_t)(st == ST_STANDBY ? 0 : s->rec.generation), "lease_ms",
		      (int)s->c.lease_ms, "renew_ms", (int)s->c.renew_ms, "migrating",
		      atomic_load(&s->migrating));
	if (st == ST_OWNER)
		json_object_set_new(o, "valid_for_ms", json_integer(left > 0 ? left : 0));
	if (!keel_owner_read(s->disk, &r, err, sizeof(err)))
		json_object_set_new(o, "record", keel_owner_json(&r));
	else
		json_object_set_new(o, "record_error", json_string(err));
	return o;
}

/* The local control socket: acquire, release, migrating, status. */
static json_t *handle_control(struct keel_owner_srv *s, const char *line, size_t len)
{
	char err[PATH_MAX + 1024] = "";
	json_t *req = json_loadb(line, len, 0, NULL), *ans;
	const char *op = json_string_value(json_object_get(req, "op"));
	int r = 0;

	if (!op) {
		r = -EINVAL;
		snprintf(err, sizeof(err), "malformed request: it needs \"op\"");
	} else if (!strcmp(op, "acquire")) {
		r = keel_owner_srv_acquire(s, err, sizeof(err));
	} else if (!strcmp(op, "release")) {
		r = keel_owner_srv_release(s, err, sizeof(err));
	} else if (!strcmp(op, "migrating")) {
		atomic_store(&s->migrating, json_is_true(json_object_get(req, "on")));
	} else if (strcmp(op, "status")) {
		r = -EINVAL;
		snprintf(err, sizeof(err), "unknown op \"%s\" (acquire, release, migrating, status)", op);
	}
	json_decref(req);
	ans = json_pack("{s:b, s:o}", "ok", !r, "status", keel_owner_srv_status(s));
	if (r) {
		json_object_set_new(ans, "error", json_string(err));
		json_object_set_new(ans, "code", json_string(keel_owner_code(r)));
	}
	return ans;
}

static void *controller(void *arg)
{
	struct keel_owner_srv *s = arg;
	char *buf = malloc(REQUEST_MAX + 1);

	while (buf) {
		struct pollfd p[2] = { { .fd = s->control_fd, .events = POLLIN },
				       { .fd = s->stop[0], .events = POLLIN } };
		json_t *ans;
		ssize_t n;
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		fd = accept4(s->control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		n = read_line(fd, buf, REQUEST_MAX, 2000);
		if (n >= 0) {
			ans = handle_control(s, buf, (size_t)n);
			send_json(fd, ans);
			json_decref(ans);
		}
		close(fd);
	}
	free(buf);
	return NULL;
}

static int listen_on(const char *addr, mode_t mode, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	char host[KEEL_OWNER_ADDR_MAX], *port;
	int fd, one = 1, r;

	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un *a = (struct sockaddr_un *)&ss;

		if (strlen(addr + 5) >= sizeof(a->sun_path)) {
			snprintf(err, errlen, "%s: path too long", addr);
			return -ENAMETOOLONG;
		}
		a->sun_family = AF_UNIX;
		strcpy(a->sun_path, addr + 5);
		sl = sizeof(*a);
		unlink(a->sun_path);	/* one server per disk holds the disk lock */
	} else if (!strncmp(addr, "tcp:", 4) && strlen(addr + 4) < sizeof(host) &&
		   (strcpy(host, addr + 4), port = strrchr(host, ':'))) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		char *end;
		long p;

		*port++ = '\0';
		errno = 0;
		p = strtol(port, &end, 10);
		if (errno || *end || p <= 0 || p > 65535 ||
		    inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			snprintf(err, errlen, "--owner-listen %s: not tcp:IPV4:PORT or unix:PATH", addr);
			return -EINVAL;
		}
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		sl = sizeof(*a);
	} else {
		snprintf(err, errlen, "--owner-listen %s: not tcp:IPV4:PORT or unix:PATH", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 16) ||
	    (ss.ss_family == AF_UNIX && chmod(addr + 5, mode))) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot listen: %s", addr, strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

int keel_owner_srv_start(const struct keel_owner_srv_conf *c, struct keel_owner_srv **ret,
			 char *err, size_t errlen)
{
	struct keel_owner_srv *s = calloc(1, sizeof(*s));
	char ctl[PATH_MAX + 8];
	int r;

	if (!s)
		return -ENOMEM;
	s->c = *c;
	s->listen_fd = s->control_fd = s->stop[0] = s->stop[1] = -1;
	pthread_mutex_init(&s->op, NULL);
	if (!s->c.lease_ms)
		s->c.lease_ms = KEEL_OWNER_LEASE_MS;
	if (!s->c.renew_ms)
		s->c.renew_ms = KEEL_OWNER_RENEW_MS;
	if (!s->c.answer_ms)
		s->c.answer_ms = KEEL_OWNER_ANSWER_MS;
	if (s->c.lease_ms < 300 || s->c.lease_ms > 3600000 || s->c.renew_ms < 10 ||
	    s->c.renew_ms * 3 > s->c.lease_ms) {
		snprintf(err, errlen, "lease_ms %u, renew_ms %u: the lease must be 300 ms to 1 h and at least 3 renewals long",
			 s->c.lease_ms, s->c.renew_ms);
		r = -EINVAL;
		goto fail;
	}
	snprintf(s->disk, sizeof(s->disk), "%s", c->disk);
	snprintf(s->listen, sizeof(s->listen), "%s", c->listen ? c->listen : "");
	snprintf(s->control, sizeof(s->control), "%s", c->control ? c->control : "");
	if (c->host) {
		snprintf(s->host, sizeof(s->host), "%s", c->host);
	} else if ((r = keel_owner_host_id(s->host, sizeof(s->host)))) {
		snprintf(err, errlen, "no host id: /etc/machine-id: %s (set host_id)", strerror(-r));
		goto fail;
	}
	if (!c->key_file || !c->listen) {
		snprintf(err, errlen, "ownership needs a cluster key file and a listen address");
		r = -EINVAL;
		goto fail;
	}
	r = keel_owner_key_load(c->key_file, &s->key, err, errlen);
	if (r)
		goto fail;
	s->nonces = keel_owner_nonces_new();
	if (!s->nonces || pipe2(s->stop, O_CLOEXEC)) {
		r = -ENOMEM;
		goto fail;
	}
	r = s->listen_fd = listen_on(s->listen, 0600, err, errlen);
	if (r < 0)
		goto fail;
	if (*s->control) {
		snprintf(ctl, sizeof(ctl), "unix:%s", s->control);
		r = s->control_fd = listen_on(ctl, 0600, err, errlen);
		if (r < 0)
			goto fail;
	}
	if (!c->standby) {
		r = keel_owner_srv_acquire(s, err, errlen);
		if (r)
			goto fail;
	}
	if (pthread_create(&s->listener, NULL, listener, s) ||
	    pthread_create(&s->renewer, NULL, renewer, s) ||
	    (s->control_fd >= 0 && pthread_create(&s->controller, NULL, controller, s))) {
		snprintf(err, errlen, "cannot start the ownership threads");
		r = -EAGAIN;
		goto fail;	/* exits the server: threads end with it */
	}
	s->threads = true;
	*ret = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->control_fd >= 0)
		close(s->control_fd);
	keel_owner_key_free(s->key);
	keel_owner_nonces_free(s->nonces);
	free(s);
	return r < 0 ? r : -EINVAL;
}

void keel_owner_srv_stop(struct keel_owner_srv *s)
{
	if (!s)
		return;
	if (s->threads) {
		if (write(s->stop[1], "x", 1) != 1)
			return;	/* the threads end with the process */
		pthread_join(s->listener, NULL);
		pthread_join(s->renewer, NULL);
		if (s->control_fd >= 0)
			pthread_join(s->controller, NULL);
	}
	close(s->listen_fd);
	if (s->control_fd >= 0)
		close(s->control_fd);
	close(s->stop[0]);
	close(s->stop[1]);
	keel_owner_key_free(s->key);
	keel_owner_nonces_free(s->nonces);
	free(s);
}

/* For keel-vdisk: one request to a local server's control socket. */
int keel_owner_ctl_call(const char *path, json_t *req, int timeout_ms, json_t **ret, char *err,
			size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *buf;
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		n = -errno;
		snprintf(err, errlen, "%s: %s (is a disk server with ownership running for this disk?)",
			 path, strerror((int)-n));
		if (fd >= 0)
			close(fd);
		return (int)n;
	}
	send_json(fd, req);
	buf = malloc(65537);
	n = buf ? read_line(fd, buf, 65536, timeout_ms) : -ENOMEM;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: no answer: %s", path, strerror((int)-n));
		free(buf);
		return (int)n;
	}
	*ret = json_loadb(buf, (size_t)n, 0, NULL);
	free(buf);
	if (!*ret) {
		snprintf(err, errlen, "%s: the answer is not JSON", path);
		return -EBADMSG;
	}
	return 0;
}
