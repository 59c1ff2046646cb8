// SPDX-License-Identifier: GPL-2.0-only
/*
 * memh subsystem: keeld's read service.  A client hands keeld a memory
 * handle for one of its buffers over the memh socket, then asks for ranges
 * of files under [memh] allowed_dirs; keeld reads each range straight into
 * the client's buffer through the handle (keel.ko's sections, or the
 * pidfd + process_vm_writev fallback).  This is the path the read cache
 * will serve from.  Protocol: docs/memh.md, include/keel/memh_client.h.
 *
 * The loop only parses, checks limits and replies.  The reads (open, and
 * pread into the handle) run on worker threads, a slice at a time, clients
 * taking turns, so a big file or a slow client never stalls the loop or
 * the other clients; finished requests come back through an eventfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/outq.h"
#include "common/unixsock.h"
#include "keel/memh.h"
#include "keeld/subsys.h"
#include "memh/memh_config.h"

#define REQ_MAX 8192		/* one request line, path included */
#define REPLY_QUEUE 65536	/* replies a client has not read yet */
#define SLICE (4UL << 20)	/* bytes a worker reads before another client's turn */
#define MAX_DIRS 16
#define EVENTS_PER_S 50		/* memh events of one kind; the rest are counted */
#define EV_ERROR 0
#define EV_CONN 1

struct mreq {
	struct mreq *next;
	struct mclient *c;
	uint64_t id;
	uint64_t file_off, len, handle_off, done;
	int dir;		/* index in allowed dirs */
	int fd;			/* opened by the worker */
	int err;
	char rel[PATH_MAX];	/* path below the allowed dir */
	char path[PATH_MAX];	/* as the client gave it */
};

struct mclient {
	struct keel_watch watch;
	struct memh_priv *p;
	struct keel_memh *h;	/* NULL until the greeting */
	struct keel_outq q;
	struct ucred peer;
	char in[REQ_MAX];
	size_t in_len;
	unsigned int inflight;	/* accepted, not yet answered (loop only) */
	bool close_when_flushed;
	struct mclient *next;	/* all clients (loop only) */
	/* under memh_priv.lock: */
	struct mreq *pend, *pend_tail;
	bool queued;		/* in the ready list or on a worker */
	bool closed;
	struct mclient *ready_next;
};

struct allowed_dir {
	char name[PATH_MAX];	/* as configured, without trailing slashes */
	char real[PATH_MAX];	/* its realpath */
	int fd;			/* O_PATH: openat2 resolves beneath it */
};

/* The [memh] section (keeld/config.h keeps it; memh_config.c declares it). */
static inline const struct memh_config *memh_cfg(const struct keel_subsys *s)
{
	return s->config;
}

struct memh_priv {
	struct keel_subsys *s;
	struct keel_watch listen;
	struct keel_watch done_w;	/* eventfd: workers finished requests */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool module_mode;
	struct allowed_dir dirs[MAX_DIRS];
	int n_dirs;
	struct mclient *clients;
	unsigned int n_clients;
	pthread_t threads[64];
	unsigned int n_threads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool lock_ready;
	/* under lock: */
	bool stopping;
	struct mclient *ready, *ready_tail;
	struct mreq *done, *done_tail;
	/* counters (loop only) */
	uint64_t connects, refused_clients, handles_module, handles_fallback;
	uint64_t requests, reads_ok, bytes, errors, cancelled, refused_limit;
	uint64_t events_suppressed;
	time_t ev_sec[2];	/* per kind: EV_ERROR, EV_CONN */
	unsigned int ev_count[2];
};

/* --- events --- */

/*
 * A client that loops on bad requests or reconnects must not flood the
 * event bus: each kind (errors, connections) has EVENTS_PER_S a second,
 * and the rest are counted.
 */
static void emit(struct memh_priv *p, int kind, const char *type, json_t *fields)
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

static void send_line(struct mclient *c, json_t *o)
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

static void reply_error(struct mclient *c, json_t *id, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply_error(struct mclient *c, json_t *id, int err, const char *fmt, ...)
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
	send_line(c, o);
	c->p->errors++;
	emit(c->p, EV_ERROR, "memh.read_error",
	     json_pack("{s:I, s:s, s:s}", "pid", (json_int_t)c->peer.pid, "code",
		       keel_errno_name(err), "reason", msg));
}

/* --- client lifetime --- */

static void client_free(struct mclient *c)
{
	keel_memh_free(c->h);
	keel_outq_free(&c->q);
	free(c);
}

/*
 * The connection goes; the client's memory stays until no worker holds
 * one of its requests (they see @closed and stop at the next slice).
 */
static void client_close(struct mclient *c, const char *why)
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
		emit(p, EV_CONN, "memh.client_disconnect",
		     json_pack("{s:I, s:I, s:s, s:I}", "pid", (json_int_t)c->peer.pid,
			       "uid", (json_int_t)c->peer.uid, "reason", why,
			       "inflight", (json_int_t)c->inflight));
	pthread_mutex_lock(&p->lock);
	c->closed = true;
	pthread_mutex_unlock(&p->lock);
	if (c->inflight)
		p->cancelled += c->inflight;
	else
		client_free(c);
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

/* Which allowed dir holds @path, and the path below it; -1 if none. */
static int match_dir(struct memh_priv *p, const char *path, const char **ret_rel)
{
	for (int i = 0; i < p->n_dirs; i++) {
		const char *names[2] = { p->dirs[i].name, p->dirs[i].real };

		for (int j = 0; j < 2; j++) {
			size_t n = strlen(names[j]);

			if (!strncmp(path, names[j], n) && path[n] == '/' && path[n + 1]) {
				*ret_rel = path + n + 1;
				return i;
			}
		}
	}
	return -1;
}

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
		reply_error(c, NULL, -EINVAL, "request is not a JSON object");
		goto out;
	}
	id = json_object_get(req, "id");
	if (!json_is_integer(id)) {
		reply_error(c, NULL, -EINVAL, "request has no integer \"id\"");
		goto out;
	}
	path = json_string_value(json_object_get(req, "path"));
	if (!path || !get_u64(req, "file_offset", &file_off) || !get_u64(req, "len", &len) ||
	    !get_u64(req, "handle_offset", &hoff)) {
		reply_error(c, id, -EINVAL,
			    "request needs \"path\" (string) and \"file_offset\", \"len\", \"handle_offset\" (integers >= 0)");
		goto out;
	}
	if (c->inflight >= cfg->max_inflight) {
		p->refused_limit++;
		reply_error(c, id, -EBUSY, "%u requests already in flight: [memh] max_inflight = %u",
			    c->inflight, cfg->max_inflight);
		goto out;
	}
	if (len > cfg->max_read_bytes) {
		p->refused_limit++;
		reply_error(c, id, -EFBIG, "len %" PRIu64 " is over [memh] max_read_bytes = %u",
			    len, cfg->max_read_bytes);
		goto out;
	}
	if (hoff > keel_memh_len(c->h) || len > keel_memh_len(c->h) - hoff) {
		reply_error(c, id, -ENXIO,
			    "handle_offset %" PRIu64 " + len %" PRIu64 " is beyond the handle's %zu bytes",
			    hoff, len, keel_memh_len(c->h));
		goto out;
	}
	if (file_off > INT64_MAX - len) {
		reply_error(c, id, -EINVAL, "file_offset + len overflows");
		goto out;
	}
	if (path[0] != '/' || strlen(path) >= PATH_MAX) {
		reply_error(c, id, -EINVAL, "path must be absolute and shorter than %d bytes",
			    PATH_MAX);
		goto out;
	}
	dir = match_dir(p, path, &rel);
	if (dir < 0) {
		reply_error(c, id, -EACCES, "%s is not under [memh] allowed_dirs (%s)", path,
			    cfg->allowed_dirs[0] ? cfg->allowed_dirs :
							"empty: nothing may be read");
		goto out;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		reply_error(c, id, -ENOMEM, "out of memory");
		goto out;
	}
	*r = (struct mreq){ .c = c, .id = (uint64_t)json_integer_value(id),
			    .file_off = file_off, .len = len, .handle_off = hoff,
			    .dir = dir, .fd = -1 };
	snprintf(r->rel, sizeof(r->rel), "%s", rel);
	snprintf(r->path, sizeof(r->path), "%s", path);
	c->inflight++;
	pthread_mutex_lock(&p->lock);
	if (c->pend_tail)
		c->pend_tail->next = r;
	else
		c->pend = r;
	c->pend_tail = r;
	if (!c->queued) {
		c->queued = true;
		c->ready_next = NULL;
		if (p->ready_tail)
			p->ready_tail->ready_next = c;
		else
			p->ready = c;
		p->ready_tail = c;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
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
		client_close(c, "closed before sending a handle");
		return false;
	}
	if (err) {
		keel_memh_free(c->h);
		c->h = NULL;
		reply_error(c, NULL, err, err == -ENOMSG ?
			    "the first message must carry a memory handle (keel_memh_send)" :
			    "the handle sent is not usable: %s", strerror(-err));
		c->close_when_flushed = true;
		return true;
	}
	c->in_len = n;
	if (keel_memh_fallback(c->h))
		p->handles_fallback++;
	else
		p->handles_module++;
	send_line(c, json_pack("{s:b, s:s, s:s, s:I, s:I, s:I}", "ok", 1, "service",
			       "keeld memh", "mode",
			       keel_memh_fallback(c->h) ? "fallback" : "module",
			       "handle_bytes", (json_int_t)keel_memh_len(c->h),
			       "max_read_bytes", (json_int_t)memh_cfg(p->s)->max_read_bytes,
			       "max_inflight", (json_int_t)memh_cfg(p->s)->max_inflight));
	emit(p, EV_CONN, "memh.client_connect",
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
			reply_error(c, NULL, -EMSGSIZE, "request longer than %d bytes", REQ_MAX);
			c->close_when_flushed = true;
		}
		if (c->close_when_flushed)
			return true;
		n = recv(c->watch.fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
			 MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c, n == 0 ? "closed by the client" : strerror(errno));
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

	if (!c->close_when_flushed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    !client_read(c))
		return;
	client_flush(c);
	if (c->close_when_flushed &&
	    (!keel_outq_pending(&c->q) || (events & (EPOLLHUP | EPOLLERR))))
		client_close(c, "refused");
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
		client_close(c, "cannot watch");
		return;
	}
	if (p->n_clients > memh_cfg(p->s)->max_clients) {
		p->refused_clients++;
		reply_error(c, NULL, -EUSERS, "too many clients: [memh] max_clients = %u",
			    memh_cfg(p->s)->max_clients);
		c->close_when_flushed = true;
		if (!keel_outq_pending(&c->q))
			client_close(c, "refused");
	}
}

/* --- workers --- */

static int open_beneath(struct memh_priv *p, struct mreq *r)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int fd = syscall(SYS_openat2, p->dirs[r->dir].fd, r->rel, &how, sizeof(how));

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	r->fd = fd;
	return 0;
}

/* One slice of @r; true when the request is finished. */
static bool work_slice(struct memh_priv *p, struct mclient *c, struct mreq *r)
{
	uint64_t n = r->len - r->done < SLICE ? r->len - r->done : SLICE;
	ssize_t got;

	if (r->fd < 0) {
		r->err = open_beneath(p, r);
		if (r->err)
			return true;
	}
	if (!n)
		return true;
	got = keel_memh_pread(c->h, r->handle_off + r->done, r->fd,
			      (off_t)(r->file_off + r->done), n);
	if (got < 0) {
		r->err = (int)got;
		return true;
	}
	r->done += (uint64_t)got;
	return (uint64_t)got < n || r->done == r->len;	/* short: end of file */
}

static void *worker(void *arg)
{
	struct memh_priv *p = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct mclient *c;
		struct mreq *r;
		bool finished, closed;

		while (!p->stopping && !p->ready)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping)
			break;
		c = p->ready;
		p->ready = c->ready_next;
		if (!p->ready)
			p->ready_tail = NULL;
		r = c->pend;
		closed = c->closed;
		pthread_mutex_unlock(&p->lock);

		if (closed) {
			r->err = -ECANCELED;
			finished = true;
		} else {
			finished = work_slice(p, c, r);
		}

		pthread_mutex_lock(&p->lock);
		if (finished) {
			c->pend = r->next;
			if (!c->pend)
				c->pend_tail = NULL;
			r->next = NULL;
			if (p->done_tail)
				p->done_tail->next = r;
			else
				p->done = r;
			p->done_tail = r;
		}
		if (c->pend) {
			/* back of the line: clients take turns, a slice each */
			c->ready_next = NULL;
			if (p->ready_tail)
				p->ready_tail->ready_next = c;
			else
				p->ready = c;
			p->ready_tail = c;
		} else {
			c->queued = false;
		}
		if (finished &&
		    write(p->done_w.fd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow in practice; the loop reads it */
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static const char *read_error_text(struct mreq *r, char *buf, size_t len)
{
	switch (r->err) {
	case -EXDEV:
		snprintf(buf, len, "%s leads outside %s ('..' or a symlink): refused", r->path,
			 r->c->p->dirs[r->dir].name);
		break;
	case -ELOOP:
		snprintf(buf, len, "%s: too many symlinks, or a /proc magic link: refused", r->path);
		break;
	case -EINVAL:
		snprintf(buf, len, "%s is not a regular file", r->path);
		break;
	case -EACCES:
		snprintf(buf, len, "the handle is read-only: create it with KEEL_MEMH_READ | KEEL_MEMH_WRITE");
		break;
	case -ECANCELED:
		snprintf(buf, len, "the client disconnected");
		break;
	default:
		if (r->fd < 0)
			snprintf(buf, len, "opening %s: %s", r->path, strerror(-r->err));
		else
			snprintf(buf, len, "reading %s into the handle: %s", r->path,
				 strerror(-r->err));
	}
	return buf;
}

/* The loop's side: answer what the workers finished. */
static void on_done(struct keel_watch *w, uint32_t events)
{
	struct memh_priv *p = w->data;
	struct mreq *r, *next;
	char msg[PATH_MAX + 256];
	uint64_t v;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&p->lock);
	r = p->done;
	p->done = p->done_tail = NULL;
	pthread_mutex_unlock(&p->lock);
	for (; r; r = next) {
		struct mclient *c = r->c;
		json_t *id = json_integer((json_int_t)r->id);

		next = r->next;
		if (r->fd >= 0)
			close(r->fd);
		c->inflight--;
		if (c->watch.fd < 0) {
			if (!c->inflight)
				client_free(c);
		} else if (r->err && r->done == 0) {
			reply_error(c, id, r->err, "%s", read_error_text(r, msg, sizeof(msg)));
		} else {
			/* a failure after some bytes: say how many landed */
			p->reads_ok++;
			p->bytes += r->done;
			send_line(c, json_pack("{s:O, s:b, s:I}", "id", id, "ok", 1, "bytes",
					       (json_int_t)r->done));
		}
		json_decref(id);
		free(r);
	}
	/* replies may have filled a queue: hang up on who cannot take them */
	for (struct mclient *c = p->clients, *cn; c; c = cn) {
		cn = c->next;
		if (c->close_when_flushed && !keel_outq_pending(&c->q))
			client_close(c, "refused");
	}
}

/* --- open, start, stop --- */

static int parse_dirs(struct memh_priv *p, char *why, size_t len)
{
	char list[sizeof(memh_cfg(p->s)->allowed_dirs)];
	char *save = NULL;

	snprintf(list, sizeof(list), "%s", memh_cfg(p->s)->allowed_dirs);
	for (char *tok = strtok_r(list, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		struct allowed_dir *a = &p->dirs[p->n_dirs];
		size_t n = strlen(tok);

		if (p->n_dirs == MAX_DIRS) {
			snprintf(why, len, "[memh] allowed_dirs: more than %d directories", MAX_DIRS);
			return -E2BIG;
		}
		while (n > 1 && tok[n - 1] == '/')
			tok[--n] = '\0';
		if (tok[0] != '/' || n < 2) {
			snprintf(why, len, "[memh] allowed_dirs: '%s' is not an absolute directory (and / is refused)",
				 tok);
			return -EINVAL;
		}
		snprintf(a->name, sizeof(a->name), "%s", tok);
		a->fd = open(tok, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (a->fd < 0 || !realpath(tok, a->real)) {
			int err = -errno;

			if (a->fd >= 0)
				close(a->fd);
			snprintf(why, len, "[memh] allowed_dirs: opening %s: %s", tok, strerror(-err));
			return err;
		}
		p->n_dirs++;
	}
	return 0;
}

/* Confinement rests on openat2's RESOLVE_BENEATH (Linux 5.6): no fallback. */
static int check_openat2(char *why, size_t len)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH };
	int fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != ENOSYS)
		return 0;
	snprintf(why, len, "openat2() is not available (ENOSYS): files cannot be confined to [memh] allowed_dirs; run Linux 5.6 or later, or set [memh] enabled = false");
	return -ENOSYS;
}

static int listen_socket(struct memh_priv *p, char *why, size_t len)
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
			snprintf(why, len, "the memh socket path beside %s is too long: set [memh] socket",
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

static int memh_open(struct keel_subsys *s, char *why, size_t len)
{
	struct memh_priv *p = s->priv;
	int err;

	memset(p, 0, sizeof(*p));
	p->s = s;
	p->listen.fd = p->done_w.fd = -1;
	/* which kind of handle clients will make: keel.ko's when it is loaded */
	keel_features_probe_kmod(&s->d->features);
	p->module_mode = s->d->features.f[KEEL_FEAT_KMOD].available;
	err = check_openat2(why, len);
	if (!err)
		err = parse_dirs(p, why, len);
	if (err)
		return err;
	if (pthread_mutex_init(&p->lock, NULL) || pthread_cond_init(&p->cond, NULL)) {
		snprintf(why, len, "initialising the work queue's lock");
		return -ENOMEM;
	}
	p->lock_ready = true;
	p->done_w = (struct keel_watch){ .cb = on_done, .data = p };
	p->done_w.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->done_w.fd < 0) {
		err = -errno;
		snprintf(why, len, "creating the workers' eventfd: %s", strerror(-err));
		return err;
	}
	return listen_socket(p, why, len);
}

static int memh_start(struct keel_subsys *s, char *why, size_t len)
{
	struct memh_priv *p = s->priv;
	int err;

	for (unsigned int i = 0; i < memh_cfg(s)->workers; i++) {
		err = -pthread_create(&p->threads[i], NULL, worker, p);
		if (err) {
			snprintf(why, len, "starting read worker %u: %s", i, strerror(-err));
			return err;
		}
		p->n_threads++;
	}
	err = keel_watch_add(s->d, &p->done_w, EPOLLIN);
	if (!err)
		err = keel_watch_add(s->d, &p->listen, EPOLLIN);
	if (err)
		snprintf(why, len, "watching %s: %s", p->path, strerror(-err));
	return err;
}

static void memh_stop(struct keel_subsys *s)
{
	struct memh_priv *p = s->priv;
	struct mreq *r, *next;

	if (p->lock_ready) {
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	for (unsigned int i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	p->n_threads = 0;
	/*
	 * No worker runs now.  Every client with requests left is in the ready
	 * list (a worker puts it back after each slice): cancel them, then
	 * settle everything as the loop would, which frees the clients that
	 * already disconnected.
	 */
	for (struct mclient *c = p->ready; c; c = c->ready_next) {
		for (r = c->pend; r; r = next) {
			next = r->next;
			r->err = -ECANCELED;
			r->next = p->done;
			p->done = r;
		}
		c->pend = c->pend_tail = NULL;
		c->queued = false;
	}
	p->ready = p->ready_tail = NULL;
	for (r = p->done; r; r = next) {
		struct mclient *c = r->c;

		next = r->next;
		if (r->fd >= 0)
			close(r->fd);
		free(r);
		if (--c->inflight == 0 && c->watch.fd < 0)
			client_free(c);
	}
	p->done = p->done_tail = NULL;
	while (p->clients) {
		keel_outq_flush(&p->clients->q, p->clients->watch.fd);
		client_close(p->clients, "keeld is stopping");
	}
	if (p->listen.fd >= 0) {
		keel_watch_del(s->d, &p->listen);
		close(p->listen.fd);
		unlink(p->path);
		p->listen.fd = -1;
	}
	if (p->done_w.fd >= 0) {
		keel_watch_del(s->d, &p->done_w);
		close(p->done_w.fd);
		p->done_w.fd = -1;
	}
	for (int i = 0; i < p->n_dirs; i++)
		close(p->dirs[i].fd);
	p->n_dirs = 0;
	if (p->lock_ready) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		p->lock_ready = false;
	}
}

static void memh_counters(struct keel_subsys *s, json_t *out)
{
	struct memh_priv *p = s->priv;
	json_t *dirs = json_array();

	for (int i = 0; i < p->n_dirs; i++)
		json_array_append_new(dirs, json_string(p->dirs[i].name));
	json_object_set_new(out, "mode", json_string(p->module_mode ? "module" : "fallback"));
	json_object_set_new(out, "socket", json_string(p->path));
	json_object_set_new(out, "allowed_dirs", dirs);
	json_object_set_new(out, "clients", json_integer(p->n_clients));
	json_object_set_new(out, "connects", json_integer((json_int_t)p->connects));
	json_object_set_new(out, "refused_clients", json_integer((json_int_t)p->refused_clients));
	json_object_set_new(out, "handles_module", json_integer((json_int_t)p->handles_module));
	json_object_set_new(out, "handles_fallback", json_integer((json_int_t)p->handles_fallback));
	json_object_set_new(out, "requests", json_integer((json_int_t)p->requests));
	json_object_set_new(out, "reads_ok", json_integer((json_int_t)p->reads_ok));
	json_object_set_new(out, "bytes", json_integer((json_int_t)p->bytes));
	json_object_set_new(out, "errors", json_integer((json_int_t)p->errors));
	json_object_set_new(out, "refused_limit", json_integer((json_int_t)p->refused_limit));
	json_object_set_new(out, "cancelled", json_integer((json_int_t)p->cancelled));
	json_object_set_new(out, "events_suppressed",
			    json_integer((json_int_t)p->events_suppressed));
}

const struct keel_subsys_ops keel_memh_ops = {
	.name = "memh",
	.summary = "reads files into clients' memory handles",
	.n_needs = 0,
	.priv_size = sizeof(struct memh_priv),
	.options = memh_options,
	.config_size = sizeof(struct memh_config),
	.open = memh_open,
	.start = memh_start,
	.stop = memh_stop,
	.counters = memh_counters,
};
