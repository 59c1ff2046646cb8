/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel feature probe.  Each feature is judged by trying it (load, and
 * attach for an instant, a trivial program from bpf/probe.bpf.c), so the
 * result is what this kernel accepts, with the kernel's errno when it
 * refuses, and never a guess from a version number.
 */
#ifndef KEEL_PROBE_H
#define KEEL_PROBE_H

#include <jansson.h>
#include <stdbool.h>

#include "keeld/hooks.h"

enum keel_feature {
	KEEL_FEAT_BTF,
	KEEL_FEAT_BPF_LSM,
	KEEL_FEAT_FENTRY,
	KEEL_FEAT_FEXIT,
	KEEL_FEAT_KPROBE,
	KEEL_FEAT_BLOCK_TP,
	KEEL_FEAT_TC,
	KEEL_FEAT_KMOD,
	KEEL_FEAT_UPCALL,
	KEEL_FEAT_COUNT
};

struct keel_feature_result {
	bool available;
	int err;	  /* negative errno of the failed step, or 0 */
	char reason[640]; /* why not, with the kernel's errno; keel.ko's reason for upcalls */
	char fix[256];	  /* what would make it available */
};

struct keel_features {
	struct keel_feature_result f[KEEL_FEAT_COUNT];
	struct keel_hook_state hooks[KEEL_HOOKS_MAX]; /* keeld/hooks.h */
	size_t n_hooks;
};

const char *keel_feature_name(enum keel_feature feat);
void keel_features_probe(struct keel_features *out);
/* Re-check only whether keel.ko is loaded and usable. */
void keel_feature_probe_kmod(struct keel_feature_result *res);
/*
 * Re-check keel.ko and its upcalls (keel.ko may have been loaded or
 * unloaded since the probe).
 */
void keel_features_probe_kmod(struct keel_features *f);
json_t *keel_features_to_json(const struct keel_features *features);

/* "EPERM" for -EPERM (or the number when it has no name). */
const char *keel_errno_name(int err);

#endif /* KEEL_PROBE_H */
