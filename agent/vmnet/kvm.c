// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM VM creation and destruction from kprobes (bpf/vmnet_kvm.bpf.c), when
 * the kernel lets them attach and KVM is loaded; otherwise, and until then,
 * from KVM's uevents (lifecycle.c).  Which source is in use is an event
 * (vmnet.kvm_source) and a field of keelctl status (kvm_source), never a
 * failure: the host kernel keel is developed on cannot attach kprobes.
 *
 * Which KVM functions can be probed depends on the kernel's inlining, so
 * each probe tries a list of functions by name, in order.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "vmnet.skel.h"
#include "vmnet_kvm.skel.h"
#include "vmnet/vmnet.h"
#include "keeld/percpu.h"
#include "keeld/ringbuf.h"
#include "../bpf/vmnet_kvm.bpf.h"

struct kvm_probe {
	const char *func;
	bool ret; /* a kretprobe */
};

/* creation: the return of kvm_create_vm() says it succeeded */
static const struct kvm_probe create_probes[] = {
	{ "kvm_create_vm", true },
	{ "kvm_arch_init_vm", false },
};

static const struct kvm_probe destroy_probes[] = {
	{ "kvm_destroy_vm", false },
	{ "kvm_arch_destroy_vm", false },
};

static int on_kvm_record(void *ctx, void *data, size_t size)
{
	struct vmnet *v = ctx;
	const struct keel_vmnet_kvm_record *r = data;
	char comm[17], id[17];

	if (size < sizeof(*r) || r->hdr.type != KEEL_EV_VMNET)
		return 0;
	snprintf(comm, sizeof(comm), "%.16s", r->comm);
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)r->vm_id);
	vmnet_kvm_event(
		v, r->kind == KEEL_VMNET_KVM_CREATE, (int)r->vm_pid,
		json_pack("{s:s, s:i, s:i, s:s, s:s, s:s}", "source", "kprobe", "by_pid",
			  (int)r->pid, "by_tid", (int)r->tid, "comm", comm, "vm_id", id, "function",
			  r->kind == KEEL_VMNET_KVM_CREATE ? v->kvm_create_fn : v->kvm_destroy_fn));
	return 0;
}

static void on_kvm_rb(void *ctx)
{
	struct vmnet *v = ctx;

	keel_ringbuf_consume(&v->kvm_rb);
	vmnet_timer_arm(v);
}

static int read_kvm_dropped(void *ctx, __u64 *ret_total)
{
	struct vmnet *v = ctx;
	struct keel_vmnet_kvm_stats sum;
	int err = keel_percpu_sum(v->kvm_skel->maps.vmnet_kvm_stats, 0, &sum, sizeof(sum));

	*ret_total = sum.dropped;
	return err;
}

static struct bpf_link *attach_one(struct bpf_program *entry, struct bpf_program *ret,
				   const struct kvm_probe *p, size_t n, const char **fn, char *err,
				   size_t len)
{
	struct bpf_link *l;

	for (size_t i = 0; i < n; i++) {
		l = bpf_program__attach_kprobe(p[i].ret ? ret : entry, p[i].ret, p[i].func);
		if (l) {
			*fn = p[i].func;
			return l;
		}
		snprintf(err, len, "kprobe on %s: %s", p[i].func, strerror(errno));
	}
	return NULL;
}

static void set_source(struct vmnet *v, const char *source, const char *reason)
{
	snprintf(v->kvm_source, sizeof(v->kvm_source), "%s", source);
	snprintf(v->kvm_reason, sizeof(v->kvm_reason), "%s", reason);
	vmnet_emit(v, "vmnet.kvm_source",
		   json_pack("{s:s, s:s, s:s, s:s}", "source", source, "create", v->kvm_create_fn,
			     "destroy", v->kvm_destroy_fn, "reason", reason));
}

/*
 * Try the kprobes; on any failure stay on (or fall back to) the uevents.
 * Called at start and when the kvm module appears.
 */
void vmnet_kvm_attach(struct vmnet *v)
{
	struct vmnet_kvm_bpf *skel;
	char why[256] = "", err[200] = "";
	const char *cfn = "", *dfn = "";
	__u64 key = 0;

	if (v->kvm_skel)
		return;
	v->kvm_create_fn = v->kvm_destroy_fn = "";
	if (access("/sys/module/kvm", F_OK)) {
		set_source(v, "uevent",
			   "the kvm module is not loaded; kprobes are tried when it is");
		return;
	}
	skel = vmnet_kvm_bpf__open();
	if (!skel) {
		snprintf(why, sizeof(why), "opening bpf/vmnet_kvm.bpf.c: %s", strerror(errno));
		goto fallback;
	}
	if (getrandom(&key, sizeof(key), GRND_NONBLOCK) != sizeof(key))
		key = (__u64)vmnet_now_mono();
	skel->rodata->id_key = key;
	if (vmnet_kvm_bpf__load(skel)) {
		snprintf(why, sizeof(why), "loading bpf/vmnet_kvm.bpf.c: %s", strerror(errno));
		goto fallback;
	}
	v->kvm_links[0] = attach_one(skel->progs.vmnet_kvm_init, skel->progs.vmnet_kvm_created,
				     create_probes, 2, &cfn, err, sizeof(err));
	if (!v->kvm_links[0]) {
		snprintf(why, sizeof(why), "no KVM creation function could be probed (last: %s)",
			 err);
		goto fallback;
	}
	v->kvm_links[1] = attach_one(skel->progs.vmnet_kvm_destroy, NULL, destroy_probes, 2, &dfn,
				     err, sizeof(err));
	if (!v->kvm_links[1]) {
		snprintf(why, sizeof(why), "no KVM destruction function could be probed (last: %s)",
			 err);
		goto fallback;
	}
	v->kvm_skel = skel; /* before the ring buffer's drop timer reads its counters */
	v->kvm_rb = (struct keel_ringbuf){ .subsystem = "vmnet",
					   .drop_event = "vmnet.kvm_dropped",
					   .read_dropped = read_kvm_dropped,
					   .woken = on_kvm_rb };
	if (keel_ringbuf_open(&v->kvm_rb, v->d, skel->maps.vmnet_kvm_events, on_kvm_record, v, why,
			      sizeof(why)))
		goto fallback;
	v->kvm_create_fn = cfn;
	v->kvm_destroy_fn = dfn;
	set_source(v, "kprobe", "");
	return;
fallback:
	keel_ringbuf_close(&v->kvm_rb);
	v->kvm_skel = NULL;
	for (int i = 0; i < 2; i++) {
		bpf_link__destroy(v->kvm_links[i]);
		v->kvm_links[i] = NULL;
	}
	vmnet_kvm_bpf__destroy(skel);
	set_source(v, "uevent", why);
}

void vmnet_kvm_detach(struct vmnet *v)
{
	keel_ringbuf_close(&v->kvm_rb);
	for (int i = 0; i < 2; i++) {
		bpf_link__destroy(v->kvm_links[i]);
		v->kvm_links[i] = NULL;
	}
	vmnet_kvm_bpf__destroy(v->kvm_skel);
	v->kvm_skel = NULL;
}

/* The kvm module went: its kprobes went with it. */
void vmnet_kvm_module_gone(struct vmnet *v)
{
	if (!v->kvm_skel)
		return;
	vmnet_kvm_detach(v);
	v->kvm_create_fn = v->kvm_destroy_fn = "";
	set_source(v, "uevent", "the kvm module was unloaded; kprobes are tried when it is back");
}
