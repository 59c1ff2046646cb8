// SPDX-License-Identifier: GPL-2.0-only
/*
 * The disk server's side of ownership: start and stop (the threads of
 * owner_acquire.c, owner_release.c and owner_lease.c), the local control
 * socket keel-vdisk and keeld use, status.  The protocol and its states are
 * described in owner_srv.h.
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

/* Read one line (at most REQUEST_MAX bytes) within 2 s. */
ssize_t keel_owner_read_line(int fd, char *buf, size_t cap, int timeout_ms)
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

void keel_owner_send_json(int fd, json_t *o)
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
		snprintf(err, sizeof(err),
			 "unknown op \"%s\" (acquire, release, migrating, status)", op);
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
		n = keel_owner_read_line(fd, buf, REQUEST_MAX, 2000);
		if (n >= 0) {
			ans = handle_control(s, buf, (size_t)n);
			keel_owner_send_json(fd, ans);
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
		unlink(a->sun_path); /* one server per disk holds the disk lock */
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
			snprintf(err, errlen, "--owner-listen %s: not tcp:IPV4:PORT or unix:PATH",
				 addr);
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
		snprintf(
			err, errlen,
			"lease_ms %u, renew_ms %u: the lease must be 300 ms to 1 h and at least 3 renewals long",
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
		snprintf(err, errlen, "no host id: /etc/machine-id: %s (set host_id)",
			 strerror(-r));
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
	if (pthread_create(&s->listener, NULL, keel_owner_listener, s) ||
	    pthread_create(&s->renewer, NULL, keel_owner_renewer, s) ||
	    (s->control_fd >= 0 && pthread_create(&s->controller, NULL, controller, s))) {
		snprintf(err, errlen, "cannot start the ownership threads");
		r = -EAGAIN;
		goto fail; /* exits the server: threads end with it */
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
			return; /* the threads end with the process */
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
		snprintf(err, errlen,
			 "%s: %s (is a disk server with ownership running for this disk?)", path,
			 strerror((int)-n));
		if (fd >= 0)
			close(fd);
		return (int)n;
	}
	keel_owner_send_json(fd, req);
	buf = malloc(65537);
	n = buf ? keel_owner_read_line(fd, buf, 65536, timeout_ms) : -ENOMEM;
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
