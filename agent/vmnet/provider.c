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
 * provider_timeout_ms) is retried with exponential backoff; the latest
 * wanted state is what the next attempt applies, so nothing is lost.
 * Hooks run as children watched through pidfds: detection never waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmnet/vmnet.h"

#define MAX_ARGS 64
#define ARG_LEN 512

extern char **environ;

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

static int spawn(struct vmnet *v, struct vmnet_wl *w, int action)
{
	char tmpl[sizeof(v->d->cfg.vmnet_provider_command)], *save = NULL, *tok;
	static char args[MAX_ARGS][ARG_LEN];
	char *argv[MAX_ARGS + 1], *envp[256 + 8], envs[7][ARG_LEN];
	const struct vmnet_nic *n = nic_of(v, w->mac);
	char ip[64], mac[18];
	struct hook_vars hv;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int argc = 0, envc = 0, pipefd[2], err;
	pid_t pid;

	vmnet_ip_str(&w->ip, ip, sizeof(ip));
	vmnet_mac_str(w->mac, mac);
	hv = (struct hook_vars){ action ? "add" : "remove", ip, mac, w->vm,
				 n ? n->port_name : "", v->d->host };
	snprintf(tmpl, sizeof(tmpl), "%s", v->d->cfg.vmnet_provider_command);
	for (tok = strtok_r(tmpl, " \t", &save); tok && argc < MAX_ARGS;
	     tok = strtok_r(NULL, " \t", &save)) {
		expand(tok, &hv, args[argc], ARG_LEN);
		argv[argc] = args[argc];
		argc++;
	}
	argv[argc] = NULL;
	if (!argc)
		return -EINVAL;
	for (char **e = environ; *e && envc < 256; e++)
		if (strncmp(*e, "KEEL_", 5))
			envp[envc++] = *e;
	snprintf(envs[0], ARG_LEN, "KEEL_ACTION=%s", hv.action);
	snprintf(envs[1], ARG_LEN, "KEEL_IP=%s", hv.ip);
	snprintf(envs[2], ARG_LEN, "KEEL_MAC=%s", hv.mac);
	snprintf(envs[3], ARG_LEN, "KEEL_VM=%s", hv.vm);
	snprintf(envs[4], ARG_LEN, "KEEL_PORT=%s", hv.port);
	snprintf(envs[5], ARG_LEN, "KEEL_HOST=%s", hv.host);
	snprintf(envs[6], ARG_LEN, "KEEL_ATTEMPT=%u", w->attempts + 1);
	for (int i = 0; i < 7; i++)
		envp[envc++] = envs[i];
	envp[envc] = NULL;

	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawnattr_init(&attr);
	/* its own process group, so a hang is killed with all its children */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	{
		sigset_t none;

		sigemptyset(&none);
		posix_spawnattr_setsigmask(&attr, &none);
	}
	err = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		return -err;
	}
	w->pidfd = pidfd_open(pid, 0);
	if (w->pidfd < 0) {
		err = -errno;
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pipefd[0]);
		return err;
	}
	w->errfd = pipefd[0];
	w->running = true;
	w->running_action = action;
	return (int)pid;
}

static void read_stderr(struct vmnet_wl *w, char *out, size_t len)
{
	char buf[4096], *last, *nl;
	ssize_t n, total = 0;

	out[0] = '\0';
	while ((n = read(w->errfd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0) {
		total += n;
		if ((size_t)total == sizeof(buf) - 1)
			total = 0;	/* keep the tail */
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
	unsigned int backoff = v->d->cfg.vmnet_provider_backoff_ms;
	unsigned int retries = v->d->cfg.vmnet_provider_retries;
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
		vmnet_wl_state_save(v);
		vmnet_wl_release(v, w);
		return;
	}
	v->provider_errors++;
	if (timed_out)
		snprintf(w->error, sizeof(w->error), "killed after %u ms%s%s",
			 v->d->cfg.vmnet_provider_timeout_ms, tail[0] ? ": " : "", tail);
	else if (WIFEXITED(status))
		snprintf(w->error, sizeof(w->error), "exit status %d%s%s", WEXITSTATUS(status),
			 tail[0] ? ": " : "", tail);
	else
		snprintf(w->error, sizeof(w->error), "killed by signal %d", WTERMSIG(status));
	delay = (uint64_t)backoff << (w->attempts - 1 < 6 ? w->attempts - 1 : 6);
	w->failed = retries && w->attempts >= retries;
	w->retry_at = now + delay * 1000000ULL;
	vmnet_emit(v, "eni.provider_error",
		   json_pack("{s:s, s:s, s:i, s:s, s:b, s:I}", "ip", ip, "action",
			     action ? "add" : "remove", "attempt", (int)w->attempts, "error",
			     w->error, "final", w->failed, "retry_in_ms",
			     (json_int_t)(w->failed ? 0 : delay)));
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

void vmnet_provider_kick(struct vmnet *v, uint64_t now)
{
	bool have_cmd = v->d->cfg.vmnet_provider_command[0] != '\0';
	bool spawned = false;

	v->more_hooks = false;

	for (unsigned int i = 0; v->wl && i < v->max_wl; i++) {
		struct vmnet_wl *w = &v->wl[i];
		int pid;

		if (!w->used || w->host)
			continue;
		if (w->running) {
			if (w->kill_at > 1 && w->kill_at <= now) {
				w->kill_at = 1;	/* marks the timeout for hook_done */
				pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
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
		if (w->failed && w->running_action != (int)w->want) {
			w->failed = false;	/* a new change: try again */
			w->attempts = 0;
			w->retry_at = 0;
		}
		if (w->failed || w->retry_at > now || v->running_hooks >= v->d->cfg.vmnet_provider_max_running)
			continue;
		if (v->defer_hooks || spawned) {
			v->more_hooks = true;	/* the timer comes back at once */
			continue;
		}
		pid = spawn(v, w, w->want);
		spawned = true;
		if (pid < 0) {
			char ip[64];

			vmnet_ip_str(&w->ip, ip, sizeof(ip));
			snprintf(w->error, sizeof(w->error), "cannot run '%.120s': %s",
				 v->d->cfg.vmnet_provider_command, strerror(-pid));
			w->attempts++;
			w->retry_at = now + (uint64_t)v->d->cfg.vmnet_provider_backoff_ms * 64 * 1000000ULL;
			v->provider_errors++;
			vmnet_emit(v, "eni.provider_error",
				   json_pack("{s:s, s:s, s:i, s:s, s:b}", "ip", ip, "action",
					     w->want ? "add" : "remove", "attempt", (int)w->attempts,
					     "error", w->error, "final", 0));
			continue;
		}
		w->started_pid = pid;
		w->started_at = now;
		w->kill_at = now + (uint64_t)v->d->cfg.vmnet_provider_timeout_ms * 1000000ULL;
		w->watch = (struct keel_watch){ .fd = w->pidfd, .cb = on_exit_cb, .data = v };
		if (keel_watch_add(v->d, &w->watch, EPOLLIN) < 0) {
			kill(-pid, SIGKILL);	/* cannot watch it: reaped at stop */
		}
		v->running_hooks++;
	}
}

uint64_t vmnet_provider_deadline(struct vmnet *v)
{
	uint64_t next = UINT64_MAX;

	if (v->more_hooks)
		return 1;	/* an absolute time long past: fire now */
	for (unsigned int i = 0; v->wl && i < v->max_wl; i++) {
		const struct vmnet_wl *w = &v->wl[i];

		if (!w->used || w->host)
			continue;
		if (w->running && w->kill_at > 1 && w->kill_at < next)
			next = w->kill_at;
		else if (!w->running && !w->failed && w->confirmed != (int)w->want &&
			 w->retry_at && w->retry_at < next)
			next = w->retry_at;
	}
	return next;
}

void vmnet_provider_stop(struct vmnet *v)
{
	for (unsigned int i = 0; v->wl && i < v->max_wl; i++) {
		struct vmnet_wl *w = &v->wl[i];

		if (!w->used || !w->running)
			continue;
		kill(-w->started_pid, SIGKILL);
		waitpid(w->started_pid, NULL, 0);
		keel_watch_del(v->d, &w->watch);
		close(w->pidfd);
		close(w->errfd);
		w->running = false;
	}
	v->running_hooks = 0;
}
