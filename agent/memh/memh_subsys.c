// SPDX-License-Identifier: GPL-2.0-only
/*
 * memh subsystem: keeld's read service.  A client hands keeld a memory
 * handle for one of its buffers over the memh socket, then asks for ranges
 * of files under [memh] allowed_dirs; keeld reads each range straight into
 * the client's buffer through the handle (keel.ko's sections, or the
 * pidfd + process_vm_writev fallback).  This is the path the read cache
 * will serve from.  Protocol: docs/memh.md, include/keel/memh_client.h.
 *
 * The loop only parses, checks limits and replies (memh_server.c); the reads
 * run on worker threads (memh_pool.c); what may be read is memh_policy.c's.
 * This file is the frame's side: open, start, stop, counters.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "memh/memh_subsys.h"

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
	err = memh_check_openat2(why, len);
	if (!err)
		err = memh_parse_dirs(p, why, len);
	if (err)
		return err;
	if (pthread_mutex_init(&p->lock, NULL) || pthread_cond_init(&p->cond, NULL)) {
		snprintf(why, len, "initialising the work queue's lock");
		return -ENOMEM;
	}
	p->lock_ready = true;
	p->done_w = (struct keel_watch){ .cb = memh_on_done, .data = p };
	p->done_w.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->done_w.fd < 0) {
		err = -errno;
		snprintf(why, len, "creating the workers' eventfd: %s", strerror(-err));
		return err;
	}
	return memh_listen(p, why, len);
}

static int memh_start(struct keel_subsys *s, char *why, size_t len)
{
	struct memh_priv *p = s->priv;
	int err;

	err = memh_pool_start(p, why, len);
	if (err)
		return err;
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

	memh_pool_stop(p);
	while (p->clients) {
		keel_outq_flush(&p->clients->q, p->clients->watch.fd);
		memh_client_close(p->clients, "keeld is stopping");
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

/* Worth a person's look in the journal (the others are LOG_INFO). */
static const struct keel_event_priority memh_priorities[] = {
	{ "memh.read_error", LOG_WARNING },
	{ NULL, 0 },
};

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
	.event_priorities = memh_priorities,
};
