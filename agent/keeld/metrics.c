// SPDX-License-Identifier: GPL-2.0-only
/*
 * The metrics endpoint: `GET /metrics` on [metrics] listen, served by
 * libmicrohttpd inside keeld's own epoll loop (MHD_USE_EPOLL without its
 * thread: MHD's epoll fd is one more watch, MHD_run() its callback), so
 * the page is rendered from keeld's state on keeld's thread with no lock.
 * Connections are bounded ([metrics] max_clients) and time out after 10 s.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "keeld/metrics.h"

#define CONNECTION_TIMEOUT_S 10
#define TICK_MS		     1000 /* MHD's connection timeouts are checked on this timer */

struct keel_metrics {
	struct keel_daemon *d;
	struct MHD_Daemon *mhd;
	struct keel_watch watch, tick;
	uint64_t scrapes;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type,
			     char *body, size_t len, bool owned)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **req_cls)
{
	static char not_found[] = "only /metrics is here\n";
	static char bad_method[] = "only GET\n";
	struct keel_metrics *m = cls;
	size_t len;
	char *body;

	(void)version;
	(void)upload_data;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) /* refused at once */
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", bad_method,
			     sizeof(bad_method) - 1, false);
	if (!*req_cls) { /* first call: headers only */
		*req_cls = m;
		return MHD_YES;
	}
	if (*upload_size) { /* a body on a GET: ignored */
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found,
			     sizeof(not_found) - 1, false);
	m->scrapes++;
	body = keel_metrics_render(m->d, &len);
	if (!body)
		return MHD_NO;
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
		     true);
}

static void on_ready(struct keel_watch *w, uint32_t events)
{
	struct keel_metrics *m = w->data;
	uint64_t n;

	if (w == &m->tick && read(w->fd, &n, sizeof(n)) < 0)
		return;
	(void)events;
	MHD_run(m->mhd);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses) to a listening socket. */
static int listen_on(const char *spec, unsigned int backlog, char *why, size_t len)
{
	char host[256], *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	int fd, rc, one = 1;

	snprintf(host, sizeof(host), "%s", spec[0] == '[' ? spec + 1 : spec);
	port = strrchr(host, ':');
	if (!port || !port[1]) {
		snprintf(why, len, "[metrics] listen: '%s' is not HOST:PORT", spec);
		return -EINVAL;
	}
	*port++ = '\0';
	if (spec[0] == '[') {
		if (!*host || host[strlen(host) - 1] != ']') {
			snprintf(why, len, "[metrics] listen: '%s': no ']' before the port", spec);
			return -EINVAL;
		}
		host[strlen(host) - 1] = '\0';
	}
	rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc) {
		snprintf(why, len, "[metrics] listen: '%s': %s", spec, gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, (int)backlog) < 0) {
			rc = -errno;
			close(fd);
			fd = rc;
		}
	} else {
		fd = -errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(why, len, "[metrics] listen: %s: %s", spec, strerror(-fd));
	return fd;
}

int keel_metrics_start(struct keel_daemon *d, char *why, size_t len)
{
	struct keel_metrics *m;
	const union MHD_DaemonInfo *info;
	int fd, err;

	if (!d->cfg.metrics_listen[0])
		return 0; /* off */
	fd = listen_on(d->cfg.metrics_listen, d->cfg.metrics_max_clients, why, len);
	if (fd < 0)
		return fd;
	m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	m->d = d;
	d->metrics = m;
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
				  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
				  d->cfg.metrics_max_clients, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned int)CONNECTION_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
				  MHD_OPTION_END);
	if (!m->mhd) {
		close(fd);
		snprintf(why, len, "[metrics] listen: %s: libmicrohttpd did not start",
			 d->cfg.metrics_listen);
		return -EIO;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	m->watch =
		(struct keel_watch){ .fd = info ? info->epoll_fd : -1, .cb = on_ready, .data = m };
	if (m->watch.fd < 0 || (err = keel_watch_add(d, &m->watch, EPOLLIN)) < 0) {
		snprintf(why, len, "[metrics]: watching libmicrohttpd's epoll fd failed");
		m->watch.cb = NULL;
		return -EIO;
	}
	m->tick = (struct keel_watch){ .cb = on_ready, .data = m };
	err = keel_timer_start(d, &m->tick, TICK_MS);
	if (err) {
		snprintf(why, len, "[metrics]: timer: %s", strerror(-err));
		return err;
	}
	return 0;
}

void keel_metrics_stop(struct keel_daemon *d)
{
	struct keel_metrics *m = d->metrics;

	if (!m)
		return;
	keel_timer_stop(d, &m->tick);
	keel_watch_del(d, &m->watch);
	if (m->mhd)
		MHD_stop_daemon(m->mhd); /* closes the listening socket */
	free(m);
	d->metrics = NULL;
}

uint64_t keel_metrics_scrapes(const struct keel_daemon *d)
{
	return d->metrics ? d->metrics->scrapes : 0;
}
