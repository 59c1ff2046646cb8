// SPDX-License-Identifier: GPL-2.0-only
/*
 * keeld's read service, client side: JSON lines over a Unix stream socket
 * whose first message carries the memory handle (SCM_RIGHTS).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "keel/memh_client.h"

#define LINE_MAX_LEN 8192

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/*
 * One reply line.  Peek first so that nothing after the newline is
 * consumed: the socket itself is the only buffer, and the caller keeps no
 * state between calls.
 */
static int read_line(int sock, char *buf, size_t size)
{
	for (;;) {
		ssize_t n = recv(sock, buf, size - 1, MSG_PEEK);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		nl = memchr(buf, '\n', n);
		if (!nl && (size_t)n == size - 1)
			return -EMSGSIZE;
		if (!nl) {
			/* wait for more: block until the rest arrives */
			if (recv(sock, buf, n + 1, MSG_PEEK | MSG_WAITALL) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		n = recv(sock, buf, nl - buf + 1, 0);
		if (n < 0)
			return -errno;
		buf[n - 1] = '\0';
		return 0;
	}
}

/* Parse a reply; its bytes, or keeld's negative errno with the message. */
static ssize_t parse_reply(const char *line, uint64_t *ret_id, json_t **ret, char *why,
			   size_t why_len)
{
	json_t *r = json_loads(line, 0, NULL), *id;
	json_int_t e;
	ssize_t n;

	if (!json_is_object(r)) {
		json_decref(r);
		say(why, why_len, "keeld's reply is not a JSON object: %.100s", line);
		return -EPROTO;
	}
	id = json_object_get(r, "id");
	if (ret_id)
		*ret_id = json_is_integer(id) ? (uint64_t)json_integer_value(id) : 0;
	if (!json_is_true(json_object_get(r, "ok"))) {
		e = json_integer_value(json_object_get(r, "errno"));
		say(why, why_len, "%s",
		    json_string_value(json_object_get(r, "error")) ?:
			    "keeld refused without a reason");
		json_decref(r);
		return e > 0 && e < 4096 ? -(ssize_t)e : -EPROTO;
	}
	n = (ssize_t)json_integer_value(json_object_get(r, "bytes"));
	if (ret)
		*ret = r;
	else
		json_decref(r);
	return n;
}

int keel_memh_client_open(const char *sock_path, const struct keel_memh *h, char *ret_mode,
			  size_t mode_len, char *why, size_t why_len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char line[LINE_MAX_LEN];
	json_t *hello = NULL;
	ssize_t n;
	int fd, err;

	if (strlen(sock_path) >= sizeof(addr.sun_path)) {
		say(why, why_len, "socket path %s is too long", sock_path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		say(why, why_len, "connecting to keeld's memh socket %s: %s", sock_path,
		    strerror(-err));
		goto close_fd;
	}
	/* an empty line: the handle needs at least one byte to travel with */
	err = keel_memh_send(fd, h, "\n", 1);
	/* keeld may have refused us (too many clients) and hung up already */
	if (err && read_line(fd, line, sizeof(line)) == 0) {
		err = (int)parse_reply(line, NULL, NULL, why, why_len);
		goto close_fd;
	}
	if (err) {
		say(why, why_len, "sending the handle to %s: %s", sock_path, strerror(-err));
		goto close_fd;
	}
	err = read_line(fd, line, sizeof(line));
	if (err) {
		say(why, why_len, "waiting for keeld's greeting on %s: %s", sock_path,
		    strerror(-err));
		goto close_fd;
	}
	n = parse_reply(line, NULL, &hello, why, why_len);
	if (n < 0) {
		err = (int)n;
		goto close_fd;
	}
	if (ret_mode && mode_len)
		snprintf(ret_mode, mode_len, "%s",
			 json_string_value(json_object_get(hello, "mode")) ?: "");
	json_decref(hello);
	return fd;

close_fd:
	if (fd >= 0)
		close(fd);
	return err;
}

int keel_memh_client_send(int sock, uint64_t id, const char *path, uint64_t file_off, uint64_t len,
			  uint64_t handle_off)
{
	json_t *req = json_pack("{s:I, s:s, s:I, s:I, s:I}", "id", (json_int_t)id, "path", path,
				"file_offset", (json_int_t)file_off, "len", (json_int_t)len,
				"handle_offset", (json_int_t)handle_off);
	char *line;
	size_t n, done = 0;
	int err = 0;

	if (!req)
		return -EINVAL; /* a path that is not UTF-8, or a number over 2^63 */
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!line)
		return -ENOMEM;
	n = strlen(line);
	line[n++] = '\n'; /* json_dumps leaves room: it replaces the NUL */
	while (done < n) {
		ssize_t w = send(sock, line + done, n - done, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err = -errno;
			break;
		}
		done += (size_t)w;
	}
	free(line);
	return err;
}

ssize_t keel_memh_client_reply(int sock, uint64_t *ret_id, char *why, size_t why_len)
{
	char line[LINE_MAX_LEN];
	int err = read_line(sock, line, sizeof(line));

	if (err) {
		say(why, why_len, "reading keeld's reply: %s", strerror(-err));
		return err;
	}
	return parse_reply(line, ret_id, NULL, why, why_len);
}

ssize_t keel_memh_client_read(int sock, const char *path, uint64_t file_off, uint64_t len,
			      uint64_t handle_off, char *why, size_t why_len)
{
	int err = keel_memh_client_send(sock, 1, path, file_off, len, handle_off);

	if (err) {
		say(why, why_len, "sending the request: %s", strerror(-err));
		return err;
	}
	return keel_memh_client_reply(sock, NULL, why, why_len);
}
