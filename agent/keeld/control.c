// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/unixsock.h"
#include "keeld/control.h"
#include "keeld/subsys.h"

#define REQUEST_MAX    65536 /* one request line; more is a protocol error */
#define RESPONSE_QUEUE 1048576

struct conn {
	struct keel_watch watch;
	struct keel_control *ctl;
	struct keel_subscriber sub; /* its queue carries every reply too */
	char in[REQUEST_MAX];
	size_t in_len;
	bool subscribed; /* following events */
	bool close_when_flushed;
	bool privileged;
	struct ucred peer;
	struct conn *next;
};

struct keel_control {
	struct keel_daemon *d;
	struct keel_watch listen;
	struct conn *conns;
	unsigned int n_conns;
	gid_t group;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void conn_close(struct conn *c)
{
	struct keel_control *ctl = c->ctl;

	if (c->subscribed)
		keel_event_bus_unsubscribe(ctl->d->bus, &c->sub);
	keel_watch_del(ctl->d, &c->watch);
	close(c->watch.fd);
	keel_outq_free(&c->sub.q);
	for (int i = 0; i < KEEL_MAX_TYPE_FILTERS; i++)
		free(c->sub.types[i]);
	for (struct conn **p = &ctl->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	ctl->n_conns--;
	free(c);
}

static void on_pending(struct keel_subscriber *sub, void *ctx)
{
	struct conn *c = ctx;

	(void)sub;
	keel_watch_mod(c->ctl->d, &c->watch, EPOLLIN | EPOLLOUT);
}

/* Queue one JSON line for @c; takes @reply. */
static void reply(struct conn *c, json_t *reply)
{
	char *line = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t len;

	json_decref(reply);
	if (!line) {
		c->close_when_flushed = true;
		return;
	}
	len = strlen(line);
	line[len] = '\n';
	if (keel_outq_push(&c->sub.q, line, len + 1) < 0)
		c->close_when_flushed = true; /* cannot answer: hang up */
	free(line);
	if (keel_outq_flush(&c->sub.q, c->watch.fd) > 0)
		on_pending(&c->sub, c);
}

static void reply_error(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply_error(struct conn *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply(c, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

static int cmd_events(struct conn *c, json_t *req)
{
	json_t *types = json_object_get(req, "types");
	bool follow = json_is_true(json_object_get(req, "follow"));
	size_t i;
	json_t *t;

	if (types && !json_is_array(types)) {
		reply_error(c, "'types' must be an array of strings");
		return 0;
	}
	if (json_array_size(types) > KEEL_MAX_TYPE_FILTERS) {
		reply_error(c, "at most %d types may be given", KEEL_MAX_TYPE_FILTERS);
		return 0;
	}
	json_array_foreach(types, i, t) {
		if (!json_is_string(t) || !json_string_length(t)) {
			reply_error(c, "type %zu is not a non-empty string", i + 1);
			return 0;
		}
		c->sub.types[i] = strdup(json_string_value(t));
		if (!c->sub.types[i])
			return -ENOMEM;
	}
	reply(c, json_pack("{s:b, s:s}", "ok", 1, "stream", "events"));
	if (keel_event_bus_subscribe(c->ctl->d->bus, &c->sub, follow) < 0) {
		reply_error(c, "the event backlog does not fit this connection's queue");
		c->close_when_flushed = true;
		return 0;
	}
	c->subscribed = follow;
	c->close_when_flushed = !follow;
	return 0;
}

static struct keel_subsys *find_subsys(struct keel_daemon *d, const char *name)
{
	for (struct keel_subsys **s = d->subsys; *s; s++)
		if (!strcmp((*s)->ops->name, name))
			return *s;
	return NULL;
}

static void cmd_subsystem(struct conn *c, json_t *req)
{
	const char *action = json_string_value(json_object_get(req, "action"));
	const char *name = json_string_value(json_object_get(req, "name"));
	struct keel_subsys *s;

	if (!c->privileged) {
		reply_error(
			c,
			"permission denied: uid %u is neither root nor in group [control] group = %s",
			c->peer.uid, c->ctl->d->cfg.control_group);
		return;
	}
	if (!name || !(s = find_subsys(c->ctl->d, name))) {
		reply_error(c, "no subsystem named '%s' (see keelctl status)", name ? name : "");
		return;
	}
	if (action && !strcmp(action, "stop")) {
		keel_subsys_stop(s, KEEL_SUBSYS_STOPPED, "stopped with keelctl subsystem stop");
	} else if (action && !strcmp(action, "start")) {
		if (s->state != KEEL_SUBSYS_RUNNING)
			keel_subsys_start(s);
	} else {
		reply_error(c, "unknown action '%s': use start or stop", action ? action : "");
		return;
	}
	reply(c, json_pack("{s:b, s:o}", "ok", 1, "subsystem", keel_subsys_status(s)));
}

/* "<subsystem>.<verb>": the subsystem's own commands. */
static void cmd_routed(struct conn *c, const char *cmd, json_t *req)
{
	const char *dot = strchr(cmd, '.');
	char name[32], why[512] = "";
	struct keel_subsys *s;
	json_t *fields;

	snprintf(name, sizeof(name), "%.*s", (int)(dot - cmd), cmd);
	s = find_subsys(c->ctl->d, name);
	if (!s || !s->ops->command) {
		reply_error(c, "unknown command '%s'", cmd);
		return;
	}
	if (s->state != KEEL_SUBSYS_RUNNING) {
		fields = s->ops->offline_command ?
				 s->ops->offline_command(s, dot + 1, req, c->privileged, why,
							 sizeof(why)) :
				 NULL;
		if (!fields && !why[0]) {
			reply_error(c, "subsystem %s is %s%s%s", name,
				    keel_subsys_state_name(s->state), s->reason[0] ? ": " : "",
				    s->reason);
			return;
		}
	} else {
		fields = s->ops->command(s, dot + 1, req, c->privileged, why, sizeof(why));
	}
	if (!fields) {
		reply_error(c, "%s", why[0] ? why : "command failed");
		return;
	}
	json_object_set_new(fields, "ok", json_true());
	reply(c, fields);
}

static int handle_request(struct conn *c, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr);
	const char *cmd;
	int err = 0;

	if (!json_is_object(req)) {
		reply_error(c, "request is not a JSON object: %s", req ? "wrong type" : jerr.text);
		json_decref(req);
		return 0;
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (!cmd)
		reply_error(c, "request has no \"cmd\" string");
	else if (!strcmp(cmd, "status"))
		reply(c, json_pack("{s:b, s:o}", "ok", 1, "status", keel_daemon_status(c->ctl->d)));
	else if (!strcmp(cmd, "ping"))
		reply(c, json_pack("{s:b}", "ok", 1));
	else if (!strcmp(cmd, "events"))
		err = cmd_events(c, req);
	else if (!strcmp(cmd, "subsystem"))
		cmd_subsystem(c, req);
	else if (strchr(cmd, '.'))
		cmd_routed(c, cmd, req);
	else
		reply_error(c, "unknown command '%s'", cmd);
	json_decref(req);
	return err;
}

/* Read and answer requests; false when the connection was closed. */
static bool conn_read(struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->watch.fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
				 MSG_DONTWAIT);
		char *nl;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return false;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return true;
		}
		c->in_len += (size_t)n;
		while (!c->subscribed && !c->close_when_flushed &&
		       (nl = memchr(c->in, '\n', c->in_len))) {
			size_t used = (size_t)(nl - c->in) + 1;

			*nl = '\0';
			if (handle_request(c, c->in) < 0) {
				conn_close(c);
				return false;
			}
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
		}
		if (c->in_len == sizeof(c->in)) {
			reply_error(c, "request longer than %d bytes", REQUEST_MAX);
			c->close_when_flushed = true;
			c->in_len = 0;
		}
		if (c->subscribed || c->close_when_flushed)
			c->in_len = 0; /* a subscriber has nothing more to say */
	}
}

static void on_conn(struct keel_watch *w, uint32_t events)
{
	struct conn *c = w->data;
	long left;

	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !conn_read(c))
		return;
	left = keel_outq_flush(&c->sub.q, w->fd);
	if (left < 0 || (left == 0 && c->close_when_flushed)) {
		conn_close(c);
		return;
	}
	keel_watch_mod(c->ctl->d, w, left ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static bool peer_privileged(const struct keel_control *ctl, const struct ucred *peer)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char pbuf[16384], gbuf[16384];

	if (peer->uid == 0 || peer->gid == ctl->group)
		return true;
	if (getpwuid_r(peer->uid, &pw, pbuf, sizeof(pbuf), &pwp) || !pwp)
		return false;
	if (getgrgid_r(ctl->group, &gr, gbuf, sizeof(gbuf), &grp) || !grp)
		return false;
	for (char **m = grp->gr_mem; *m; m++)
		if (!strcmp(*m, pwp->pw_name))
			return true;
	return false;
}

static void on_accept(struct keel_watch *w, uint32_t events)
{
	struct keel_control *ctl = w->data;
	struct ucred peer;
	struct conn *c;
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
	c->ctl = ctl;
	c->watch = (struct keel_watch){ .fd = fd, .cb = on_conn, .data = c };
	c->sub.fd = fd;
	c->sub.on_pending = on_pending;
	c->sub.ctx = c;
	keel_outq_init(&c->sub.q, ctl->d->cfg.events_queue_bytes > RESPONSE_QUEUE ?
					  ctl->d->cfg.events_queue_bytes :
					  RESPONSE_QUEUE);
	c->peer = peer;
	c->privileged = peer_privileged(ctl, &c->peer);
	c->next = ctl->conns;
	ctl->conns = c;
	ctl->n_conns++;
	if (keel_watch_add(ctl->d, &c->watch, EPOLLIN) < 0) {
		conn_close(c);
		return;
	}
	if (ctl->n_conns > ctl->d->cfg.control_max_clients) {
		reply_error(c, "too many clients: [control] max_clients = %u",
			    ctl->d->cfg.control_max_clients);
		c->close_when_flushed = true;
	}
}

static int make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int keel_control_open(struct keel_daemon *d, char *why, size_t len)
{
	struct keel_control *ctl = calloc(1, sizeof(*ctl));
	struct group *gr;
	int fd = -1, err;

	if (!ctl)
		return -ENOMEM;
	ctl->d = d;
	gr = getgrnam(d->cfg.control_group);
	ctl->group = gr ? gr->gr_gid : 0;
	snprintf(ctl->path, sizeof(ctl->path), "%s", d->cfg.control_socket);

	err = make_parent_dir(ctl->path);
	if (err) {
		snprintf(why, len, "creating the directory of %s: %s", ctl->path, strerror(-err));
		goto free_ctl;
	}
	fd = keel_unix_listen(ctl->path, ctl->group, 16);
	if (fd < 0) {
		err = fd;
		if (err == -EADDRINUSE)
			snprintf(why, len, "%s: another keeld is running (stop it first)",
				 ctl->path);
		else
			snprintf(why, len, "listening on %s: %s", ctl->path, strerror(-err));
		goto free_ctl;
	}
	ctl->listen = (struct keel_watch){ .fd = fd, .cb = on_accept, .data = ctl };
	err = keel_watch_add(d, &ctl->listen, EPOLLIN);
	if (err) {
		snprintf(why, len, "watching %s: %s", ctl->path, strerror(-err));
		goto close_fd;
	}
	d->control = ctl;
	return 0;

close_fd:
	if (fd >= 0) {
		close(fd);
		unlink(ctl->path);
	}
free_ctl:
	free(ctl);
	return err;
}

void keel_control_close(struct keel_daemon *d)
{
	struct keel_control *ctl = d->control;

	if (!ctl)
		return;
	while (ctl->conns) {
		keel_outq_flush(&ctl->conns->sub.q, ctl->conns->watch.fd);
		conn_close(ctl->conns);
	}
	keel_watch_del(d, &ctl->listen);
	close(ctl->listen.fd);
	unlink(ctl->path);
	free(ctl);
	d->control = NULL;
}

unsigned int keel_control_clients(const struct keel_daemon *d)
{
	return d->control ? d->control->n_conns : 0;
}
