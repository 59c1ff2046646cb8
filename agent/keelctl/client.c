// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "keelctl/client.h"

int keel_client_connect(struct keel_client *c, const char *path, char *why, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int err;

	memset(c, 0, sizeof(*c));
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(why, len, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		snprintf(why, len, "cannot connect to keeld at %s: %s%s", path, strerror(-err),
			 err == -ENOENT || err == -ECONNREFUSED ?
				 "; is keeld running? (systemctl status keeld, or make run)" :
			 err == -EACCES ? "; run as root or as a member of [control] group" :
					  "");
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return err;
	}
	c->in = fdopen(dup(c->fd), "r");
	if (!c->in) {
		err = -errno;
		snprintf(why, len, "fdopen: %s", strerror(-err));
		close(c->fd);
		return err;
	}
	return 0;
}

void keel_client_close(struct keel_client *c)
{
	if (c->in)
		fclose(c->in);
	if (c->fd >= 0)
		close(c->fd);
	c->in = NULL;
	c->fd = -1;
}

int keel_client_send(struct keel_client *c, json_t *req)
{
	char *line = json_dumps(req, JSON_COMPACT);
	size_t len, off = 0;

	if (!line)
		return -ENOMEM;
	len = strlen(line);
	line[len++] = '\n';
	while (off < len) {
		ssize_t n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(line);
			return -errno;
		}
		off += (size_t)n;
	}
	free(line);
	return 0;
}

json_t *keel_client_recv(struct keel_client *c, char *why, size_t len)
{
	char *line = NULL;
	size_t cap = 0;
	json_error_t jerr;
	json_t *obj;

	if (getline(&line, &cap, c->in) < 0) {
		snprintf(why, len, "keeld closed the connection");
		free(line);
		return NULL;
	}
	obj = json_loads(line, 0, &jerr);
	free(line);
	if (!obj)
		snprintf(why, len, "malformed reply from keeld: %s", jerr.text);
	return obj;
}

json_t *keel_client_call(struct keel_client *c, json_t *req, char *why, size_t len)
{
	json_t *rep;
	int err = keel_client_send(c, req);

	if (err) {
		snprintf(why, len, "sending to keeld: %s", strerror(-err));
		return NULL;
	}
	rep = keel_client_recv(c, why, len);
	if (rep && !json_is_true(json_object_get(rep, "ok"))) {
		const char *e = json_string_value(json_object_get(rep, "error"));

		snprintf(why, len, "keeld: %s", e ? e : "request refused");
		json_decref(rep);
		return NULL;
	}
	return rep;
}
