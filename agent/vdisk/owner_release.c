// SPDX-License-Identifier: GPL-2.0-only
/*
 * Release: the listener for signed release requests from other hosts,
 * their refusals (forged, replayed, malformed, busy, failed), and closing
 * the disk for a requester (I/O finished, every filter flushed).
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

/* Close for a requester and mark the record released.  Under op. */
int keel_owner_release_locked(struct keel_owner_srv *s, const char *to, char *err, size_t errlen)
{
	int64_t t0 = keel_owner_mono_ms();
	struct keel_owner_rec r = s->rec;
	int ret;

	atomic_store(&s->state, ST_RELEASING);
	ret = s->c.close(s->c.ctx, err, errlen); /* in-flight I/O, flush, close */
	if (ret) {
		/* not durable: keep the disk, the requester gets the error */
		atomic_store(&s->state, ST_OWNER);
		if (s->c.open(s->c.ctx, err + strlen(err), errlen - strlen(err)))
			keel_owner_fence(s, "reopening after a failed release failed");
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
		r = keel_owner_release_locked(s, "", err, errlen);
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
		const char *code = r == -EKEYREJECTED ? "forged" :
				   r == -EBADMSG      ? "malformed" :
							"replayed";
		refused(s, peer, req, code, why);
		ans = answer(code, why);
		goto out;
	}
	if (!json_is_string(json_object_get(req, "op")) ||
	    strcmp(json_string_value(json_object_get(req, "op")), "release") ||
	    !json_is_string(json_object_get(req, "disk")) ||
	    !json_is_integer(json_object_get(req, "generation")) ||
	    !json_is_string(json_object_get(req, "from"))) {
		snprintf(why, sizeof(why),
			 "malformed: it needs op \"release\", disk, generation and from");
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
		snprintf(why, sizeof(why),
			 "this server (%s, state %s, generation %" PRIu64
			 ") does not own %s at generation %" JSON_INTEGER_FORMAT,
			 s->host, state_names[atomic_load(&s->state)], s->rec.generation,
			 json_string_value(json_object_get(req, "disk")),
			 json_integer_value(json_object_get(req, "generation")));
		ans = answer("not_owner", why);
	} else if (s->c.busy && s->c.busy(s->c.ctx) && !atomic_load(&s->migrating)) {
		snprintf(
			why, sizeof(why),
			"busy: %d NBD clients are connected and the disk is not being migrated (keel-vdisk migrating DISK on)",
			s->c.busy(s->c.ctx));
		refused(s, peer, req, "busy", why);
		ans = answer("busy", why);
	} else if ((r = keel_owner_release_locked(s,
						  json_string_value(json_object_get(req, "from")),
						  why, sizeof(why)))) {
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

void *keel_owner_listener(void *arg)
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
		n = keel_owner_read_line(fd, buf, REQUEST_MAX, 2000);
		if (n < 0) {
			refused(s, peer, NULL, "malformed",
				n == -EMSGSIZE ?
					"malformed: a request line longer than 4096 bytes" :
					"malformed: no complete request line within 2 s");
			close(fd);
			continue;
		}
		ans = handle_release(s, peer, buf, (size_t)n);
		if (ans)
			keel_owner_send_json(fd, ans);
		json_decref(ans);
		close(fd);
	}
	free(buf);
	return NULL;
}
