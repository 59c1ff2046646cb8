// SPDX-License-Identifier: GPL-2.0-only
/*
 * The provider hook: tells the cloud side about each whitelist change by
 * running [vmnet] provider_command (for an HTTP API, a curl command line),
 * with {action} ("add" or "remove"), {ip}, {mac}, {vm}, {port} and {host}
 * replaced in each word.  No shell is involved, so no value can inject a
 * command; the same values are in the environment as KEEL_ACTION etc.
 *
 * Per address, keeld keeps what it wants and what the provider confirmed;
 * a hook runs while the two differ, one at a time per address (so changes
 * to one address are applied in order) and at most provider_max_running
 * at once.  The command says the desired state, so running it twice is
 * harmless: it must be idempotent.  A failure or a hang (killed after
 * provider_timeout_ms) is retried with exponential backoff, and past
 * provider_retries attempts at the longest backoff, for as long as it
 * takes; the latest wanted state is what the next attempt applies, so
 * nothing is lost.
 * Hooks are spawned by a thread (spawner.c) and run as children watched
 * through pidfds: detection never waits for a fork or an exec.  When the
 * spawner's queue ([vmnet] provider_queue) is full, the change stays
 * pending, eni.provider_queue_full says so, and it is queued again soon.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmnet/vmnet.h"

#define MAX_ARGS       64
#define ARG_LEN	       512
#define SPAWN_REQ_SIZE 16384 /* expanded arguments and KEEL_* variables */
#define STATE_SAVE_NS  (100 * 1000000ULL)

struct hook_vars {
	const char *action, *ip, *mac, *vm, *port, *host;
};

/* Replace the {name}s in @word. */
static void expand(const char *word, const struct hook_vars *hv, char *out, size_t len)
{
	static const char *const names[] = { "action", "ip", "mac", "vm", "port", "host" };
	const char *vals[] = { hv->action, hv->ip, hv->mac, hv->vm, hv->port, hv->host };
	size_t o = 0;

	while (*word && o + 1 < len) {
		size_t i, n = 0;

		for (i = 0; *word == '{' && i < 6; i++) {
			n = strlen(names[i]);
			if (!strncmp(word + 1, names[i], n) && word[n + 1] == '}')
				break;
		}
		if (*word == '{' && i < 6) {
			o += (size_t)snprintf(out + o, len - o, "%s", vals[i]);
			if (o >= len)
				o = len - 1;
			word += n + 2;
		} else {
			out[o++] = *word++;
		}
	}
	out[o] = '\0';
}

static const struct vmnet_nic *nic_of(struct vmnet *v, const __u8 *mac)
{
	return vmnet_nic_find(v, mac);
}

/*
 * Queue the hook for @w with the spawner thread: 0, -EAGAIN when its queue
 * is full, or another negative errno when the command cannot be built.
 */
static int spawn(struct vmnet *v, struct vmnet_wl *w, int action)
{
	char tmpl[sizeof(v->cfg->provider_command)], *save = NULL, *tok;
	char arg[ARG_LEN], ip[64], mac[18];
	const struct vmnet_nic *n = nic_of(v, w->mac);
	struct vmnet_spawn_req *r;
	struct hook_vars hv;
	int argc = 0, err = 0;

	vmnet_ip_str(&w->ip, ip, sizeof(ip));
	vmnet_mac_str(w->mac, mac);
	hv = (struct hook_vars){ action ? "add" : "remove", ip,	       mac, w->vm,
				 n ? n->port_name : "",	    v->d->host };
	r = vmnet_spawn_req_new((unsigned int)(w - v->wl), v->spawn_seq + 1, SPAWN_REQ_SIZE);
	if (!r)
		return -ENOMEM;
	snprintf(tmpl, sizeof(tmpl), "%s", v->cfg->provider_command);
	for (tok = strtok_r(tmpl, " \t", &save); tok && !err && argc < MAX_ARGS;
	     tok = strtok_r(NULL, " \t", &save), argc++) {
		expand(tok, &hv, arg, sizeof(arg));
		err = vmnet_spawn_req_add(r, false, arg);
	}
	if (!argc)
		err = -EINVAL;
	{
		const char *names[] = { "ACTION", "IP", "MAC", "VM", "PORT", "HOST" };
		const char *vals[] = { hv.action, hv.ip, hv.mac, hv.vm, hv.port, hv.host };

		for (int i = 0; i < 6 && !err; i++) {
			snprintf(arg, sizeof(arg), "KEEL_%s=%s", names[i], vals[i]);
			err = vmnet_spawn_req_add(r, true, arg);
		}
		snprintf(arg, sizeof(arg), "KEEL_ATTEMPT=%u", w->attempts + 1);
		if (!err)
			err = vmnet_spawn_req_add(r, true, arg);
	}
	if (!err)
		err = vmnet_spawner_push(v->spawner, r);
	if (err) {
		vmnet_spawn_req_free(r);
		return err;
	}
	w->spawn_seq = ++v->spawn_seq;
	w->running = true;
	w->spawning = true;
	w->running_action = action;
	w->pidfd = w->errfd = -1;
	w->started_pid = 0;
	w->kill_at = 0; /* armed once the child exists */
	return 0;
}

static void read_stderr(struct vmnet_wl *w, char *out, size_t len)
{
	char buf[4096], *last, *nl;
	ssize_t n, total = 0;

	out[0] = '\0';
	while ((n = read(w->errfd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0) {
		total += n;
		if ((size_t)total == sizeof(buf) - 1)
			total = 0; /* keep the tail */
	}
	buf[total] = '\0';
	while (total > 0 && buf[total - 1] == '\n')
		buf[--total] = '\0';
	nl = strrchr(buf, '\n');
	last = nl ? nl + 1 : buf;
	snprintf(out, len, "%.150s", last);
}

static void hook_done(struct vmnet *v, struct vmnet_wl *w, int status, bool timed_out)
{
	unsigned int backoff = v->cfg->provider_backoff_ms;
	unsigned int retries = v->cfg->provider_retries;
	uint64_t now = vmnet_now_mono(), delay;
	char ip[64], tail[160];
	double ms = (double)(now - w->started_at) / 1e6;
	int action = w->running_action;

	read_stderr(w, tail, sizeof(tail));
	keel_watch_del(v->d, &w->watch);
	close(w->pidfd);
	close(w->errfd);
	w->pidfd = w->errfd = -1;
	w->running = false;
	v->running_hooks--;
	vmnet_ip_str(&w->ip, ip, sizeof(ip));
	w->attempts++;
	if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		v->provider_ok++;
		w->confirmed = action;
		w->failed = false;
		w->error[0] = '\0';
		vmnet_emit(v, "eni.provider_ok",
			   json_pack("{s:s, s:s, s:i, s:f}", "ip", ip, "action",
				     action ? "add" : "remove", "attempts", (int)w->attempts,
				     "duration_ms", ms));
		w->attempts = 0;
		/*
		 * Saved within STATE_SAVE_NS, once for a burst: a write and a
		 * rename per confirmation held the loop up.  A crash in between
		 * only means a hook runs again after restart: it is idempotent.
		 */
		if (!v->state_save_at)
			v->state_save_at = now + STATE_SAVE_NS;
		vmnet_wl_release(v, w);
		return;
	}
	v->provider_errors++;
	if (timed_out)
		snprintf(w->error, sizeof(w->error), "killed after %u ms%s%s",
			 v->cfg->provider_timeout_ms, tail[0] ? ": " : "", tail);
	else if (WIFEXITED(status))
		snprintf(w->error, sizeof(w->error), "exit status %d%s%s", WEXITSTATUS(status),
			 tail[0] ? ": " : "", tail);
	else
		snprintf(w->error, sizeof(w->error), "killed by signal %d", WTERMSIG(status));
	/*
	 * Never given up: the "the change is not lost".  Past
	 * provider_retries attempts the entry is reported failed and retried
	 * at the longest backoff until the provider confirms or the wanted
	 * state changes.
	 */
	w->failed = retries && w->attempts >= retries;
	delay = (uint64_t)backoff << (w->attempts - 1 < 6 && !w->failed ? w->attempts - 1 : 6);
	w->retry_at = now + delay * 1000000ULL;
	vmnet_emit(v, "eni.provider_error",
		   json_pack("{s:s, s:s, s:i, s:s, s:b, s:I}", "ip", ip, "action",
			     action ? "add" : "remove", "attempt", (int)w->attempts, "error",
			     w->error, "failed", w->failed, "retry_in_ms", (json_int_t)delay));
}

static void on_exit_cb(struct keel_watch *watch, uint32_t events)
{
	struct vmnet *v = watch->data;
	/* the watch is embedded in its entry */
	struct vmnet_wl *w = (struct vmnet_wl *)((char *)watch - offsetof(struct vmnet_wl, watch));
	siginfo_t si = { 0 };
	int status;

	(void)events;
	if (waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG) < 0 || !si.si_pid)
		return;
	if (si.si_code == CLD_EXITED)
		status = (si.si_status & 0xff) << 8;
	else
		status = si.si_status & 0x7f;
	hook_done(v, w, status, w->kill_at == 1);
	vmnet_provider_kick(v, vmnet_now_mono());
	vmnet_timer_arm(v);
}

static void spawn_failed(struct vmnet *v, struct vmnet_wl *w, int err, uint64_t now)
{
	char ip[64];

	vmnet_ip_str(&w->ip, ip, sizeof(ip));
	snprintf(w->error, sizeof(w->error), "cannot run '%.120s': %s", v->cfg->provider_command,
		 strerror(-err));
	w->attempts++;
	w->running_action = w->want; /* what was tried: a new change resets */
	w->failed = v->cfg->provider_retries && w->attempts >= v->cfg->provider_retries;
	w->retry_at = now + (uint64_t)v->cfg->provider_backoff_ms * 64 * 1000000ULL;
	v->provider_errors++;
	vmnet_emit(v, "eni.provider_error",
		   json_pack("{s:s, s:s, s:i, s:s, s:b, s:I}", "ip", ip, "action",
			     w->want ? "add" : "remove", "attempt", (int)w->attempts, "error",
			     w->error, "failed", w->failed, "retry_in_ms",
			     (json_int_t)v->cfg->provider_backoff_ms * 64));
}

/* The spawner started (or could not start) the hook of one entry. */
static void spawned(struct vmnet *v, const struct vmnet_spawn_result *res, uint64_t now)
{
	struct vmnet_wl *w = res->slot < v->max_wl ? &v->wl[res->slot] : NULL;

	if (!w || !w->used || !w->spawning || w->spawn_seq != res->seq) {
		/* cannot happen: a queued entry stays in use; do not leak */
		if (res->pid > 0)
			kill(-res->pid, SIGKILL);
		if (res->pidfd >= 0)
			close(res->pidfd);
		if (res->errfd >= 0)
			close(res->errfd);
		return;
	}
	w->spawning = false;
	if (res->err) {
		w->running = false;
		v->running_hooks--;
		spawn_failed(v, w, res->err, now);
		return;
	}
	w->pidfd = res->pidfd;
	w->errfd = res->errfd;
	w->started_pid = res->pid;
	w->started_at = now;
	w->kill_at = now + (uint64_t)v->cfg->provider_timeout_ms * 1000000ULL;
	w->watch = (struct keel_watch){ .fd = w->pidfd, .cb = on_exit_cb, .data = v };
	if (keel_watch_add(v->d, &w->watch, EPOLLIN) < 0)
		kill(-res->pid, SIGKILL); /* cannot watch it: reaped at stop */
}

static void on_spawned(struct keel_watch *watch, uint32_t events)
{
	struct vmnet *v = watch->data;
	struct vmnet_spawn_result res;
	uint64_t now = vmnet_now_mono();

	(void)events;
	while (vmnet_spawner_result(v->spawner, &res) == 0)
		spawned(v, &res, now);
	vmnet_provider_kick(v, now);
	vmnet_timer_arm(v);
}

int vmnet_provider_start(struct vmnet *v, char *why, size_t len)
{
	int fd, err;

	if (!v->cfg->provider_command[0])
		return 0; /* no hook: nothing to spawn */
	err = vmnet_spawner_start(&v->spawner, v->cfg->provider_queue, (int)v->cfg->provider_nice,
				  &fd);
	if (err) {
		snprintf(why, len, "starting the provider hook's spawner thread: %s",
			 strerror(-err));
		return err;
	}
	v->spawn_watch = (struct keel_watch){ .fd = fd, .cb = on_spawned, .data = v };
	if (keel_watch_add(v->d, &v->spawn_watch, EPOLLIN) < 0) {
		err = -errno;
		snprintf(why, len, "watching the provider hook's spawner: %s", strerror(-err));
		vmnet_spawner_stop(v->spawner);
		vmnet_spawner_free(v->spawner);
		v->spawner = NULL;
		return err;
	}
	return 0;
}

void vmnet_provider_kick(struct vmnet *v, uint64_t now)
{
	bool have_cmd = v->cfg->provider_command[0] != '\0';
	bool full = false;

	v->retry_soon = false;
	if (v->state_save_at && v->state_save_at <= now) {
		v->state_save_at = 0;
		vmnet_wl_state_save(v);
	}
	for (unsigned int i = 0; v->wl && i < v->max_wl; i++) {
		struct vmnet_wl *w = &v->wl[i];
		int err;

		if (!w->used || w->host)
			continue;
		if (w->running) {
			if (!w->spawning && w->kill_at > 1 && w->kill_at <= now) {
				w->kill_at = 1; /* marks the timeout for hook_done */
				pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
				if (w->started_pid > 0)
					kill(-w->started_pid, SIGKILL);
			}
			continue;
		}
		if (w->confirmed == (int)w->want) {
			vmnet_wl_release(v, w);
			continue;
		}
		if (!have_cmd) {
			w->confirmed = w->want;
			vmnet_wl_release(v, w);
			continue;
		}
		if (!v->spawner)
			continue; /* not started yet, or stopping: stays pending */
		if (w->attempts && w->running_action != (int)w->want) {
			w->failed = false; /* a new change: a fresh budget, now */
			w->attempts = 0;
			w->retry_at = 0;
		}
		if (w->retry_at > now || v->running_hooks >= v->cfg->provider_max_running)
			continue;
		if (v->defer_hooks)
			continue; /* the loop kicks again after the batch */
		err = full ? -EAGAIN : spawn(v, w, w->want);
		if (err == -EAGAIN) {
			char ip[64];

			/* pending, not lost: queued again when results come back */
			full = true;
			v->retry_soon = true;
			if (w->queue_noted)
				continue;
			w->queue_noted = true;
			v->provider_queue_full++;
			vmnet_ip_str(&w->ip, ip, sizeof(ip));
			vmnet_emit(v, "eni.provider_queue_full",
				   json_pack("{s:s, s:s, s:i, s:i}", "ip", ip, "action",
					     w->want ? "add" : "remove", "queue",
					     (int)v->cfg->provider_queue, "running",
					     (int)v->running_hooks));
			continue;
		}
		if (err) {
			spawn_failed(v, w, err, now);
			continue;
		}
		w->queue_noted = false;
		v->running_hooks++;
	}
}

uint64_t vmnet_provider_deadline(struct vmnet *v)
{
	uint64_t next = UINT64_MAX;

	if (v->retry_soon) /* the spawn queue was full: look again shortly */
		next = vmnet_now_mono() + 10 * 1000000ULL;
	if (v->state_save_at && v->state_save_at < next)
		next = v->state_save_at;
	for (unsigned int i = 0; v->wl && i < v->max_wl; i++) {
		const struct vmnet_wl *w = &v->wl[i];

		if (!w->used || w->host)
			continue;
		if (w->running && !w->spawning && w->kill_at > 1 && w->kill_at < next)
			next = w->kill_at;
		else if (!w->running && w->confirmed != (int)w->want && w->retry_at &&
			 w->retry_at < next)
			next = w->retry_at;
	}
	return next;
}

void vmnet_provider_stop(struct vmnet *v)
{
	struct vmnet_spawn_result res;

	if (v->spawner) {
		/* no new children after this; those it started are killed below */
		vmnet_spawner_stop(v->spawner);
		keel_watch_del(v->d, &v->spawn_watch);
		while (vmnet_spawner_result(v->spawner, &res) == 0)
			spawned(v, &res, vmnet_now_mono());
		vmnet_spawner_free(v->spawner);
		v->spawner = NULL;
	}
	for (unsigned int i = 0; v->wl && i < v->max_wl; i++) {
		struct vmnet_wl *w = &v->wl[i];

		if (!w->used || !w->running)
			continue;
		w->running = false;
		if (w->spawning || w->pidfd < 0) {
			w->spawning = false; /* never started */
			continue;
		}
		kill(-w->started_pid, SIGKILL);
		waitpid(w->started_pid, NULL, 0);
		keel_watch_del(v->d, &w->watch);
		close(w->pidfd);
		close(w->errfd);
		w->pidfd = w->errfd = -1;
	}
	v->running_hooks = 0;
	if (v->state_save_at) {
		v->state_save_at = 0;
		vmnet_wl_state_save(v);
	}
}
