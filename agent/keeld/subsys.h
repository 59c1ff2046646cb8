/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The frame every subsystem plugs into.  A subsystem names the kernel
 * features it needs and its configuration keys, and implements open (load
 * and configure its BPF object), start (attach, pin, begin polling), stop,
 * and status counters.  The frame parses and checks its [<name>] section,
 * checks the features, runs the steps in order, records each failure with
 * the step and the kernel's errno, and reports the state.  Subsystems never
 * call each other; they share the event bus.  The registry (registry.c)
 * lists them, one line each.
 */
#ifndef KEEL_SUBSYS_H
#define KEEL_SUBSYS_H

#include <jansson.h>

#include "keeld/daemon.h"
#include "keeld/hooks.h"

enum keel_subsys_state {
	KEEL_SUBSYS_DISABLED,	 /* by configuration */
	KEEL_SUBSYS_UNAVAILABLE, /* a kernel feature is missing */
	KEEL_SUBSYS_FAILED,	 /* open or start failed */
	KEEL_SUBSYS_STOPPED,	 /* by keelctl */
	KEEL_SUBSYS_RUNNING,
};

/*
 * A journal priority for one of a subsystem's event types: its PRIORITY
 * field, so that `journalctl -p warning` shows what needs a person
 * (keeld/event_priority.c; docs/events.md lists them).
 */
struct keel_event_priority {
	const char *type; /* the exact type: "exec.deny" */
	int priority;	  /* LOG_ERR, LOG_WARNING, LOG_NOTICE or LOG_DEBUG */
};

struct keel_subsys_ops {
	const char *name;
	const char *summary;
	/* every kind of kernel program or object it attaches or opens */
	enum keel_feature needs[4];
	int n_needs;
	size_t priv_size;
	/*
	 * Its [<name>] section: a table ending with KEEL_OPT_END that fills a
	 * struct of @config_size bytes starting with struct keel_subsys_config
	 * subsys (see keeld/config.h).  The frame keeps it; s->config points
	 * to it.
	 */
	const struct keel_opt *options;
	size_t config_size;
	/*
	 * Optional: checks across keys, or that need the system, before
	 * anything starts.  0, or a negative errno with the key in @key and
	 * what is wrong in @msg.
	 */
	int (*check_config)(const void *config, char *key, size_t keylen, char *msg, size_t msglen);
	/*
	 * Optional: runs once at keeld's start, before the kernel's features
	 * are probed, with its configuration (enabled or not: it checks), to
	 * put in place what the probe should find (kmod loads [kmod] module).
	 * A failure (negative errno, @why) is logged and ignored: the probe
	 * then reports the feature missing.
	 */
	int (*before_probe)(const void *config, char *why, size_t len);
	/*
	 * Each returns 0 or a negative errno and, on failure, a message in
	 * @why saying which step failed, on what, and what to do.
	 */
	int (*open)(struct keel_subsys *s, char *why, size_t len);
	int (*start)(struct keel_subsys *s, char *why, size_t len);
	void (*stop)(struct keel_subsys *s); /* undoes start and open */
	void (*counters)(struct keel_subsys *s, json_t *out);
	/*
	 * Optional: a keelctl request {"cmd": "<name>.<verb>", ...} for this
	 * subsystem, routed here only while it runs.  Returns the reply's
	 * fields (the caller adds "ok") or NULL with a message in @why.  Only
	 * a @privileged peer may change anything; refuse the others.
	 */
	json_t *(*command)(struct keel_subsys *s, const char *verb, json_t *req, bool privileged,
			   char *why, size_t len);
	/*
	 * Optional: the same, for the requests that make sense while the
	 * subsystem does not run (only s->config may be used), so that keeld
	 * stays the one writer of the subsystem's files.  NULL with @why
	 * empty: not such a request (the caller says the subsystem is not
	 * running).
	 */
	json_t *(*offline_command)(struct keel_subsys *s, const char *verb, json_t *req,
				   bool privileged, char *why, size_t len);
	/*
	 * Optional: series with labels for the metrics page, beyond the
	 * counters, while it runs: {"<series>": [{"labels": {"<label>":
	 * "<value>", ...}, "values": {"<counter>": number or {"<sub>":
	 * number}}}, ...]}, shown as keel_<name>_<series>_<counter>{labels}
	 * (keeld/metrics_render.c).  Every label value must be bounded by one
	 * of its limits (blk: a disk, at most [blk] max_disks), never a file,
	 * a pid or an address.
	 */
	json_t *(*metrics)(struct keel_subsys *s);
	/*
	 * Optional: its event types whose journal priority is not LOG_INFO,
	 * ending with { NULL }.  "<name>.dropped" needs no row (the frame's).
	 */
	const struct keel_event_priority *event_priorities;
	/*
	 * Optional: the kernel hooks its programs attach where the kernel has
	 * them (keeld/hooks.h); keeld --probe and keelctl status list them,
	 * and keel_hooks_autoload() leaves out the programs of the absent ones.
	 */
	const struct keel_hook *hooks;
	size_t n_hooks;
};

struct keel_subsys {
	const struct keel_subsys_ops *ops;
	const void *config;		      /* its struct, of ops->config_size */
	const struct keel_subsys_config *cfg; /* the head of @config */
	struct keel_daemon *d;
	enum keel_subsys_state state;
	char reason[512];
	char fix[256];
	void *priv;
};

const char *keel_subsys_state_name(enum keel_subsys_state state);
/* A subsystem of @d, configured by its section of d->cfg. */
struct keel_subsys *keel_subsys_new(const struct keel_subsys_ops *ops, struct keel_daemon *d);
void keel_subsys_free(struct keel_subsys *s);
/* Check features, open, start; the state and reason say how it went. */
void keel_subsys_start(struct keel_subsys *s);
void keel_subsys_stop(struct keel_subsys *s, enum keel_subsys_state state, const char *reason);
json_t *keel_subsys_status(struct keel_subsys *s);
/* Every registered subsystem's before_probe, in registry order. */
void keel_subsystems_before_probe(struct keel_daemon *d);

/* The registry: every subsystem in start order, then NULL (registry.c). */
#define KEEL_MAX_SUBSYSTEMS 32
extern const struct keel_subsys_ops *const keel_subsystems[];
size_t keel_subsystem_count(void);

#endif /* KEEL_SUBSYS_H */
