// SPDX-License-Identifier: GPL-2.0-only
/* keel-rcache's client side (keel/rcache.h): the cache filter and keelctl. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "keel/rcache.h"

static int io_all(int sock, void *buf, size_t len, bool out)
{
	char *p = buf;

	while (len) {
		ssize_t n = out ? send(sock, p, len, MSG_NOSIGNAL) : recv(sock, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int keel_rcache_call(int sock, struct keel_rcache_req *req, const void *payload,
		     struct keel_rcache_reply *rep, char **ret_payload)
{
	char *text = NULL;
	int r;

	req->magic = KEEL_RCACHE_MAGIC;
	r = io_all(sock, req, sizeof(*req), true);
	if (!r && payload && req->len)
		r = io_all(sock, (void *)payload, req->len, true);
	if (!r)
		r = io_all(sock, rep, sizeof(*rep), false);
	if (!r && rep->id != req->id)
		r = -EPROTO;
	if (!r && rep->len) {
		if (rep->len > KEEL_RCACHE_MAX_JSON)
			return -EPROTO;
		text = malloc((size_t)rep->len + 1);
		if (!text)
			return -ENOMEM;
		r = io_all(sock, text, rep->len, false);
		text[rep->len] = '\0';
	}
	if (!r && ret_payload)
		*ret_payload = text;
	else
		free(text);
	return r;
}

int keel_rcache_connect(const char *path, const struct keel_memh *h, unsigned int timeout_ms,
			uint32_t *ret_block_size, uint32_t *ret_max_blocks, char *why,
			size_t why_len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct keel_rcache_req req = { .magic = KEEL_RCACHE_MAGIC, .op = KEEL_RCACHE_HELLO };
	struct keel_rcache_reply rep;
	struct timeval tv;
	int sock, r;

	if (!timeout_ms)
		timeout_ms = 5000;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(why, why_len, "%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(sock, (struct sockaddr *)&a, sizeof(a))) {
		r = -errno;
		snprintf(why, why_len, "%s: cannot connect: %s (is keel-rcache running?)", path,
			 strerror(errno));
		goto fail;
	}
	r = h ? keel_memh_send(sock, h, &req, sizeof(req)) : io_all(sock, &req, sizeof(req), true);
	if (!r)
		r = io_all(sock, &rep, sizeof(rep), false);
	if (r) {
		snprintf(why, why_len, "%s: hello: %s", path, strerror(-r));
		goto fail;
	}
	if (rep.status) {
		r = rep.status;
		snprintf(why, why_len, "%s: keel-rcache refused the connection: %s%s", path,
			 strerror(-r),
			 r == -EUSERS ? " (all of its --max-clients connections are taken)" : "");
		goto fail;
	}
	if (ret_block_size)
		*ret_block_size = rep.block_size;
	if (ret_max_blocks)
		*ret_max_blocks = rep.count;
	return sock;
fail:
	close(sock);
	return r;
}

int keel_rcache_control(int sock, const char *json, char **ret, char *why, size_t why_len)
{
	struct keel_rcache_req req = { .op = KEEL_RCACHE_CONTROL, .id = 1, .len = strlen(json) };
	struct keel_rcache_reply rep;
	int r;

	*ret = NULL;
	r = keel_rcache_call(sock, &req, json, &rep, ret);

	if (r) {
		snprintf(why, why_len, "keel-rcache: %s", strerror(-r));
		return r;
	}
	if (rep.status) {
		snprintf(why, why_len, "keel-rcache: %s", *ret ? *ret : strerror(-rep.status));
		return rep.status;
	}
	return 0;
}
