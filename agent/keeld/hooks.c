// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hooks that differ between kernels, from every registered subsystem's
 * table (struct keel_subsys_ops .hooks): looked up in the running kernel's
 * BTF for keeld --probe and keelctl status, and before a subsystem loads
 * its object, so that the programs of an absent hook stay out.
 */
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keeld/hooks.h"
#include "keeld/probe.h"
#include "keeld/subsys.h"

size_t keel_hooks_count(void)
{
	size_t n = 0;

	for (size_t i = 0; keel_subsystems[i]; i++)
		n += keel_subsystems[i]->n_hooks;
	return n;
}

static bool btf_has_func(const struct btf *btf, const char *name)
{
	return btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) >= 0;
}

/* @ops's hooks into @out[0..n), as far as they fit; returns how many. */
static size_t probe_table(const struct btf *btf, int err, const struct keel_subsys_ops *ops,
			  struct keel_hook_state *out, size_t n)
{
	size_t i;

	for (i = 0; i < ops->n_hooks && i < n; i++) {
		out[i].hook = &ops->hooks[i];
		out[i].subsystem = ops->name;
		out[i].err = err;
		out[i].present = btf && btf_has_func(btf, ops->hooks[i].btf_name);
	}
	return i;
}

void keel_hooks_probe(struct keel_hook_state *out, size_t n)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int err = btf ? 0 : -errno;
	size_t done = 0;

	for (size_t i = 0; keel_subsystems[i] && done < n; i++)
		done += probe_table(btf, err, keel_subsystems[i], out + done, n - done);
	btf__free(btf);
}

json_t *keel_hooks_to_json(const struct keel_hook_state *st, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct keel_hook *h = st[i].hook;
		json_t *o = json_pack("{s:s, s:s, s:b}", "name", h->name, "subsystem",
				      st[i].subsystem, "present", st[i].present);

		if (st[i].err)
			json_object_set_new(o, "errno", json_string(keel_errno_name(st[i].err)));
		if (!st[i].present)
			json_object_set_new(o, "without", json_string(h->without));
		json_array_append_new(arr, o);
	}
	return arr;
}

int keel_hooks_autoload(struct bpf_object *obj, const struct keel_subsys_ops *ops, char *why,
			size_t len)
{
	struct keel_hook_state st[KEEL_HOOKS_MAX];
	struct btf *btf = ops->n_hooks ? btf__load_vmlinux_btf() : NULL;
	int err = btf ? 0 : -errno;
	size_t n = probe_table(btf, err, ops, st, KEEL_HOOKS_MAX);
	struct bpf_program *prog;

	btf__free(btf);
	for (size_t i = 0; i < n; i++) {
		const struct keel_hook *h = st[i].hook;

		if (st[i].err) {
			snprintf(why, len,
				 "reading the kernel's BTF (/sys/kernel/btf/vmlinux) for %s: %s",
				 h->btf_name, strerror(-st[i].err));
			return st[i].err;
		}
		if (st[i].present)
			continue;
		for (int j = 0; j < KEEL_HOOK_MAX_PROGS && h->progs[j]; j++) {
			prog = bpf_object__find_program_by_name(obj, h->progs[j]);
			if (prog)
				bpf_program__set_autoload(prog, false);
		}
	}
	return 0;
}
