/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * exec's self-protection (bpf/guard.bpf.c) and the pins that keep exec
 * enforcing while keeld is stopped (docs/exec.md, "Self-protection" and
 * "Across restarts").  exec.c calls these at open, start and stop.
 */
#ifndef KEEL_EXEC_GUARD_H
#define KEEL_EXEC_GUARD_H

#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stddef.h>

#include "keeld/ringbuf.h"
#include "keeld/subsys.h"

struct guard_bpf;

/* The guard's state, one per exec subsystem (in struct exec_priv). */
struct exec_guard {
	struct guard_bpf *skel;
	struct keel_ringbuf rb; /* guard_events */
};

/*
 * Before loading @obj: make every map of @obj that a previous keeld left
 * pinned under <pin_dir>/exec (and that still has the same shape) be
 * reused, and have libbpf pin the others there at load
 * (keel_pins_reuse_maps()).  The links are pinned once attached, by
 * exec_guard_start().
 */
int exec_pins_prepare(struct keel_subsys *s, struct bpf_object *obj, char *why, size_t len);

/* Load, configure, attach and pin the guard; start reporting. */
int exec_guard_start(struct keel_subsys *s, char *why, size_t len);
/*
 * Stop reporting and close the guard.  Returns true when exec's pins must
 * stay (enforce mode): then keeld's successor is recorded and nothing is
 * unpinned.
 */
bool exec_guard_stop(struct keel_subsys *s);
/* The guard's counters, added to exec's. */
void exec_guard_counters(struct keel_subsys *s, json_t *out);

#endif /* KEEL_EXEC_GUARD_H */
