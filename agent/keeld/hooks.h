/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel hooks that keel's programs attach where the kernel has them and
 * do without where it does not: a function or LSM hook that appeared or
 * went away between the kernels keel runs on (docs/testing.md, "Kernels").
 * Each is judged by looking it up in the running kernel's BTF, never by
 * the kernel's version.  keeld --probe and keelctl status list them.
 */
#ifndef KEEL_HOOKS_H
#define KEEL_HOOKS_H

#include <bpf/libbpf.h>
#include <jansson.h>
#include <stdbool.h>

#define KEEL_HOOK_MAX_PROGS 4
#define KEEL_HOOKS_MAX	    8 /* room in struct keel_features, all subsystems' together */

/* One hook in a subsystem's table (struct keel_subsys_ops .hooks). */
struct keel_hook {
	const char *name;			/* "fentry/vfs_set_acl": how it attaches */
	const char *btf_name;			/* the BTF function that must exist */
	const char *progs[KEEL_HOOK_MAX_PROGS]; /* the programs that attach it */
	const char *without;			/* what keel does where it is absent */
};

struct keel_hook_state {
	const struct keel_hook *hook;
	const char *subsystem; /* whose table it is in */
	bool present;
	int err; /* negative errno when BTF could not be read */
};

struct keel_subsys_ops;

/*
 * The number of hooks in the registered subsystems' tables, and each one's
 * state on this kernel, in registry order.
 */
size_t keel_hooks_count(void);
void keel_hooks_probe(struct keel_hook_state *out, size_t n);
json_t *keel_hooks_to_json(const struct keel_hook_state *st, size_t n);

/*
 * Turn off the programs of @obj whose hook in @ops's table this kernel
 * lacks, before the object is loaded.  Returns 0, or a negative errno with
 * @why set when the kernel's BTF cannot be read.
 */
int keel_hooks_autoload(struct bpf_object *obj, const struct keel_subsys_ops *ops, char *why,
			size_t len);

#endif /* KEEL_HOOKS_H */
