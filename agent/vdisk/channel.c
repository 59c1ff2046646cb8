// SPDX-License-Identifier: GPL-2.0-only
/*
 * The disk server's channel: an application asks a filter for a handle
 * and receives a socket bound to that filter (SCM_RIGHTS).  One thread per
 * channel connection and per handle; a handle thread enters the chain at
 * its filter for every request.  Protocol: keel/vdisk_client.h.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/unixsock.h"
#include "keel/vdisk.h"
#include "keel/vdisk_client.h"

#define MAX_LINE (64u << 10)
#define MAX_FDS	 (KEEL_VCHANNEL_MAX_CONNS + KEEL_VCHANNEL_MAX_HANDLES)

struct keel_vchannel {
	struct keel_vdisk *d;
	char path[108];
	int lfd, stop[2];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int fds[MAX_FDS]; /* live connections and handles, -1 = free */
	unsigned int nconns, nhandles;
	bool stopping;
};

struct worker {
	struct keel_vchannel *c;
	int fd;
	struct keel_vfilter *f; /* a handle's filter; NULL: a connection */
};

static int track(struct keel_vchannel *c, int fd, bool handle)
{
	int r = -EMFILE;

	pthread_mutex_lock(&c->lock);
	if (!c->stopping && (handle ? c->nhandles < KEEL_VCHANNEL_MAX_HANDLES :
				      c->nconns < KEEL_VCHANNEL_MAX_CONNS))
		for (int i = 0; i < MAX_FDS; i++)
			if (c->fds[i] < 0) {
				c->fds[i] = fd;
				if (handle)
					c->nhandles++;
				else
					c->nconns++;
				r = 0;
				break;
			}
	pthread_mutex_unlock(&c->lock);
	return r;
}

static void untrack(struct keel_vchannel *c, int fd, bool handle)
{
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < MAX_FDS; i++)
		if (c->fds[i] == fd)
			c->fds[i] = -1;
	if (handle)
		c->nhandles--;
	else
		c->nconns--;
	close(fd);
	pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
}

static int read_full(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			done += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			done += (size_t)n;
	}
	return 0;
}

/* One request of a handle; returns < 0 only when the handle must close. */
static int serve_one(struct worker *w, unsigned char **buf, size_t *cap)
{
	struct keel_vdisk_handle_req q;
	struct keel_vdisk_handle_reply a = { .magic = htole32(KEEL_VDISK_HANDLE_MAGIC) };
	uint64_t off, len;
	int r = read_full(w->fd, &q, sizeof(q)), e;

	if (r)
		return r;
	if (le32toh(q.magic) != KEEL_VDISK_HANDLE_MAGIC)
		return -EPROTO; /* out of step: nothing after this can be trusted */
	off = le64toh(q.offset);
	len = le64toh(q.length);
	a.tag = q.tag;
	if ((le16toh(q.op) == KEEL_VDISK_OP_READ || le16toh(q.op) == KEEL_VDISK_OP_WRITE) &&
	    len > *cap) {
		unsigned char *nb;

		if (len > KEEL_VDISK_HANDLE_MAX_IO)
			return -EPROTO;
		nb = realloc(*buf, len);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = len;
	}
	switch (le16toh(q.op)) {
	case KEEL_VDISK_OP_READ:
		e = keel_vfilter_pread(w->f, *buf, len, off);
		break;
	case KEEL_VDISK_OP_WRITE:
		r = read_full(w->fd, *buf, len);
		if (r)
			return r;
		e = keel_vfilter_pwrite(w->f, *buf, len, off, le16toh(q.flags) & KEEL_VF_FUA);
		break;
	case KEEL_VDISK_OP_FLUSH:
		e = keel_vfilter_flush(w->f);
		break;
	case KEEL_VDISK_OP_DISCARD:
		e = keel_vfilter_discard(w->f, off, len,
					 le16toh(q.flags) & (KEEL_VF_FUA | KEEL_VF_ZERO));
		break;
	default:
		e = -EOPNOTSUPP;
	}
	a.error = (int32_t)htole32((uint32_t)e);
	r = write_full(w->fd, &a, sizeof(a));
	if (!r && !e && le16toh(q.op) == KEEL_VDISK_OP_READ)
		r = write_full(w->fd, *buf, len);
	return r;
}

static void *handle_thread(void *arg)
{
	struct worker *w = arg;
	unsigned char *buf = NULL;
	size_t cap = 0;

	while (serve_one(w, &buf, &cap) >= 0)
		;
	free(buf);
	untrack(w->c, w->fd, true);
	free(w);
	return NULL;
}

static int send_answer(int fd, json_t *ans, int pass_fd)
{
	char *text = json_dumps(ans, JSON_COMPACT);
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t len;
	int r;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n'; /* json_dumps's NUL becomes the line end */
	iov.iov_base = text;
	iov.iov_len = len + 1;
	if (pass_fd >= 0) {
		struct cmsghdr *cm;

		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	r = sendmsg(fd, &m, MSG_NOSIGNAL) == (ssize_t)(len + 1) ? 0 : -EIO;
	free(text);
	return r;
}

static json_t *fail(int e, const char *msg)
{
	return json_pack("{s:b, s:i, s:s}", "ok", 0, "errno", e < 0 ? -e : e, "error", msg);
}

/* A new handle: a socket pair, one end served here, the other sent. */
static json_t *do_handle(struct keel_vchannel *c, const char *filter, int *ret_fd)
{
	struct keel_vfilter *f;
	struct worker *w;
	char reason[512];
	pthread_t t;
	int sv[2], r;

	if (!filter)
		return fail(EINVAL, "a handle request needs \"filter\"");
	r = keel_vdisk_attach(c->d, filter, &f, reason, sizeof(reason));
	if (r)
		return fail(r, reason);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return fail(errno, "socketpair failed");
	w = calloc(1, sizeof(*w));
	if (!w || track(c, sv[0], true)) {
		free(w);
		close(sv[0]);
		close(sv[1]);
		return fail(EMFILE, "too many handles open on this disk (limit 64)");
	}
	w->c = c;
	w->fd = sv[0];
	w->f = f;
	if (pthread_create(&t, NULL, handle_thread, w)) {
		untrack(c, sv[0], true);
		free(w);
		close(sv[1]);
		return fail(EAGAIN, "cannot start the handle's thread");
	}
	pthread_detach(t);
	*ret_fd = sv[1];
	return json_pack("{s:b, s:s, s:I}", "ok", 1, "filter", filter, "size",
			 (json_int_t)keel_vdisk_size(c->d));
}

static json_t *do_control(struct keel_vchannel *c, json_t *req)
{
	const char *filter = json_string_value(json_object_get(req, "filter"));
	const char *name = json_string_value(json_object_get(req, "name"));
	struct keel_vfilter *f = filter ? keel_vdisk_find(c->d, filter) : NULL;
	json_t *ans = NULL;
	char err[512];
	int r;

	if (!f || !name)
		return fail(ENOENT,
			    "control needs \"filter\" (a filter of this chain) and \"name\"");
	r = keel_vfilter_control(f, name, json_object_get(req, "args"), &ans, err, sizeof(err));
	if (r) {
		json_decref(ans);
		return fail(r, err);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "result", ans ? ans : json_null());
}

static void *conn_thread(void *arg)
{
	struct worker *w = arg;
	FILE *in = NULL;
	char *line = NULL;
	size_t cap = 0;
	int dfd = dup(w->fd);

	if (dfd >= 0)
		in = fdopen(dfd, "r");
	while (in) {
		ssize_t n = getline(&line, &cap, in);
		json_t *req, *ans;
		const char *op;
		int pass = -1;

		if (n <= 0 || (size_t)n > MAX_LINE)
			break;
		req = json_loads(line, 0, NULL);
		op = json_string_value(json_object_get(req, "op"));
		if (!op)
			ans = fail(EINVAL, "not a JSON object with \"op\"");
		else if (!strcmp(op, "info"))
			ans = json_pack("{s:b, s:o}", "ok", 1, "info", keel_vdisk_info(w->c->d));
		else if (!strcmp(op, "handle"))
			ans = do_handle(w->c, json_string_value(json_object_get(req, "filter")),
					&pass);
		else if (!strcmp(op, "control"))
			ans = do_control(w->c, req);
		else
			ans = fail(EOPNOTSUPP, "unknown op (known: info, handle, control)");
		n = send_answer(w->fd, ans, pass);
		if (pass >= 0)
			close(pass);
		json_decref(ans);
		json_decref(req);
		if (n)
			break;
	}
	free(line);
	if (in)
		fclose(in);
	else if (dfd >= 0)
		close(dfd);
	untrack(w->c, w->fd, false);
	free(w);
	return NULL;
}

static void *accept_thread(void *arg)
{
	struct keel_vchannel *c = arg;
	struct pollfd p[2] = { { .fd = c->lfd, .events = POLLIN },
			       { .fd = c->stop[0], .events = POLLIN } };

	for (;;) {
		struct ucred peer;
		struct worker *w;
		pthread_t t;
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = keel_unix_accept(c->lfd, &peer);
		if (fd < 0)
			continue;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		w = calloc(1, sizeof(*w));
		if (!w || track(c, fd, false)) {
			free(w);
			close(fd); /* over the limit: the client sees EOF */
			continue;
		}
		w->c = c;
		w->fd = fd;
		if (pthread_create(&t, NULL, conn_thread, w)) {
			untrack(c, fd, false);
			free(w);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

int keel_vchannel_start(struct keel_vdisk *d, const char *path, struct keel_vchannel **ret,
			char *err, size_t errlen)
{
	struct keel_vchannel *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	if (strlen(path) >= sizeof(c->path)) {
		free(c);
		snprintf(err, errlen, "channel socket path %s: longer than 107 bytes", path);
		return -ENAMETOOLONG;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->d = d;
	for (int i = 0; i < MAX_FDS; i++)
		c->fds[i] = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	c->lfd = keel_unix_listen(path, getgid(), 16);
	if (c->lfd < 0) {
		r = c->lfd;
		snprintf(err, errlen, "channel socket %s: %s%s", path, strerror(-r),
			 r == -EADDRINUSE ? " (another disk server has this disk open)" : "");
		free(c);
		return r;
	}
	if (pipe2(c->stop, O_CLOEXEC) || pthread_create(&c->thread, NULL, accept_thread, c)) {
		r = -errno ? -errno : -EAGAIN;
		snprintf(err, errlen, "channel socket %s: cannot start its thread", path);
		close(c->lfd);
		unlink(path);
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void keel_vchannel_stop(struct keel_vchannel *c)
{
	if (!c)
		return;
	if (write(c->stop[1], "x", 1) != 1)
		pthread_cancel(c->thread);
	pthread_join(c->thread, NULL);
	close(c->lfd);
	unlink(c->path);
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	for (int i = 0; i < MAX_FDS; i++)
		if (c->fds[i] >= 0)
			shutdown(c->fds[i], SHUT_RDWR); /* their threads see EOF */
	while (c->nconns || c->nhandles)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
	close(c->stop[0]);
	close(c->stop[1]);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->idle);
	free(c);
}
