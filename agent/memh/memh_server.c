// SPDX-License-Identifier: GPL-2.0-only
/*
 * memh's socket: a client connects, greets with its memory handle, then
 * sends one JSON request a line; each is checked against the limits and the
 * policy here, in the loop, and queued for the workers (memh_pool.c).
 * Replies go through a bounded queue: a client that does not read them is
 * hung up on.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/unixsock.h"
#include "memh/memh_subsys.h"

/*
 * A client that loops on bad requests or reconnects must not flood the
 * event bus: each kind (errors, connections) has EVENTS_PER_S a second,
 * and the rest are counted.
 */
void memh_emit(struct memh_priv *p, int kind, const char *type, json_t *fields)
{
	time_t now = time(NULL);

	if (now != p->ev_sec[kind]) {
		p->ev_sec[kind] = now;
		p->ev_count[kind] = 0;
	}
	if (p->ev_count[kind]++ >= EVENTS_PER_S) {
		p->events_suppressed++;
		json_decref(fields);
		return;
	}
	keel_emit(p->s->d, "memh", type, fields);
}

/* --- replies --- */

static void client_flush(struct mclient *c);

void memh_send_line(struct mclient *c, json_t *o)
{
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t len;

	json_decref(o);
	if (!line) {
		c->close_when_flushed = true;
		return;
	}
	len = strlen(line);
	line[len] = '\n';
	/*
	 * A client that does not read its replies is hung up on, not
	 * buffered: drop what it has not read, so that it closes at once.
	 */
	if (keel_outq_push(&c->q, line, len + 1) < 0) {
		keel_outq_free(&c->q);
		keel_outq_init(&c->q, REPLY_QUEUE);
		c->close_when_flushed = true;
	}
	free(line);
	client_flush(c);
}

void memh_reply_error(struct mclient *c, json_t *id, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void memh_reply_error(struct mclient *c, json_t *id, int err, const char *fmt, ...)
{
	json_t *o = json_object();
	char msg[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (id)
		json_object_set(o, "id", id);
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "errno", json_integer(-err));
	json_object_set_new(o, "code", json_string(keel_errno_name(err)));
	json_object_set_new(o, "error", json_string(msg));
	memh_send_line(c, o);
	c->p->errors++;
	memh_emit(c->p, EV_ERROR, "memh.read_error",
		  json_pack("{s:I, s:s, s:s}", "pid", (json_int_t)c->peer.pid, "code",
			    keel_errno_name(err), "reason", msg));
}

/* --- client lifetime --- */

void memh_client_free(struct mclient *c)
{
	keel_memh_free(c->h);
	keel_outq_free(&c->q);
	free(c);
}

/*
 * The connection goes; the client's memory stays until no worker holds
 * one of its requests (they see @closed and stop at the next slice).
 */
void memh_client_close(struct mclient *c, const char *why)
{
	struct memh_priv *p = c->p;

	keel_watch_del(p->s->d, &c->watch);
	close(c->watch.fd);
	c->watch.fd = -1;
	for (struct mclient **pp = &p->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	p->n_clients--;
	if (c->h)
		memh_emit(p, EV_CONN, "memh.client_disconnect",
			  json_pack("{s:I, s:I, s:s, s:I}", "pid", (json_int_t)c->peer.pid, "uid",
				    (json_int_t)c->peer.uid, "reason", why, "inflight",
				    (json_int_t)c->inflight));
	pthread_mutex_lock(&p->lock);
	c->closed = true;
	pthread_mutex_unlock(&p->lock);
	if (c->inflight)
		p->cancelled += c->inflight;
	else
		memh_client_free(c);
}

static void client_flush(struct mclient *c)
{
	long left = keel_outq_flush(&c->q, c->watch.fd);

	if (left < 0) {
		c->close_when_flushed = true;
		return;
	}
	/* once refused, stop reading: its input would wake the loop for nothing */
	if (c->close_when_flushed)
		keel_watch_mod(c->p->s->d, &c->watch, EPOLLOUT);
	else
		keel_watch_mod(c->p->s->d, &c->watch, left ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* --- requests --- */

static bool get_u64(json_t *req, const char *key, uint64_t *ret)
{
	json_t *v = json_object_get(req, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*ret = (uint64_t)json_integer_value(v);
	return true;
}

static void handle_request(struct mclient *c, const char *line)
{
	struct memh_priv *p = c->p;
	const struct memh_config *cfg = memh_cfg(p->s);
	json_t *req = json_loads(line, 0, NULL), *id;
	uint64_t file_off, len, hoff;
	const char *path, *rel;
	struct mreq *r;
	int dir;

	p->requests++;
	if (!json_is_object(req)) {
		memh_reply_error(c, NULL, -EINVAL, "request is not a JSON object");
		goto out;
	}
	id = json_object_get(req, "id");
	if (!json_is_integer(id)) {
		memh_reply_error(c, NULL, -EINVAL, "request has no integer \"id\"");
		goto out;
	}
	path = json_string_value(json_object_get(req, "path"));
	if (!path || !get_u64(req, "file_offset", &file_off) || !get_u64(req, "len", &len) ||
	    !get_u64(req, "handle_offset", &hoff)) {
		memh_reply_error(
			c, id, -EINVAL,
			"request needs \"path\" (string) and \"file_offset\", \"len\", \"handle_offset\" (integers >= 0)");
		goto out;
	}
	if (c->inflight >= cfg->max_inflight) {
		p->refused_limit++;
		memh_reply_error(c, id, -EBUSY,
				 "%u requests already in flight: [memh] max_inflight = %u",
				 c->inflight, cfg->max_inflight);
		goto out;
	}
	if (len > cfg->max_read_bytes) {
		p->refused_limit++;
		memh_reply_error(c, id, -EFBIG,
				 "len %" PRIu64 " is over [memh] max_read_bytes = %u", len,
				 cfg->max_read_bytes);
		goto out;
	}
	if (hoff > keel_memh_len(c->h) || len > keel_memh_len(c->h) - hoff) {
		memh_reply_error(c, id, -ENXIO,
				 "handle_offset %" PRIu64 " + len %" PRIu64
				 " is beyond the handle's %zu bytes",
				 hoff, len, keel_memh_len(c->h));
		goto out;
	}
	if (file_off > INT64_MAX - len) {
		memh_reply_error(c, id, -EINVAL, "file_offset + len overflows");
		goto out;
	}
	if (path[0] != '/' || strlen(path) >= PATH_MAX) {
		memh_reply_error(c, id, -EINVAL, "path must be absolute and shorter than %d bytes",
				 PATH_MAX);
		goto out;
	}
	dir = memh_match_dir(p, path, &rel);
	if (dir < 0) {
		memh_reply_error(c, id, -EACCES, "%s is not under [memh] allowed_dirs (%s)", path,
				 cfg->allowed_dirs[0] ? cfg->allowed_dirs :
							"empty: nothing may be read");
		goto out;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		memh_reply_error(c, id, -ENOMEM, "out of memory");
		goto out;
	}
	*r = (struct mreq){ .c = c,
			    .id = (uint64_t)json_integer_value(id),
			    .file_off = file_off,
			    .len = len,
			    .handle_off = hoff,
			    .dir = dir,
			    .fd = -1 };
	snprintf(r->rel, sizeof(r->rel), "%s", rel);
	snprintf(r->path, sizeof(r->path), "%s", path);
	c->inflight++;
	memh_pool_submit(p, r);
out:
	json_decref(req);
}

/* The greeting: the first message must carry the handle. */
static bool client_greet(struct mclient *c)
{
	struct memh_priv *p = c->p;
	size_t n = 0;
	int err = keel_memh_recv(c->watch.fd, c->in, sizeof(c->in), &n, &c->h);

	if (err == -EAGAIN || err == -EINTR)
		return true;
	if (err == -ECONNRESET) {
		memh_client_close(c, "closed before sending a handle");
		return false;
	}
	if (err) {
		keel_memh_free(c->h);
		c->h = NULL;
		memh_reply_error(
			c, NULL, err,
			err == -ENOMSG ?
				"the first message must carry a memory handle (keel_memh_send)" :
				"the handle sent is not usable: %s",
			strerror(-err));
		c->close_when_flushed = true;
		return true;
	}
	c->in_len = n;
	if (keel_memh_fallback(c->h))
		p->handles_fallback++;
	else
		p->handles_module++;
	memh_send_line(c,
		       json_pack("{s:b, s:s, s:s, s:I, s:I, s:I}", "ok", 1, "service", "keeld memh",
				 "mode", keel_memh_fallback(c->h) ? "fallback" : "module",
				 "handle_bytes", (json_int_t)keel_memh_len(c->h), "max_read_bytes",
				 (json_int_t)memh_cfg(p->s)->max_read_bytes, "max_inflight",
				 (json_int_t)memh_cfg(p->s)->max_inflight));
	memh_emit(p, EV_CONN, "memh.client_connect",
		  json_pack("{s:I, s:I, s:s, s:I}", "pid", (json_int_t)c->peer.pid, "uid",
			    (json_int_t)c->peer.uid, "mode",
			    keel_memh_fallback(c->h) ? "fallback" : "module", "handle_bytes",
			    (json_int_t)keel_memh_len(c->h)));
	return true;
}

/* Read what the client sent and queue its requests; false once closed. */
static bool client_read(struct mclient *c)
{
	char *nl;

	if (!c->h) {
		if (!client_greet(c))
			return false;
		if (!c->h)
			return true;
	}
	for (;;) {
		ssize_t n = 0;

		while (!c->close_when_flushed && (nl = memchr(c->in, '\n', c->in_len))) {
			size_t used = (size_t)(nl - c->in) + 1;

			*nl = '\0';
			if (nl != c->in)
				handle_request(c, c->in);
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
		}
		if (c->in_len == sizeof(c->in)) {
			memh_reply_error(c, NULL, -EMSGSIZE, "request longer than %d bytes",
					 REQ_MAX);
			c->close_when_flushed = true;
		}
		if (c->close_when_flushed)
			return true;
		n = recv(c->watch.fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			memh_client_close(c, n == 0 ? "closed by the client" : strerror(errno));
			return false;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return true;
		c->in_len += (size_t)n;
	}
}

static void on_client(struct keel_watch *w, uint32_t events)
{
	struct mclient *c = w->data;

	if (!c->close_when_flushed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !client_read(c))
		return;
	client_flush(c);
	if (c->close_when_flushed &&
	    (!keel_outq_pending(&c->q) || (events & (EPOLLHUP | EPOLLERR))))
		memh_client_close(c, "refused");
}

static void on_accept(struct keel_watch *w, uint32_t events)
{
	struct memh_priv *p = w->data;
	struct ucred peer;
	struct mclient *c;
	int fd;

	(void)events;
	fd = keel_unix_accept(w->fd, &peer);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->p = p;
	c->watch = (struct keel_watch){ .fd = fd, .cb = on_client, .data = c };
	keel_outq_init(&c->q, REPLY_QUEUE);
	c->peer = peer;
	c->next = p->clients;
	p->clients = c;
	p->n_clients++;
	p->connects++;
	if (keel_watch_add(p->s->d, &c->watch, EPOLLIN) < 0) {
		memh_client_close(c, "cannot watch");
		return;
	}
	if (p->n_clients > memh_cfg(p->s)->max_clients) {
		p->refused_clients++;
		memh_reply_error(c, NULL, -EUSERS, "too many clients: [memh] max_clients = %u",
				 memh_cfg(p->s)->max_clients);
		c->close_when_flushed = true;
		if (!keel_outq_pending(&c->q))
			memh_client_close(c, "refused");
	}
}

/* --- the socket --- */

int memh_listen(struct memh_priv *p, char *why, size_t len)
{
	const struct keel_config *cfg = &p->s->d->cfg;
	struct group *gr = getgrnam(cfg->control_group);
	int fd;

	if (memh_cfg(p->s)->socket[0]) {
		snprintf(p->path, sizeof(p->path), "%s", memh_cfg(p->s)->socket);
	} else {
		const char *slash = strrchr(cfg->control_socket, '/');
		int dlen = slash ? (int)(slash - cfg->control_socket) : 0;

		if (snprintf(p->path, sizeof(p->path), "%.*s/memh.sock", dlen,
			     cfg->control_socket) >= (int)sizeof(p->path)) {
			snprintf(why, len,
				 "the memh socket path beside %s is too long: set [memh] socket",
				 cfg->control_socket);
			return -ENAMETOOLONG;
		}
	}
	if (p->path[0] != '/') {
		snprintf(why, len, "[memh] socket %s is not an absolute path", p->path);
		return -EINVAL;
	}
	fd = keel_unix_listen(p->path, gr ? gr->gr_gid : 0, 64);
	if (fd < 0) {
		if (fd == -EADDRINUSE)
			snprintf(why, len, "%s: another keeld serves it ([memh] socket)", p->path);
		else
			snprintf(why, len, "listening on %s ([memh] socket): %s", p->path,
				 strerror(-fd));
		return fd;
	}
	p->listen = (struct keel_watch){ .fd = fd, .cb = on_accept, .data = p };
	return 0;
}
