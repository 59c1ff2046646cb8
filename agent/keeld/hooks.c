// SPDX-License-Identifier: GPL-2.0-only
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keeld/hooks.h"
#include "keeld/probe.h"

static const struct keel_hook hooks[] = {
	{
		.subsystem = "exec",
		.name = "fentry+fexit/vfs_set_acl",
		.btf_name = "vfs_set_acl",
		.progs = { "exec_set_acl", "exec_vfs_set_acl" },
		.without = "POSIX ACLs are set through vfs_setxattr on this kernel (before 6.2), "
			   "which exec follows",
	},
	{
		.subsystem = "exec",
		.name = "fentry+fexit/vfs_remove_acl",
		.btf_name = "vfs_remove_acl",
		.progs = { "exec_remove_acl", "exec_vfs_remove_acl" },
		.without = "POSIX ACLs are removed through vfs_removexattr on this kernel "
			   "(before 6.2), which exec follows",
	},
};

#define N_HOOKS (sizeof(hooks) / sizeof(hooks[0]))

size_t keel_hooks_count(void)
{
	return N_HOOKS;
}

static bool btf_has_func(const struct btf *btf, const char *name)
{
	return btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) >= 0;
}

void keel_hooks_probe(struct keel_hook_state *out, size_t n)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int err = btf ? 0 : -errno;

	for (size_t i = 0; i < n && i < N_HOOKS; i++) {
		out[i].hook = &hooks[i];
		out[i].err = err;
		out[i].present = btf && btf_has_func(btf, hooks[i].btf_name);
	}
	btf__free(btf);
}

json_t *keel_hooks_to_json(const struct keel_hook_state *st, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct keel_hook *h = st[i].hook;
		json_t *o = json_pack("{s:s, s:s, s:b}", "name", h->name, "subsystem", h->subsystem,
				      "present", st[i].present);

		if (st[i].err)
			json_object_set_new(o, "errno", json_string(keel_errno_name(st[i].err)));
		if (!st[i].present)
			json_object_set_new(o, "without", json_string(h->without));
		json_array_append_new(arr, o);
	}
	return arr;
}

int keel_hooks_autoload(struct bpf_object *obj, const char *subsystem, char *why, size_t len)
{
	struct keel_hook_state st[N_HOOKS];
	struct bpf_program *prog;

	keel_hooks_probe(st, N_HOOKS);
	for (size_t i = 0; i < N_HOOKS; i++) {
		if (strcmp(hooks[i].subsystem, subsystem))
			continue;
		if (st[i].err) {
			snprintf(why, len,
				 "reading the kernel's BTF (/sys/kernel/btf/vmlinux) for %s: %s",
				 hooks[i].btf_name, strerror(-st[i].err));
			return st[i].err;
		}
		if (st[i].present)
			continue;
		for (int j = 0; j < KEEL_HOOK_MAX_PROGS && hooks[i].progs[j]; j++) {
			prog = bpf_object__find_program_by_name(obj, hooks[i].progs[j]);
			if (prog)
				bpf_program__set_autoload(prog, false);
		}
	}
	return 0;
}
