/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The frame every subsystem plugs into.  A subsystem names the kernel
 * features it needs, and implements open (load and configure its BPF
 * object), start (attach, pin, begin polling), stop, and status counters.
 * The frame checks the features, runs the steps in order, records each
 * failure with the step and the kernel's errno, and reports the state.
 * Subsystems never call each other; they share the event bus.
 */
#ifndef KEEL_SUBSYS_H
#define KEEL_SUBSYS_H

#include <jansson.h>

#include "keeld/daemon.h"

enum keel_subsys_state {
	KEEL_SUBSYS_DISABLED,		/* by configuration */
	KEEL_SUBSYS_UNAVAILABLE,	/* a kernel feature is missing */
	KEEL_SUBSYS_FAILED,		/* open or start failed */
	KEEL_SUBSYS_STOPPED,		/* by keelctl */
	KEEL_SUBSYS_RUNNING,
};

struct keel_subsys_ops {
	const char *name;
	const char *summary;
	enum keel_feature needs[4];
	int n_needs;
	size_t priv_size;
	/*
	 * Each returns 0 or a negative errno and, on failure, a message in
	 * @why saying which step failed, on what, and what to do.
	 */
	int (*open)(struct keel_subsys *s, char *why, size_t len);
	int (*start)(struct keel_subsys *s, char *why, size_t len);
	void (*stop)(struct keel_subsys *s);	/* undoes start and open */
	void (*counters)(struct keel_subsys *s, json_t *out);
	/*
	 * Optional: a keelctl request {"cmd": "<name>.<verb>", ...} for this
	 * subsystem, routed here only while it runs.  Returns the reply's
	 * fields (the caller adds "ok") or NULL with a message in @why.  Only
	 * a @privileged peer may change anything; refuse the others.
	 */
	json_t *(*command)(struct keel_subsys *s, const char *verb, json_t *req,
			   bool privileged, char *why, size_t len);
};

struct keel_subsys {
	const struct keel_subsys_ops *ops;
	const struct keel_subsys_config *cfg;
	struct keel_daemon *d;
	enum keel_subsys_state state;
	char reason[512];
	char fix[256];
	void *priv;
};

const char *keel_subsys_state_name(enum keel_subsys_state state);
struct keel_subsys *keel_subsys_new(const struct keel_subsys_ops *ops,
				    const struct keel_subsys_config *cfg,
				    struct keel_daemon *d);
void keel_subsys_free(struct keel_subsys *s);
/* Check features, open, start; the state and reason say how it went. */
void keel_subsys_start(struct keel_subsys *s);
void keel_subsys_stop(struct keel_subsys *s, enum keel_subsys_state state,
		      const char *reason);
json_t *keel_subsys_status(struct keel_subsys *s);

/* Pin helpers: everything goes under <pin_dir>/<subsystem>/. */
int keel_pin_dir_prepare(struct keel_subsys *s, char *path, size_t len);
void keel_pin_dir_remove(struct keel_subsys *s);

extern const struct keel_subsys_ops keel_exec_ops;
extern const struct keel_subsys_ops keel_blk_ops;
extern const struct keel_subsys_ops keel_kmod_ops;
extern const struct keel_subsys_ops keel_vmnet_ops;
extern const struct keel_subsys_ops keel_memh_ops;

#endif /* KEEL_SUBSYS_H */
