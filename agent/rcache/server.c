// SPDX-License-Identifier: GPL-2.0-only
/*
 * keel-rcache's socket server (keel/rcache.h).  One thread per client: a
 * client (a disk server's cache filter) sends one request at a time and
 * waits for its reply, so in-flight requests are bounded by the number of
 * clients, itself bounded by max_clients.  A thread blocks in the store
 * (device reads) and in the client's memory handle (placing hits into its
 * buffer), never in another client's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/unixsock.h"
#include "keel/rcache.h"
#include "rcache/server.h"
#include "rcache/sizing.h"

#define IDLE_TIMEOUT_S 0 /* clients may stay idle; the socket is local */

struct keel_rcache_server {
	struct keel_rcache_server_opts o;
	char path[108];
	int lfd;
	pthread_mutex_t lock;
	pthread_cond_t gone;
	unsigned int clients;
	int fds[4096]; /* live client sockets, to hang up at stop */
	uint64_t connects, refused;
	/* by kind of memory handle (keel.ko's, memh's fallback): clients now,
	 * blocks copied through them, copies that failed (a dead handle) */
	unsigned int kind_clients[2];
	uint64_t kind_blocks[2], handle_errors;
};

enum { KIND_KEEL_KO, KIND_FALLBACK };

struct client {
	struct keel_rcache_server *srv;
	int fd;
	struct keel_memh *h; /* NULL: control only */
	void *buf;	     /* aligned, max blocks */
	bool kind_counted;   /* in srv->kind_clients */
};

static void event(struct keel_rcache_server *srv, const char *type, json_t *fields)
{
	if (srv->o.event)
		srv->o.event(srv->o.event_ctx, type, fields);
	else
		json_decref(fields);
}

static int io_all(int fd, void *buf, size_t len, bool out)
{
	char *p = buf;

	while (len) {
		ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint64_t parse_disk(json_t *v, int *ok)
{
	const char *s = json_string_value(v);
	char *end;
	uint64_t id;

	*ok = 0;
	if (!s)
		return 0;
	if (!strcmp(s, "all")) {
		*ok = 1;
		return KEEL_RCACHE_ALL_DISKS;
	}
	errno = 0;
	id = strtoull(s, &end, 16);
	*ok = !errno && *s && !*end;
	return id;
}

/*
 * CONTROL "size": per-disk limits from miss-ratio curves (sizing.h), set
 * at once.  {"disks": [{"disk_id", "reads", "curve": [[blocks, miss
 * ratio], ...]}], "capacity": blocks (default: the cache's)}.  Nothing is
 * set unless every curve is valid; an error names the field.
 */
static json_t *size_disks(struct keel_rcache_store *st, json_t *in, int *status)
{
	json_t *disks = json_object_get(in, "disks"), *capv = json_object_get(in, "capacity");
	size_t n = json_array_size(disks), total_pts = 0;
	struct keel_rcache_curve *c = NULL;
	uint64_t *pts = NULL, *limits = NULL, capacity;
	double *mr = NULL, hits = 0, reads = 0;
	json_t *out = NULL, *arr, *d, *p;
	char why[160] = "";
	size_t i, j;
	int ok;

	*status = -EINVAL;
	{
		struct keel_rcache_store_stats t;

		keel_rcache_store_stats(st, &t);
		capacity = t.capacity;
	}
	if (capv && (!json_is_integer(capv) || json_integer_value(capv) < 1 ||
		     (uint64_t)json_integer_value(capv) > capacity)) {
		snprintf(why, sizeof(why), "capacity: expected 1..%llu blocks",
			 (unsigned long long)capacity);
		goto out;
	}
	if (capv)
		capacity = (uint64_t)json_integer_value(capv);
	if (!json_is_array(disks) || !n || n > 4096) {
		snprintf(why, sizeof(why), "disks: expected an array of 1..4096 disks");
		goto out;
	}
	json_array_foreach(disks, i, d)
		total_pts += json_array_size(json_object_get(d, "curve"));
	c = calloc(n, sizeof(*c));
	limits = calloc(n, sizeof(*limits));
	pts = calloc(total_pts + 1, sizeof(*pts));
	mr = calloc(total_pts + 1, sizeof(*mr));
	if (!c || !limits || !pts || !mr) {
		*status = -ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
		goto out;
	}
	total_pts = 0;
	json_array_foreach(disks, i, d) {
		json_t *curve = json_object_get(d, "curve"), *rv = json_object_get(d, "reads");

		c[i].disk_id = parse_disk(json_object_get(d, "disk_id"), &ok);
		if (!ok || c[i].disk_id == KEEL_RCACHE_ALL_DISKS) {
			snprintf(why, sizeof(why), "disks[%zu].disk_id: expected 16 hex digits", i);
			goto out;
		}
		if (!json_is_number(rv) || json_number_value(rv) < 0) {
			snprintf(why, sizeof(why), "disks[%zu].reads: expected a number >= 0", i);
			goto out;
		}
		c[i].reads = json_number_value(rv);
		reads += c[i].reads;
		c[i].n = (unsigned int)json_array_size(curve);
		if (!c[i].n || c[i].n > KEEL_RCACHE_SIZE_MAX_POINTS) {
			snprintf(why, sizeof(why), "disks[%zu].curve: expected 1..%d points", i,
				 KEEL_RCACHE_SIZE_MAX_POINTS);
			goto out;
		}
		c[i].blocks = pts + total_pts;
		c[i].miss_ratio = mr + total_pts;
		json_array_foreach(curve, j, p) {
			json_t *b = json_array_get(p, 0), *m = json_array_get(p, 1);

			if (json_array_size(p) != 2 || !json_is_integer(b) ||
			    json_integer_value(b) < 1 || !json_is_number(m) ||
			    json_number_value(m) < 0 || json_number_value(m) > 1 ||
			    (j && (uint64_t)json_integer_value(b) <= pts[total_pts - 1])) {
				snprintf(
					why, sizeof(why),
					"disks[%zu].curve[%zu]: expected [blocks, miss ratio 0..1], "
					"blocks rising",
					i, j);
				goto out;
			}
			pts[total_pts] = (uint64_t)json_integer_value(b);
			mr[total_pts++] = json_number_value(m);
		}
	}
	*status = keel_rcache_size(c, (unsigned int)n, capacity, limits, &hits);
	if (*status) {
		snprintf(why, sizeof(why), "sizing failed: %s", strerror(-*status));
		goto out;
	}
	arr = json_array();
	for (i = 0; i < n; i++) {
		char id[24];

		/* a limit of 0 means the default share to the store: 1 block */
		keel_rcache_store_set_limit(st, c[i].disk_id, limits[i] ? limits[i] : 1);
		snprintf(id, sizeof(id), "%016" PRIx64, c[i].disk_id);
		json_array_append_new(arr,
				      json_pack("{s:s, s:I, s:f}", "disk_id", id, "limit_blocks",
						(json_int_t)(limits[i] ? limits[i] : 1),
						"expected_hit_ratio",
						1 - keel_rcache_curve_miss(&c[i], limits[i])));
	}
	out = json_pack("{s:o, s:I, s:f}", "disks", arr, "capacity_blocks", (json_int_t)capacity,
			"expected_hit_ratio", reads > 0 ? hits / reads : 0.0);
out:
	free(c);
	free(limits);
	free(pts);
	free(mr);
	return out ? out : json_pack("{s:s}", "error", why);
}

/* CONTROL: JSON in, JSON out. */
static json_t *control(struct keel_rcache_server *srv, const char *text, int *status)
{
	struct keel_rcache_store *st = srv->o.store;
	json_error_t jerr;
	json_t *in = json_loads(text, 0, &jerr), *out = NULL;
	const char *op = json_string_value(json_object_get(in, "op"));
	int ok;

	*status = 0;
	if (!op) {
		*status = -EINVAL;
		out = json_pack("{s:s}", "error", "request: expected a JSON object with \"op\"");
	} else if (!strcmp(op, "stats")) {
		out = keel_rcache_store_stats_json(st);
		json_object_set_new(out, "clients", json_integer(srv->clients));
		json_object_set_new(out, "max_clients", json_integer(srv->o.max_clients));
		json_object_set_new(out, "connects", json_integer((json_int_t)srv->connects));
		json_object_set_new(out, "refused_clients", json_integer((json_int_t)srv->refused));
		pthread_mutex_lock(&srv->lock);
		json_object_set_new(out, "keel_ko_clients",
				    json_integer(srv->kind_clients[KIND_KEEL_KO]));
		json_object_set_new(out, "fallback_clients",
				    json_integer(srv->kind_clients[KIND_FALLBACK]));
		pthread_mutex_unlock(&srv->lock);
		json_object_set_new(out, "keel_ko_blocks",
				    json_integer((json_int_t)__atomic_load_n(
					    &srv->kind_blocks[KIND_KEEL_KO], __ATOMIC_RELAXED)));
		json_object_set_new(out, "fallback_blocks",
				    json_integer((json_int_t)__atomic_load_n(
					    &srv->kind_blocks[KIND_FALLBACK], __ATOMIC_RELAXED)));
		json_object_set_new(out, "handle_errors",
				    json_integer((json_int_t)__atomic_load_n(&srv->handle_errors,
									     __ATOMIC_RELAXED)));
		json_object_set_new(out, "autosize", keel_rcache_autosize_json(srv->o.autosize));
		json_object_set_new(out, "size_interval_ms",
				    json_integer(srv->o.autosize ? srv->o.size_interval_ms : 0));
	} else if (!strcmp(op, "size")) {
		out = size_disks(st, in, status);
	} else if (!strcmp(op, "disks")) {
		out = keel_rcache_store_disks_json(st);
		keel_rcache_autosize_annotate(srv->o.autosize, out);
	} else if (!strcmp(op, "flush")) {
		out = json_pack("{s:I}", "dropped",
				(json_int_t)keel_rcache_store_drop(st, KEEL_RCACHE_ALL_DISKS,
								   "keelctl rcache flush"));
	} else if (!strcmp(op, "drop") || !strcmp(op, "limit")) {
		uint64_t id = parse_disk(json_object_get(in, "disk_id"), &ok);
		json_t *bl = json_object_get(in, "blocks");

		if (!ok) {
			*status = -EINVAL;
			out = json_pack(
				"{s:s}", "error",
				"disk_id: expected 16 hex digits (keelctl rcache disks) or \"all\"");
		} else if (!strcmp(op, "drop")) {
			out = json_pack("{s:I}", "dropped",
					(json_int_t)keel_rcache_store_drop(st, id,
									   "keelctl rcache drop"));
		} else if (!json_is_integer(bl) || json_integer_value(bl) < 0 ||
			   id == KEEL_RCACHE_ALL_DISKS) {
			*status = -EINVAL;
			out = json_pack("{s:s}", "error",
					"limit: expected a disk_id and blocks >= 0");
		} else {
			*status = keel_rcache_store_set_limit(st, id,
							      (uint64_t)json_integer_value(bl));
			out = json_pack("{s:b}", "ok", !*status);
		}
	} else {
		*status = -EOPNOTSUPP;
		out = json_pack("{s:s}", "error",
				"unknown op (known: stats, disks, flush, drop, limit, size)");
	}
	json_decref(in);
	return out;
}

static int kind(const struct client *c)
{
	return keel_memh_fallback(c->h) ? KIND_FALLBACK : KIND_KEEL_KO;
}

/* @n blocks went through @c's handle */
static void counted(struct client *c, uint64_t n)
{
	__atomic_add_fetch(&c->srv->kind_blocks[kind(c)], n, __ATOMIC_RELAXED);
}

static int handle(struct client *c, struct keel_rcache_req *q, struct keel_rcache_reply *p,
		  char **ret_text)
{
	struct keel_rcache_store *st = c->srv->o.store;
	uint32_t bs = keel_rcache_store_block_size(st);
	uint64_t nb = q->len / bs;
	int r;

	if (q->op == KEEL_RCACHE_CONTROL) {
		char *text;
		json_t *out;

		if (q->len > KEEL_RCACHE_MAX_JSON)
			return -EMSGSIZE;
		text = calloc(1, q->len + 1);
		if (!text)
			return -ENOMEM;
		r = io_all(c->fd, text, q->len, false);
		if (r) {
			free(text);
			return r; /* the connection is gone */
		}
		out = control(c->srv, text, &p->status);
		free(text);
		*ret_text = json_dumps(out, JSON_COMPACT);
		json_decref(out);
		p->len = *ret_text ? (uint32_t)strlen(*ret_text) : 0;
		return 0;
	}
	if (q->op == KEEL_RCACHE_DROP) {
		p->count = (uint32_t)keel_rcache_store_drop(st, q->disk_id, "client drop");
		return 0;
	}
	if (q->op == KEEL_RCACHE_INVALIDATE) {
		uint64_t first = q->off / bs, last = q->len ? (q->off + q->len - 1) / bs : first;

		if (!q->len || q->off + q->len < q->off) {
			p->status = -EINVAL;
			return 0;
		}
		r = keel_rcache_store_invalidate(st, q->disk_id, first, last - first + 1);
		p->status = r < 0 ? r : 0;
		p->count = r < 0 ? 0 : (uint32_t)r;
		return 0;
	}
	if (q->op != KEEL_RCACHE_LOOKUP && q->op != KEEL_RCACHE_ADMIT) {
		p->status = -EOPNOTSUPP;
		return 0;
	}
	if (!c->h) {
		p->status = -ENOTCONN; /* a control client has no buffer */
		return 0;
	}
	if (q->off % bs || q->len % bs || !nb || nb > KEEL_RCACHE_MAX_BLOCKS ||
	    q->handle_off > keel_memh_len(c->h) || q->len > keel_memh_len(c->h) - q->handle_off) {
		p->status = -EINVAL;
		return 0;
	}
	if (q->op == KEEL_RCACHE_LOOKUP) {
		uint64_t seq = 0;

		r = keel_rcache_store_lookup(st, q->disk_id, q->cid, q->off / bs, (unsigned int)nb,
					     c->buf, p->hits, &seq);
		p->seq = seq;
		if (r < 0) {
			p->status = r;
			return 0;
		}
		/* the disk's live miss-ratio curve sees every block read */
		keel_rcache_autosize_access(c->srv->o.autosize, q->disk_id, q->off / bs,
					    (unsigned int)nb);
		p->count = (uint32_t)r;
		/* each run of hits goes into the caller's buffer in one copy */
		for (uint64_t i = 0; i < nb && r > 0;) {
			uint64_t j = i;
			ssize_t w;

			if (!(p->hits[i / 8] & (1u << (i % 8)))) {
				i++;
				continue;
			}
			while (j < nb && (p->hits[j / 8] & (1u << (j % 8))))
				j++;
			w = keel_memh_copy(c->h, q->handle_off + i * bs, (char *)c->buf + i * bs,
					   (j - i) * bs, true);
			if (w == (ssize_t)((j - i) * bs))
				counted(c, j - i);
			if (w != (ssize_t)((j - i) * bs)) {
				__atomic_add_fetch(&c->srv->handle_errors, 1, __ATOMIC_RELAXED);
				/* the buffer is gone (revoked, creator exited): no hits */
				memset(p->hits, 0, sizeof(p->hits));
				p->count = 0;
				p->status = w < 0 ? (int)w : -EFAULT;
				break;
			}
			i = j;
		}
		return 0;
	}
	r = (int)keel_memh_copy(c->h, q->handle_off, c->buf, q->len, false);
	if (r != (int)q->len) {
		__atomic_add_fetch(&c->srv->handle_errors, 1, __ATOMIC_RELAXED);
		p->status = r < 0 ? r : -EFAULT;
		return 0;
	}
	counted(c, nb);
	r = keel_rcache_store_admit(st, q->disk_id, q->cid, q->off / bs, (unsigned int)nb, c->buf,
				    q->seq);
	p->status = r < 0 ? r : 0;
	p->count = r < 0 ? 0 : (uint32_t)r;
	return 0;
}

static void client_gone(struct client *c)
{
	struct keel_rcache_server *srv = c->srv;

	pthread_mutex_lock(&srv->lock);
	for (unsigned int i = 0; i < sizeof(srv->fds) / sizeof(srv->fds[0]); i++)
		if (srv->fds[i] == c->fd)
			srv->fds[i] = -1;
	srv->clients--;
	if (c->kind_counted)
		srv->kind_clients[kind(c)]--;
	pthread_cond_broadcast(&srv->gone);
	pthread_mutex_unlock(&srv->lock);
	close(c->fd);
	keel_memh_free(c->h);
	free(c->buf);
	free(c);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct keel_rcache_store *st = c->srv->o.store;
	struct keel_rcache_req q;
	struct keel_rcache_reply p;
	size_t got = 0;
	int r;

	r = keel_memh_recv(c->fd, &q, sizeof(q), &got, &c->h);
	if ((r && r != -ENOMSG) || got != sizeof(q) || q.magic != KEEL_RCACHE_MAGIC ||
	    q.op != KEEL_RCACHE_HELLO)
		goto out;
	if (c->h &&
	    (keel_memh_len(c->h) < keel_rcache_store_block_size(st) ||
	     posix_memalign(&c->buf, 4096,
			    (size_t)KEEL_RCACHE_MAX_BLOCKS * keel_rcache_store_block_size(st))))
		goto out;
	if (c->h) {
		pthread_mutex_lock(&c->srv->lock);
		c->srv->kind_clients[kind(c)]++;
		c->kind_counted = true;
		pthread_mutex_unlock(&c->srv->lock);
	}
	/* a filter that could not reach us left dirty marks: act on them
	 * before it uses the cache again */
	keel_rcache_store_sweep_dirty(st);
	memset(&p, 0, sizeof(p));
	p.id = q.id;
	p.block_size = keel_rcache_store_block_size(st);
	p.count = KEEL_RCACHE_MAX_BLOCKS;
	if (io_all(c->fd, &p, sizeof(p), true))
		goto out;
	for (;;) {
		char *text = NULL;

		if (io_all(c->fd, &q, sizeof(q), false))
			break;
		if (q.magic != KEEL_RCACHE_MAGIC || q.flags)
			break; /* not our protocol: hang up */
		memset(&p, 0, sizeof(p));
		p.id = q.id;
		p.block_size = keel_rcache_store_block_size(st);
		if (handle(c, &q, &p, &text)) {
			free(text);
			break;
		}
		r = io_all(c->fd, &p, sizeof(p), true);
		if (!r && p.len)
			r = io_all(c->fd, text, p.len, true);
		free(text);
		if (r)
			break;
	}
out:
	client_gone(c);
	return NULL;
}

static void accept_one(struct keel_rcache_server *srv)
{
	struct ucred peer;
	struct client *c;
	pthread_attr_t a;
	pthread_t t;
	int fd = keel_unix_accept(srv->lfd, &peer), flags;

	if (fd < 0)
		return;
	/* the client threads block on their socket */
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	pthread_mutex_lock(&srv->lock);
	srv->connects++;
	if (srv->clients >= srv->o.max_clients) {
		struct keel_rcache_reply p = { .status = -EUSERS };
		struct timeval tv = { .tv_usec = 200000 };
		struct keel_rcache_req q;
		struct keel_memh *h = NULL;
		size_t got = 0;
		int r;

		srv->refused++;
		pthread_mutex_unlock(&srv->lock);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		/* take the hello (and its handle) first: closing a socket with
		 * unread data resets the client's side, which may then never
		 * read the refusal; a silent client costs this loop 200 ms */
		r = keel_memh_recv(fd, &q, sizeof(q), &got, &h);
		if ((!r || r == -ENOMSG) && got == sizeof(q))
			p.id = q.id;
		keel_memh_free(h);
		io_all(fd, &p, sizeof(p), true);
		close(fd);
		event(srv, "rcache.client_refused",
		      json_pack("{s:i, s:i, s:s}", "pid", (int)peer.pid, "max_clients",
				(int)srv->o.max_clients, "reason", "too many clients"));
		return;
	}
	srv->clients++;
	for (unsigned int i = 0; i < sizeof(srv->fds) / sizeof(srv->fds[0]); i++)
		if (srv->fds[i] < 0) {
			srv->fds[i] = fd;
			break;
		}
	pthread_mutex_unlock(&srv->lock);
	c = calloc(1, sizeof(*c));
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (c) {
		c->srv = srv;
		c->fd = fd;
	}
	if (!c || pthread_create(&t, &a, client_main, c)) {
		if (c)
			client_gone(c);
		else
			close(fd);
	}
	pthread_attr_destroy(&a);
}

int keel_rcache_server_start(const struct keel_rcache_server_opts *o,
			     struct keel_rcache_server **ret, char *err, size_t errlen)
{
	struct keel_rcache_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return -ENOMEM;
	srv->o = *o;
	if (!srv->o.max_clients || srv->o.max_clients > sizeof(srv->fds) / sizeof(srv->fds[0])) {
		snprintf(err, errlen, "max clients %u: must be 1..%zu", srv->o.max_clients,
			 sizeof(srv->fds) / sizeof(srv->fds[0]));
		free(srv);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < sizeof(srv->fds) / sizeof(srv->fds[0]); i++)
		srv->fds[i] = -1;
	snprintf(srv->path, sizeof(srv->path), "%s", o->socket);
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->gone, NULL);
	srv->lfd = keel_unix_listen(o->socket, 0, 64);
	if (srv->lfd < 0) {
		int r = srv->lfd;

		snprintf(err, errlen, "%s: cannot listen: %s%s", o->socket, strerror(-r),
			 r == -EADDRINUSE ? " (another keel-rcache answers there)" : "");
		free(srv);
		return r;
	}
	*ret = srv;
	return 0;
}

int keel_rcache_server_run(struct keel_rcache_server *srv, volatile int *stop)
{
	struct pollfd pfd = { .fd = srv->lfd, .events = POLLIN };
	uint64_t now = keel_clock_ns(CLOCK_MONOTONIC), sweep_at = now + 1000000000ull,
		 size_at = now + (uint64_t)srv->o.size_interval_ms * 1000000;

	while (!*stop) {
		int n = poll(&pfd, 1, 200);

		if (n > 0)
			accept_one(srv);
		keel_rcache_store_tick(srv->o.store);
		now = keel_clock_ns(CLOCK_MONOTONIC);
		if (now >= sweep_at) {
			keel_rcache_store_sweep_dirty(srv->o.store);
			sweep_at = now + 1000000000ull;
		}
		if (srv->o.autosize && srv->o.size_interval_ms && now >= size_at) {
			keel_rcache_autosize_run(srv->o.autosize);
			size_at = now + (uint64_t)srv->o.size_interval_ms * 1000000;
		}
	}
	return 0;
}

void keel_rcache_server_stop(struct keel_rcache_server *srv)
{
	if (!srv)
		return;
	close(srv->lfd);
	unlink(srv->path);
	pthread_mutex_lock(&srv->lock);
	for (unsigned int i = 0; i < sizeof(srv->fds) / sizeof(srv->fds[0]); i++)
		if (srv->fds[i] >= 0)
			shutdown(srv->fds[i], SHUT_RDWR);
	while (srv->clients)
		pthread_cond_wait(&srv->gone, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
	free(srv);
}
