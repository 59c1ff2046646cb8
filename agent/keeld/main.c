// SPDX-License-Identifier: GPL-2.0-only
/*
 * keeld: keel's agent.  Loads the configuration, probes the kernel, starts
 * every subsystem the kernel allows, streams events, answers keelctl.
 */
#include <linux/magic.h> /* BPF_FS_MAGIC */
#include <argp.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/log.h"
#include "keeld/control.h"
#include "keeld/daemon.h"
#include "keeld/metrics.h"
#include "keeld/reload.h"
#include "keeld/sinks.h"
#include "keeld/subsys.h"
#include "keeld/watchdog.h"
#include "keeld/version.h"

#define EXIT_USAGE 2

struct env {
	const char *config_path; /* NULL: the default path when present */
	bool print_config;
	bool probe;
	bool json;
	bool quiet;
	int verbose;
};

const char *argp_program_version = "keeld " KEEL_VERSION;
const char *argp_program_bug_address = "the keel issue tracker";

static const char doc[] =
	"keeld -- keel's eBPF observability and enforcement agent.\n"
	"\n"
	"keeld probes what the running kernel allows (BTF, BPF LSM, fentry, kprobes, "
	"block tracepoints, TC, keel.ko), starts every subsystem it can, pins its BPF "
	"maps and links under /sys/fs/bpf/keel/, streams events as NDJSON (one JSON "
	"object per line, schema in docs/events.md) to standard output and to "
	"'keelctl events' subscribers, and answers keelctl on its control socket "
	"(default /run/keel/keel.sock).  Progress and errors go to standard error.\n"
	"\n"
	"Without --config, keeld reads " KEEL_DEFAULT_CONFIG_PATH " when it exists and "
	"otherwise runs with its embedded defaults; --print-config shows the result.  "
	"A subsystem the kernel cannot run is reported with the kernel's reason and "
	"skipped, unless the configuration marks it required.\n"
	"\n"
	"SIGNALS: SIGTERM or SIGINT shut keeld down; SIGHUP reads the configuration "
	"again: the event record's keys apply at once, other changed keys are "
	"reported as needing a restart, and a bad file is refused whole (the "
	"running configuration stays).\n"
	"\n"
	"EXIT STATUS: 0 after a clean shutdown (SIGTERM, SIGINT); 1 when a required "
	"subsystem cannot run or start-up fails; 2 for a bad command line or "
	"configuration (the message names the file, line and key).\n"
	"\n"
	"EXAMPLES:\n"
	"  keeld                        run in the foreground, events on stdout\n"
	"  keeld --config ./keel.conf   run with a configuration file\n"
	"  keeld --print-config         show the effective configuration and exit\n"
	"  keeld --probe                show which kernel features are available\n"
	"  keeld --probe --json         the same, as JSON\n"
	"  keeld -q                     run without printing events\n"
	"\v"
	"FILES: " KEEL_DEFAULT_CONFIG_PATH ", /run/keel/keel.sock, /sys/fs/bpf/keel/.  "
	"See also keelctl(1) and docs/ in the source tree.";

static const struct argp_option options[] = {
	{ "config", 'c', "PATH", 0, "Read the configuration from PATH (INI; see --print-config)",
	  0 },
	{ "print-config", 'P', NULL, 0, "Print the effective configuration and exit", 0 },
	{ "probe", 'p', NULL, 0, "Probe kernel features, print them and exit", 0 },
	{ "json", 'j', NULL, 0, "With --probe: print JSON", 0 },
	{ "quiet", 'q', NULL, 0, "Do not write events to standard output", 0 },
	{ "verbose", 'v', NULL, 0, "More messages; twice: libbpf's own messages too", 0 },
	{ 0 },
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct env *env = state->input;

	switch (key) {
	case 'c':
		env->config_path = arg;
		break;
	case 'P':
		env->print_config = true;
		break;
	case 'p':
		env->probe = true;
		break;
	case 'j':
		env->json = true;
		break;
	case 'q':
		env->quiet = true;
		break;
	case 'v':
		env->verbose++;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* the probe fails on purpose: libbpf's warnings are noise unless -v */
	if (keel_log_level() > KEEL_LOG_DEBUG ||
	    (keel_log_level() == KEEL_LOG_DEBUG && level == LIBBPF_WARN))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static int load_config(const struct env *env, struct keel_config *cfg)
{
	const char *path = env->config_path;
	struct keel_config_error err;
	char msg[PATH_MAX + 512];

	keel_config_defaults(cfg);
	if (!path && access(KEEL_DEFAULT_CONFIG_PATH, F_OK) == 0)
		path = KEEL_DEFAULT_CONFIG_PATH;
	if (!path)
		return 0;
	if (keel_config_load_file(cfg, path, &err) < 0 || keel_config_validate(cfg, &err) < 0) {
		keel_config_error_format(&err, msg, sizeof(msg));
		pr_err("configuration: %s", msg);
		return -EINVAL;
	}
	return 0;
}

static void print_probe(const struct keel_features *f, bool json)
{
	if (json) {
		json_t *o = json_pack("{s:o, s:o}", "features", keel_features_to_json(f), "hooks",
				      keel_hooks_to_json(f->hooks, f->n_hooks));

		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
		return;
	}
	for (int i = 0; i < KEEL_FEAT_COUNT; i++) {
		const struct keel_feature_result *r = &f->f[i];

		if (r->available)
			printf("%-17s available\n", keel_feature_name(i));
		else
			printf("%-17s unavailable: %s\n%-17s fix: %s\n", keel_feature_name(i),
			       r->reason, "", r->fix);
	}
	printf("\nhooks that differ between kernels:\n");
	for (size_t i = 0; i < f->n_hooks; i++) {
		const struct keel_hook_state *h = &f->hooks[i];

		if (h->present)
			printf("%-5s %-28s present\n", h->subsystem, h->hook->name);
		else
			printf("%-5s %-28s absent: %s\n", h->subsystem, h->hook->name,
			       h->hook->without);
	}
}

/* systemd mounts bpffs for us; a bare system or a container may not. */
static void ensure_bpffs(const char *pin_dir)
{
	struct statfs sfs;

	if (strncmp(pin_dir, "/sys/fs/bpf/", 12))
		return;
	if (statfs("/sys/fs/bpf", &sfs) == 0 && (unsigned long)sfs.f_type == BPF_FS_MAGIC)
		return;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") == 0)
		pr_info("mounted a bpffs on /sys/fs/bpf");
	else
		pr_warn("mounting a bpffs on /sys/fs/bpf: %s, ignoring", strerror(errno));
}

static void report_subsys(const struct keel_subsys *s)
{
	const char *state = keel_subsys_state_name(s->state);

	if (s->state == KEEL_SUBSYS_RUNNING)
		pr_info("subsystem %s: running (%s)", s->ops->name, s->ops->summary);
	else if (s->fix[0])
		pr_info("subsystem %s: %s: %s; fix: %s", s->ops->name, state, s->reason, s->fix);
	else
		pr_info("subsystem %s: %s: %s", s->ops->name, state, s->reason);
}

static void on_signal(struct keel_watch *w, uint32_t events)
{
	struct keel_daemon *d = w->data;
	struct signalfd_siginfo si;

	(void)events;
	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		pr_info("SIGHUP received, reloading the configuration");
		keel_reload(d);
		return;
	}
	pr_info("%s received, shutting down", strsignal((int)si.ssi_signo));
	d->stopping = true;
}

static int run_loop(struct keel_daemon *d)
{
	while (!d->stopping) {
		int n = keel_daemon_dispatch(d, -1);

		if (n < 0) {
			pr_err("epoll_wait: %s", strerror(-n));
			return n;
		}
	}
	return 0;
}

/* Start every subsystem; -ENODEV when a required one does not run. */
static int start_subsystems(struct keel_daemon *d)
{
	int err = 0;

	d->subsys = calloc(keel_subsystem_count() + 1, sizeof(*d->subsys));
	if (!d->subsys)
		return -ENOMEM;
	for (size_t i = 0; keel_subsystems[i]; i++) {
		struct keel_subsys *s = keel_subsys_new(keel_subsystems[i], d);

		if (!s)
			return -ENOMEM;
		d->subsys[i] = s;
		keel_subsys_start(s);
		report_subsys(s);
		if (s->cfg->required && s->state != KEEL_SUBSYS_RUNNING) {
			pr_err("subsystem %s is required ([%s] required = true) but is %s: %s",
			       s->ops->name, s->ops->name, keel_subsys_state_name(s->state),
			       s->reason);
			err = -ENODEV;
		}
	}
	return err;
}

static void stop_subsystems(struct keel_daemon *d)
{
	if (!d->subsys)
		return;
	for (int i = (int)keel_subsystem_count() - 1; i >= 0; i--) {
		if (!d->subsys[i])
			continue;
		keel_subsys_stop(d->subsys[i], KEEL_SUBSYS_STOPPED, "keeld is shutting down");
		keel_subsys_free(d->subsys[i]);
	}
	free(d->subsys);
	d->subsys = NULL;
}

static void start_watchdog(struct keel_daemon *d)
{
	unsigned int ms;

	if (keel_watchdog_start(d, &ms) < 0)
		pr_warn("watchdog: cannot start its timer, ignoring");
	else if (ms)
		pr_info("watchdog: WATCHDOG=1 every %u ms", ms);
}

static int daemon_run(struct keel_daemon *d, const struct env *env)
{
	struct keel_watch sigw = { .cb = on_signal, .data = d };
	char why[512] = "";
	sigset_t mask;
	int err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP); /* reload */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	d->started = time(NULL);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigw.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->bus = keel_event_bus_new(d->host, env->quiet || !d->cfg.events_stdout ? NULL : stdout,
				    d->cfg.events_backlog, d->cfg.events_queue_bytes);
	if (d->epfd < 0 || sigw.fd < 0 || !d->bus || keel_watch_add(d, &sigw, EPOLLIN) < 0) {
		pr_err("setting up the event loop: %s", strerror(errno));
		err = -ENOMEM;
		goto free_bus;
	}

	/* The record first: the subsystems' start is on it. */
	err = keel_sinks_start(d, why, sizeof(why));
	if (err) {
		pr_err("events: %s", why);
		goto stop_sinks;
	}

	/* Then the socket: it tells us whether another keeld owns the pins. */
	err = keel_control_open(d, why, sizeof(why));
	if (err) {
		pr_err("control socket: %s", why);
		goto stop_sinks;
	}
	ensure_bpffs(d->cfg.pin_dir);
	keel_subsystems_before_probe(d); /* kmod: [kmod] module */
	keel_features_probe(&d->features);
	for (int i = 0; i < KEEL_FEAT_COUNT; i++)
		if (!d->features.f[i].available)
			pr_debug("feature %s unavailable: %s", keel_feature_name(i),
				 d->features.f[i].reason);

	err = start_subsystems(d);
	if (err)
		goto stop;

	err = keel_metrics_start(d, why, sizeof(why));
	if (err) {
		pr_err("metrics: %s", why);
		goto stop;
	}
	if (d->cfg.metrics_listen[0])
		pr_info("metrics on http://%s/metrics", d->cfg.metrics_listen);

	keel_emit(d, "keel", "keel.start",
		  json_pack("{s:s, s:I}", "version", KEEL_VERSION, "pid", (json_int_t)getpid()));
	sd_notify(0, "READY=1\nSTATUS=running");
	start_watchdog(d);
	pr_info("ready; control socket %s, pins under %s", d->cfg.control_socket, d->cfg.pin_dir);
	err = run_loop(d);
	sd_notify(0, "STOPPING=1");
	keel_emit(d, "keel", "keel.stop", json_pack("{s:s}", "reason", "signal"));

stop:
	keel_watchdog_stop(d);
	keel_metrics_stop(d);
	stop_subsystems(d);
	keel_control_close(d);
stop_sinks:
	keel_sinks_stop(d);
free_bus:
	keel_event_bus_free(d->bus);
	if (sigw.fd >= 0)
		close(sigw.fd);
	if (d->epfd >= 0)
		close(d->epfd);
	return err;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, NULL, doc, NULL, NULL, NULL };
	struct env env = { 0 };
	struct keel_daemon d = { .epfd = -1 };
	int err;

	/* argp exits with 64 (EX_USAGE) on a bad command line; ours is 2 */
	argp_err_exit_status = 2;

	keel_log_setup("keeld", KEEL_LOG_INFO);
	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return EXIT_USAGE;
	keel_log_setup("keeld", env.verbose ?
					(enum keel_log_level)(KEEL_LOG_DEBUG + (env.verbose > 1)) :
					KEEL_LOG_INFO);
	libbpf_set_print(libbpf_print);

	if (load_config(&env, &d.cfg) < 0)
		return EXIT_USAGE;
	if (env.config_path)
		snprintf(d.config_path, sizeof(d.config_path), "%s", env.config_path);
	if (env.print_config) {
		keel_config_print(&d.cfg, stdout);
		return 0;
	}
	if (env.probe) {
		keel_features_probe(&d.features);
		print_probe(&d.features, env.json);
		return 0;
	}
	if (geteuid() != 0) {
		pr_err("keeld must run as root: it loads BPF programs and pins them under %s",
		       d.cfg.pin_dir);
		return 1;
	}
	if (d.cfg.host[0])
		snprintf(d.host, sizeof(d.host), "%s", d.cfg.host);
	else if (gethostname(d.host, sizeof(d.host) - 1) < 0)
		snprintf(d.host, sizeof(d.host), "unknown");

	err = daemon_run(&d, &env);
	return err ? 1 : 0;
}
