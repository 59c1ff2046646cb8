// SPDX-License-Identifier: GPL-2.0-only
/*
 * vdisk subsystem: keeld owns keel's disks.  Each open disk is served by
 * its own process, `keel-vdisk serve` (nbdkit with keel's plugin, which
 * runs the disk's filter chain), that keeld starts, watches through a
 * pidfd and restarts when it dies while serving.  The disk path never
 * enters keeld's loop: a filter that crashes or hangs costs one disk, and
 * keeld's single thread never waits for disk I/O (the choice is argued in
 * docs/vdisk.md, "keeld's vdisk subsystem").
 *
 * A server's standard error is a pipe keeld reads: lines that are JSON
 * objects of type vdisk.* are the server's events (vdisk.open says it
 * serves; the others, e.g. vdisk.integrity_mismatch, are forwarded to the
 * event bus), every other line is nbdkit's or the plugin's message, the
 * last of which becomes the reason when the server fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "vdisk/subsys.h"

extern char **environ;

#define EVENTS_PER_S 200 /* forwarded from all servers; the rest are counted */

const char *vd_state_name(enum vd_state s)
{
	switch (s) {
	case VD_STARTING:
		return "starting";
	case VD_SERVING:
		return "serving";
	case VD_STOPPING:
		return "stopping";
	case VD_FAILED:
		return "failed";
	}
	return "?";
}

struct vd_disk *vd_find(struct vd_priv *p, const char *path)
{
	for (struct vd_disk *d = p->disks; d; d = d->next)
		if (!strcmp(d->path, path))
			return d;
	return NULL;
}

bool vd_path_allowed(const struct vd_priv *p, const char *path)
{
	char list[sizeof(vd_cfg(p)->dirs)], *save = NULL;

	snprintf(list, sizeof(list), "%s", vd_cfg(p)->dirs);
	for (char *tok = strtok_r(list, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		char real[PATH_MAX];
		size_t n;

		if (!realpath(tok, real))
			continue;
		n = strlen(real);
		if (!strncmp(path, real, n) && (path[n] == '/' || real[n - 1] == '/') &&
		    path[n + 1])
			return true;
	}
	return false;
}

json_t *vd_disk_json(const struct vd_disk *d)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:b, s:I, s:I}", "path", d->path, "state",
			      vd_state_name(d->state), "pid", (json_int_t)d->pid, "readonly",
			      d->readonly, "size", (json_int_t)d->size, "restarts",
			      (json_int_t)d->restarts);

	if (d->tcp[0])
		json_object_set_new(o, "tcp", json_string(d->tcp));
	else
		json_object_set_new(o, "socket", json_string(d->socket));
	json_object_set_new(o, "channel", json_string(d->channel));
	json_object_set_new(o, "filters", d->filters ? json_incref(d->filters) : json_array());
	if (d->since)
		json_object_set_new(o, "serving_since", json_integer((json_int_t)d->since));
	if (d->state == VD_FAILED)
		json_object_set_new(o, "reason", json_string(d->reason));
	if (d->p->owner)
		json_object_set_new(o, "owner",
				    json_pack("{s:s, s:I, s:b}", "state",
					      d->owner_state[0] ? d->owner_state : "starting",
					      "generation", (json_int_t)d->generation, "standby",
					      d->standby));
	return o;
}

static void emit(struct vd_priv *p, const char *type, json_t *fields)
{
	keel_emit(p->s->d, "vdisk", type, fields);
}

/* --- the server's standard error --- */

static void server_line(struct vd_disk *d, char *line)
{
	struct vd_priv *p = d->p;
	json_t *o = line[0] == '{' ? json_loads(line, 0, NULL) : NULL;
	const char *type = json_string_value(json_object_get(o, "type"));
	time_t now;

	if (!type || strncmp(type, "vdisk.", 6)) {
		json_decref(o);
		snprintf(d->last_error, sizeof(d->last_error), "%s", line);
		pr_warn("vdisk: %s: %s", d->path, line);
		return;
	}
	if (!strcmp(type, "vdisk.open")) {
		json_t *f = json_object_get(o, "filters");

		json_decref(d->filters);
		d->filters = json_is_array(f) ? json_incref(f) : json_array();
		d->size = (uint64_t)json_integer_value(json_object_get(o, "size"));
		if (d->state == VD_STARTING)
			d->state = VD_SERVING;
		d->since = time(NULL);
		d->last_error[0] = '\0';
		emit(p, "vdisk.opened", vd_disk_json(d));
		json_decref(o);
		return;
	}
	if (!strcmp(type, "vdisk.owner_server") && d->state == VD_STARTING) {
		/* with ownership it exports before it owns the disk (a standby) */
		d->size = (uint64_t)json_integer_value(json_object_get(o, "size"));
		d->state = VD_SERVING;
		d->since = time(NULL);
		d->last_error[0] = '\0';
	}
	vd_owner_event(d, type, o);
	now = time(NULL);
	if (now != p->ev_sec) {
		p->ev_sec = now;
		p->ev_count = 0;
	}
	if (p->ev_count++ >= EVENTS_PER_S) {
		p->events_suppressed++;
		json_decref(o);
		return;
	}
	/* the bus adds its own time and type; the server's disk is our path */
	json_object_del(o, "time");
	json_object_set_new(o, "path", json_string(d->path));
	p->events_forwarded++;
	type = strdup(type);
	json_object_del(o, "type");
	if (type)
		emit(p, type, o);
	else
		json_decref(o);
	free((char *)type);
}

/* Read what the server wrote; false at end of file. */
static bool server_read(struct vd_disk *d)
{
	for (;;) {
		char *nl;
		ssize_t n;

		if (d->line_len == VD_LINE_MAX) { /* a line too long: cut it */
			d->line[VD_LINE_MAX - 1] = '\0';
			server_line(d, d->line);
			d->line_len = 0;
		}
		n = read(d->err_w.fd, d->line + d->line_len, VD_LINE_MAX - d->line_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno == EAGAIN;
		d->line_len += (size_t)n;
		while ((nl = memchr(d->line, '\n', d->line_len))) {
			size_t used = (size_t)(nl - d->line) + 1;

			*nl = '\0';
			if (nl != d->line)
				server_line(d, d->line);
			memmove(d->line, d->line + used, d->line_len - used);
			d->line_len -= used;
		}
	}
}

static void on_stderr(struct keel_watch *w, uint32_t events)
{
	struct vd_disk *d = w->data;

	(void)events;
	if (!server_read(d)) {
		keel_watch_del(d->p->s->d, w);
		close(w->fd);
		w->fd = -1;
	}
}

/* --- lifetime --- */

static void unwatch(struct vd_disk *d)
{
	struct keel_daemon *kd = d->p->s->d;

	if (d->err_w.fd >= 0) {
		server_read(d); /* what it wrote before dying */
		keel_watch_del(kd, &d->err_w);
		close(d->err_w.fd);
		d->err_w.fd = -1;
	}
	if (d->exit_w.fd >= 0) {
		keel_watch_del(kd, &d->exit_w);
		close(d->exit_w.fd);
		d->exit_w.fd = -1;
	}
	if (d->stop_w.fd >= 0) {
		keel_watch_del(kd, &d->stop_w);
		close(d->stop_w.fd);
		d->stop_w.fd = -1;
	}
}

/* nbdkit leaves its Unix socket behind; nobody listens on it any more */
static void remove_sockets(struct vd_disk *d)
{
	const char *paths[] = { d->socket, d->channel };
	struct stat st;

	for (int i = 0; i < 2; i++)
		if (paths[i][0] && !lstat(paths[i], &st) && S_ISSOCK(st.st_mode))
			unlink(paths[i]);
}

static void disk_free(struct vd_disk *d)
{
	if (!d)
		return;
	vd_owner_free(d);
	json_decref(d->filters);
	free(d->line);
	free(d);
}

void vd_remove(struct vd_disk *d)
{
	struct vd_priv *p = d->p;

	unwatch(d);
	for (struct vd_disk **pp = &p->disks; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			p->n_disks--;
			break;
		}
	}
	disk_free(d);
}

static void describe_exit(const siginfo_t *si, char *buf, size_t len)
{
	if (si->si_code == CLD_EXITED)
		snprintf(buf, len, "exited with status %d", si->si_status);
	else
		snprintf(buf, len, "killed by %s", sigabbrev_np(si->si_status) ?: "a signal");
}

static void on_exit_cb(struct keel_watch *w, uint32_t events)
{
	struct vd_disk *d = w->data;
	struct vd_priv *p = d->p;
	siginfo_t si = { 0 };
	char how[64], why[512];
	bool clean;

	(void)events;
	if (waitid(P_PIDFD, (id_t)w->fd, &si, WEXITED | WNOHANG) < 0 || !si.si_pid)
		return;
	unwatch(d);
	remove_sockets(d);
	describe_exit(&si, how, sizeof(how));
	clean = si.si_code == CLD_EXITED && si.si_status == 0;
	d->pid = 0;
	d->since = 0;
	if (d->state == VD_STOPPING && clean) {
		p->closes++;
		emit(p, "vdisk.closed",
		     json_pack("{s:s, s:s}", "path", d->path, "reason",
			       "closed: flushed and stopped"));
		vd_remove(d);
		return;
	}
	if (d->state == VD_STOPPING) {
		snprintf(d->reason, sizeof(d->reason), "its disk server %s while closing%s%s", how,
			 d->last_error[0] ? ": " : "", d->last_error);
		d->state = VD_FAILED;
		emit(p, "vdisk.error",
		     json_pack("{s:s, s:s, s:b}", "path", d->path, "reason", d->reason,
			       "restarting", 0));
		return;
	}
	if (d->state == VD_SERVING) {
		p->crashes++;
		if (d->restarts < vd_cfg(p)->max_restarts) {
			d->restarts++;
			p->restarts++;
			snprintf(d->reason, sizeof(d->reason),
				 "its disk server %s while serving%s%s", how,
				 d->last_error[0] ? ": " : "", d->last_error);
			emit(p, "vdisk.error",
			     json_pack("{s:s, s:s, s:b, s:i}", "path", d->path, "reason", d->reason,
				       "restarting", 1, "restarts", (int)d->restarts));
			d->state = VD_STARTING;
			if (!vd_spawn(d, why, sizeof(why)))
				return;
			snprintf(d->reason, sizeof(d->reason), "restarting its disk server: %s",
				 why);
		} else {
			snprintf(
				d->reason, sizeof(d->reason),
				"its disk server %s while serving%s%s, after %u restarts ([vdisk] max_restarts)",
				how, d->last_error[0] ? ": " : "", d->last_error, d->restarts);
		}
	} else { /* starting: a bad disk or metadata; restarting would not help */
		snprintf(d->reason, sizeof(d->reason), "its disk server %s before serving%s%s", how,
			 d->last_error[0] ? ": " : "", d->last_error);
	}
	d->state = VD_FAILED;
	emit(p, "vdisk.error",
	     json_pack("{s:s, s:s, s:b}", "path", d->path, "reason", d->reason, "restarting", 0));
}

static void on_stop_timeout(struct keel_watch *w, uint32_t events)
{
	struct vd_disk *d = w->data;
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) < 0 && errno == EAGAIN)
		return;
	if (d->pid > 0 && d->exit_w.fd >= 0) {
		snprintf(
			d->last_error, sizeof(d->last_error),
			"it did not exit within [vdisk] stop_timeout_ms = %u; killed (writes not flushed may be lost)",
			vd_cfg(d->p)->stop_timeout_ms);
		pidfd_send_signal(d->exit_w.fd, SIGKILL, NULL, 0);
	}
}

void vd_close(struct vd_disk *d)
{
	struct itimerspec its = { 0 };
	unsigned int ms = vd_cfg(d->p)->stop_timeout_ms;

	if (d->state == VD_FAILED || d->exit_w.fd < 0) {
		emit(d->p, "vdisk.closed",
		     json_pack("{s:s, s:s}", "path", d->path, "reason",
			       "closed: it was not being served"));
		vd_remove(d);
		return;
	}
	d->state = VD_STOPPING;
	/* nbdkit flushes nothing by itself: the plugin's unload closes the chain, which flushes */
	pidfd_send_signal(d->exit_w.fd, SIGTERM, NULL, 0);
	if (d->stop_w.fd >= 0)
		return;
	d->stop_w = (struct keel_watch){ .cb = on_stop_timeout, .data = d };
	d->stop_w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->stop_w.fd < 0)
		return;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	timerfd_settime(d->stop_w.fd, 0, &its, NULL);
	keel_watch_add(d->p->s->d, &d->stop_w, EPOLLIN);
}

/* argv and the environment of `keel-vdisk serve`, then spawn it. */
int vd_spawn(struct vd_disk *d, char *why, size_t len)
{
	const struct vdisk_config *cfg = vd_cfg(d->p);
	char clients[16], threads[16], rundir[sizeof(cfg->run_dir) + 32];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char own[3][PATH_MAX + 32];
	const char *argv[32];
	char **envp = NULL;
	int n = 0, e = 0, pipefd[2], r;
	size_t nenv = 0;

	snprintf(clients, sizeof(clients), "%u", cfg->max_clients);
	snprintf(threads, sizeof(threads), "%u", cfg->max_inflight);
	snprintf(rundir, sizeof(rundir), "KEEL_VDISK_RUN_DIR=%s", cfg->run_dir);
	argv[n++] = d->p->server;
	argv[n++] = "serve";
	argv[n++] = d->path;
	argv[n++] = d->tcp[0] ? "--tcp" : "--socket";
	argv[n++] = d->tcp[0] ? d->tcp : d->socket;
	argv[n++] = "--max-clients";
	argv[n++] = clients;
	argv[n++] = "--threads";
	argv[n++] = threads;
	if (d->readonly)
		argv[n++] = "--readonly";
	n = vd_owner_args(d, argv, n, own);
	argv[n] = NULL;
	while (environ[nenv])
		nenv++;
	envp = calloc(nenv + 2, sizeof(*envp));
	if (!envp) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < nenv; i++)
		if (strncmp(environ[i], "KEEL_VDISK_RUN_DIR=", 19))
			envp[e++] = environ[i];
	envp[e++] = rundir;
	if (pipe2(pipefd, O_CLOEXEC)) {
		r = -errno;
		free(envp);
		snprintf(why, len, "creating a pipe for the disk server: %s", strerror(-r));
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	/*
	 * keeld blocks the signals its signalfd reads; a child inherits that
	 * mask, and nbdkit would then never see close's SIGTERM.
	 */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	r = -posix_spawnp(&d->pid, d->p->server, &fa, &attr, (char *const *)argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(pipefd[1]);
	if (r) {
		close(pipefd[0]);
		d->pid = 0;
		snprintf(why, len, "running %s ([vdisk] server): %s", d->p->server, strerror(-r));
		return r;
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	d->err_w = (struct keel_watch){ .fd = pipefd[0], .cb = on_stderr, .data = d };
	d->exit_w = (struct keel_watch){ .cb = on_exit_cb, .data = d };
	d->exit_w.fd = pidfd_open(d->pid, 0);
	if (d->exit_w.fd < 0 || keel_watch_add(d->p->s->d, &d->exit_w, EPOLLIN) ||
	    keel_watch_add(d->p->s->d, &d->err_w, EPOLLIN)) {
		r = -errno;
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
		unwatch(d);
		snprintf(why, len, "watching the disk server: %s", strerror(-r));
		return r ? r : -EIO;
	}
	d->line_len = 0;
	d->last_error[0] = '\0';
	return 0;
}

int vd_open(struct vd_priv *p, struct vd_disk *d, char *why, size_t len)
{
	int r;

	d->p = p;
	d->exit_w.fd = d->err_w.fd = d->stop_w.fd = -1;
	d->state = VD_STARTING;
	d->line = malloc(VD_LINE_MAX);
	if (!d->line) {
		disk_free(d);
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	r = vd_spawn(d, why, len);
	if (r) {
		disk_free(d);
		return r;
	}
	d->next = p->disks;
	p->disks = d;
	p->n_disks++;
	p->opens++;
	return 0;
}

/* --- open, start, stop --- */

static void find_server(struct vd_priv *p)
{
	char self[PATH_MAX];
	ssize_t n;

	if (vd_cfg(p)->server[0]) {
		snprintf(p->server, sizeof(p->server), "%s", vd_cfg(p)->server);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		if (snprintf(p->server, sizeof(p->server), "%s/keel-vdisk", self) <
			    (int)sizeof(p->server) &&
		    !access(p->server, X_OK))
			return;
	}
	snprintf(p->server, sizeof(p->server), "keel-vdisk");
}

static int vdisk_open(struct keel_subsys *s, char *why, size_t len)
{
	struct vd_priv *p = s->priv;

	memset(p, 0, sizeof(*p));
	p->s = s;
	find_server(p);
	if (vd_cfg(p)->run_dir[0] != '/') {
		snprintf(why, len, "[vdisk] run_dir %s is not an absolute path",
			 vd_cfg(p)->run_dir);
		return -EINVAL;
	}
	if (mkdir(vd_cfg(p)->run_dir, 0755) && errno != EEXIST) {
		int r = -errno;

		snprintf(why, len, "creating [vdisk] run_dir %s: %s", vd_cfg(p)->run_dir,
			 strerror(-r));
		return r;
	}
	return vd_owner_check_config(p, why, len);
}

static int vdisk_start(struct keel_subsys *s, char *why, size_t len)
{
	(void)s;
	(void)why;
	(void)len;
	return 0;
}

/* Shutdown: every server is asked to flush and stop, then waited for. */
static void vdisk_stop(struct keel_subsys *s)
{
	struct vd_priv *p = s->priv;
	struct timespec t0, t;

	for (struct vd_disk *d = p->disks; d; d = d->next)
		if (d->exit_w.fd >= 0)
			pidfd_send_signal(d->exit_w.fd, SIGTERM, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (p->disks) {
		struct vd_disk *d = p->disks;
		siginfo_t si = { 0 };

		if (d->exit_w.fd < 0) {
			vd_remove(d);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    (long)vd_cfg(p)->stop_timeout_ms)
			pidfd_send_signal(d->exit_w.fd, SIGKILL, NULL, 0);
		if (waitid(P_PIDFD, (id_t)d->exit_w.fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid) {
			emit(p, "vdisk.closed",
			     json_pack(
				     "{s:s, s:s}", "path", d->path, "reason",
				     si.si_code == CLD_EXITED && !si.si_status ?
					     "keeld is stopping: flushed and stopped" :
					     "keeld is stopping: its disk server did not stop cleanly"));
			remove_sockets(d);
			vd_remove(d);
			continue;
		}
		usleep(10000);
	}
}

static void vdisk_counters(struct keel_subsys *s, json_t *out)
{
	struct vd_priv *p = s->priv;

	json_object_set_new(out, "disks", json_integer(p->n_disks));
	json_object_set_new(out, "max_disks", json_integer(vd_cfg(p)->max_disks));
	json_object_set_new(out, "server", json_string(p->server));
	json_object_set_new(out, "opens", json_integer((json_int_t)p->opens));
	json_object_set_new(out, "closes", json_integer((json_int_t)p->closes));
	json_object_set_new(out, "creates", json_integer((json_int_t)p->creates));
	json_object_set_new(out, "crashes", json_integer((json_int_t)p->crashes));
	json_object_set_new(out, "restarts", json_integer((json_int_t)p->restarts));
	json_object_set_new(out, "refused", json_integer((json_int_t)p->refused));
	json_object_set_new(out, "events_forwarded", json_integer((json_int_t)p->events_forwarded));
	json_object_set_new(out, "events_suppressed",
			    json_integer((json_int_t)p->events_suppressed));
	json_object_set_new(out, "ownership", json_boolean(p->owner));
	json_object_set_new(out, "handoffs", json_integer((json_int_t)p->handoffs));
	json_object_set_new(out, "handoffs_failed", json_integer((json_int_t)p->handoffs_failed));
}

/* the journal's priorities of vdisk's events (docs/events.md) */
static const struct keel_event_priority vdisk_priorities[] = {
	{ "vdisk.integrity_mismatch", LOG_ERR }, /* data that is not what was written */
	{ "vdisk.error", LOG_WARNING },
	{ "vdisk.fenced", LOG_WARNING },
	{ "vdisk.renew_failed", LOG_WARNING },
	{ "vdisk.release_refused", LOG_WARNING },
	{ NULL, 0 },
};

const struct keel_subsys_ops keel_vdisk_ops = {
	.name = "vdisk",
	.summary = "VMDK disks served over NBD through their filter chains, one process each",
	.n_needs = 0,
	.priv_size = sizeof(struct vd_priv),
	.options = vdisk_options,
	.config_size = sizeof(struct vdisk_config),
	.open = vdisk_open,
	.start = vdisk_start,
	.stop = vdisk_stop,
	.counters = vdisk_counters,
	.command = vd_command,
	.event_priorities = vdisk_priorities,
};
