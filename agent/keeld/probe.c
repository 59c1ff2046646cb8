// SPDX-License-Identifier: GPL-2.0-only
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "keeld/probe.h"
#include "probe.skel.h"

static const char *const feature_names[KEEL_FEAT_COUNT] = {
	[KEEL_FEAT_BTF] = "btf",       [KEEL_FEAT_BPF_LSM] = "bpf_lsm",
	[KEEL_FEAT_FENTRY] = "fentry", [KEEL_FEAT_FEXIT] = "fexit",
	[KEEL_FEAT_KPROBE] = "kprobe", [KEEL_FEAT_BLOCK_TP] = "block_tracepoint",
	[KEEL_FEAT_TC] = "tc",	       [KEEL_FEAT_KMOD] = "keel_ko",
	[KEEL_FEAT_UPCALL] = "upcall",
};

const char *keel_feature_name(enum keel_feature feat)
{
	return feat < KEEL_FEAT_COUNT ? feature_names[feat] : "?";
}

const char *keel_errno_name(int err)
{
	const char *name = strerrorname_np(err < 0 ? -err : err);

	return name ? name : "unknown errno";
}

static void set_unavailable(struct keel_feature_result *res, int err, const char *step,
			    const char *fix)
{
	res->available = false;
	res->err = err;
	snprintf(res->reason, sizeof(res->reason), "%s failed: %s (%s)", step, strerror(-err),
		 keel_errno_name(err));
	snprintf(res->fix, sizeof(res->fix), "%s", fix);
}

static bool lsm_list_has_bpf(bool *known)
{
	char buf[512] = "";
	FILE *f = fopen("/sys/kernel/security/lsm", "re");

	*known = f != NULL;
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n"))
		if (!strcmp(tok, "bpf"))
			return true;
	return false;
}

/*
 * Load only @prog out of the probe object and, when @attach, attach it and
 * detach it again.  Returns 0 or the negative errno of the failed step,
 * naming the step in @step.
 */
static int try_program(const char *prog_name, bool attach, const char **step)
{
	struct probe_bpf *skel;
	struct bpf_program *prog, *p;
	struct bpf_link *link;
	int err;

	*step = "opening the probe object";
	skel = probe_bpf__open();
	if (!skel)
		return -errno;
	prog = bpf_object__find_program_by_name(skel->obj, prog_name);
	if (!prog) {
		probe_bpf__destroy(skel);
		return -ENOENT;
	}
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == prog);

	*step = "loading the program";
	err = probe_bpf__load(skel);
	if (!err && attach) {
		*step = "attaching the program";
		link = bpf_program__attach(prog);
		err = link ? 0 : -errno;
		bpf_link__destroy(link);
	}
	probe_bpf__destroy(skel);
	return err;
}

static void probe_program(struct keel_feature_result *res, const char *prog, bool attach,
			  const char *what, const char *fix)
{
	const char *step;
	char full_step[128];
	int err = try_program(prog, attach, &step);

	if (!err) {
		res->available = true;
		return;
	}
	snprintf(full_step, sizeof(full_step), "%s: %s", what, step);
	set_unavailable(res, err, full_step, fix);
}

static void probe_btf(struct keel_feature_result *res)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
		res->available = true;
		return;
	}
	set_unavailable(res, -errno, "reading /sys/kernel/btf/vmlinux",
			"boot a kernel built with CONFIG_DEBUG_INFO_BTF=y");
}

static void probe_lsm(struct keel_feature_result *res)
{
	bool known;

	probe_program(res, "probe_lsm", true, "BPF LSM program",
		      "boot a kernel with CONFIG_BPF_LSM=y and 'bpf' in its lsm= list "
		      "(Debian's linux-image-amd64 has both), where BPF LSM programs "
		      "are not refused by the host");
	if (!res->available && !lsm_list_has_bpf(&known) && known) {
		size_t n = strlen(res->reason);

		snprintf(res->reason + n, sizeof(res->reason) - n,
			 "; 'bpf' is not in /sys/kernel/security/lsm");
	}
}

void keel_feature_probe_kmod(struct keel_feature_result *res)
{
	int fd;

	memset(res, 0, sizeof(*res));
	if (access("/sys/module/keel", F_OK) != 0) {
		if (access("/proc/modules", F_OK) != 0)
			set_unavailable(res, -ENOSYS, "keel.ko: loading modules",
					"this kernel was built without module support; "
					"boot a kernel with CONFIG_MODULES=y");
		else
			set_unavailable(
				res, -ENOENT, "keel.ko: finding the loaded module",
				"load it: insmod build/kmod/$(uname -r)/keel.ko, or set [kmod] module");
		return;
	}
	fd = open("/dev/keel", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_unavailable(res, -errno, "keel.ko: opening /dev/keel",
				"check that udev or devtmpfs created /dev/keel");
		return;
	}
	close(fd);
	res->available = true;
}

#define UPCALL_WHY "/sys/module/keel/parameters/upcall_unavailable"

/*
 * keel.ko decides at load time whether its second-stack upcalls can run on
 * this kernel (kmod/upcall.c checks the entry code's internals it relies
 * on) and leaves the reason in a read-only parameter, empty when they can.
 */
static void probe_upcall(struct keel_feature_result *res, const struct keel_feature_result *kmod)
{
	char why[520] = ""; /* keel.ko's upcall_unavailable: up to 511 bytes */
	size_t n;
	FILE *f;

	memset(res, 0, sizeof(*res));
	if (!kmod->available) {
		res->err = kmod->err;
		snprintf(res->reason, sizeof(res->reason), "needs keel.ko: %.600s", kmod->reason);
		snprintf(res->fix, sizeof(res->fix), "%s", kmod->fix);
		return;
	}
	f = fopen(UPCALL_WHY, "re");
	if (!f) {
		set_unavailable(res, -errno, "keel.ko: reading " UPCALL_WHY,
				"load the keel.ko built from this tree (make kmod)");
		return;
	}
	if (!fgets(why, sizeof(why), f))
		why[0] = '\0';
	fclose(f);
	n = strcspn(why, "\n");
	why[n] = '\0';
	if (!n) {
		res->available = true;
		return;
	}
	res->err = -EOPNOTSUPP;
	snprintf(res->reason, sizeof(res->reason), "keel.ko: upcalls unavailable: %s", why);
	snprintf(res->fix, sizeof(res->fix),
		 "none on this kernel (memory handles still work); upcalls run on kernels whose "
		 "entry code passes keel.ko's load-time checks: docs/upcall.md");
}

void keel_features_probe_kmod(struct keel_features *f)
{
	keel_feature_probe_kmod(&f->f[KEEL_FEAT_KMOD]);
	probe_upcall(&f->f[KEEL_FEAT_UPCALL], &f->f[KEEL_FEAT_KMOD]);
}

void keel_features_probe(struct keel_features *out)
{
	memset(out, 0, sizeof(*out));
	probe_btf(&out->f[KEEL_FEAT_BTF]);
	probe_lsm(&out->f[KEEL_FEAT_BPF_LSM]);
	probe_program(
		&out->f[KEEL_FEAT_FENTRY], "probe_fentry", true, "fentry program",
		"boot a kernel with CONFIG_DEBUG_INFO_BTF=y and "
		"CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y where tracing programs are allowed");
	probe_program(
		&out->f[KEEL_FEAT_FEXIT], "probe_fexit", true, "fexit program",
		"boot a kernel with CONFIG_DEBUG_INFO_BTF=y and "
		"CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y where tracing programs are allowed");
	probe_program(&out->f[KEEL_FEAT_KPROBE], "probe_kprobe", true, "kprobe on do_sys_openat2",
		      "boot a kernel with CONFIG_KPROBES=y and CONFIG_KPROBE_EVENTS=y");
	probe_program(&out->f[KEEL_FEAT_BLOCK_TP], "probe_block_tp", true,
		      "tp_btf/block_rq_issue program",
		      "boot a kernel with BTF and the block tracepoints (CONFIG_BLK_DEV_IO_TRACE)");
	probe_program(&out->f[KEEL_FEAT_TC], "probe_tc", false, "TC (sched_cls) program",
		      "boot a kernel with CONFIG_NET_CLS_BPF and CONFIG_NET_SCH_INGRESS");
	keel_features_probe_kmod(out);
	out->n_hooks = keel_hooks_count();
	if (out->n_hooks > KEEL_HOOKS_MAX)
		out->n_hooks = KEEL_HOOKS_MAX;
	keel_hooks_probe(out->hooks, out->n_hooks);
}

json_t *keel_features_to_json(const struct keel_features *features)
{
	json_t *arr = json_array();

	for (int i = 0; i < KEEL_FEAT_COUNT; i++) {
		const struct keel_feature_result *r = &features->f[i];
		json_t *o = json_pack("{s:s, s:b}", "name", feature_names[i], "available",
				      r->available);

		if (!r->available) {
			json_object_set_new(o, "reason", json_string(r->reason));
			json_object_set_new(o, "errno", json_string(keel_errno_name(r->err)));
			json_object_set_new(o, "fix", json_string(r->fix));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}
