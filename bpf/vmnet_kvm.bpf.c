// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmnet_kvm: KVM VM creation and destruction, seen in the kernel.
 *
 * keeld attaches these kprobes by function name at run time, trying the
 * candidates in agent/vmnet/kvm.c in order (kvm_create_vm's return, then
 * kvm_arch_init_vm; kvm_destroy_vm, then kvm_arch_destroy_vm), because
 * which KVM functions survive inlining differs between kernels.  When none
 * attaches (no kprobes, KVM not loaded), keeld uses KVM's uevents instead.
 *
 * The VM is identified by a hash of its struct kvm address, so that no
 * kernel address reaches user space.
 */
#include "keel.bpf.h"
#include "keel/vmnet.h"
#include "vmnet_kvm.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} vmnet_kvm_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_vmnet_kvm_stats);
} vmnet_kvm_stats SEC(".maps");

/* per boot: the VM id is a hash of the address with this key */
const volatile __u64 id_key = 0;

static __always_inline __u64 vm_id(const void *kvm)
{
	__u64 x = (__u64)kvm ^ id_key;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static __always_inline void emit(__u32 kind, struct kvm *kvm, __u32 vm_pid)
{
	struct keel_vmnet_kvm_record *r;
	__u64 id = bpf_get_current_pid_tgid();

	r = bpf_ringbuf_reserve(&vmnet_kvm_events, sizeof(*r), 0);
	if (!r) {
		struct keel_vmnet_kvm_stats *st;
		__u32 zero = 0;

		st = bpf_map_lookup_elem(&vmnet_kvm_stats, &zero);
		if (st)
			st->dropped++; /* keeld reports it: vmnet.kvm_dropped */
		return;
	}
	r->hdr.type = KEEL_EV_VMNET;
	r->hdr.size = sizeof(*r);
	r->hdr.time_ns = bpf_ktime_get_boot_ns();
	r->kind = kind;
	r->pid = id >> 32;
	r->tid = (__u32)id;
	r->vm_pid = vm_pid ? vm_pid : r->pid;
	r->vm_id = vm_id(kvm);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, 0);
}

/* the return of kvm_create_vm(): a struct kvm, or an ERR_PTR */
SEC("kretprobe")
int BPF_KRETPROBE(vmnet_kvm_created, struct kvm *kvm)
{
	if (!kvm || (unsigned long)kvm >= (unsigned long)-4095)
		return 0;
	emit(KEEL_VMNET_KVM_CREATE, kvm, 0);
	return 0;
}

/* kvm_arch_init_vm(kvm, type): on the creation path, before it can fail late */
SEC("kprobe")
int BPF_KPROBE(vmnet_kvm_init, struct kvm *kvm)
{
	emit(KEEL_VMNET_KVM_CREATE, kvm, 0);
	return 0;
}

/* kvm_destroy_vm(kvm) or kvm_arch_destroy_vm(kvm): the last reference went */
SEC("kprobe")
int BPF_KPROBE(vmnet_kvm_destroy, struct kvm *kvm)
{
	emit(KEEL_VMNET_KVM_DESTROY, kvm, (__u32)BPF_CORE_READ(kvm, userspace_pid));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
