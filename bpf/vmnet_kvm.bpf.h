/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Records of bpf/vmnet_kvm.bpf.c (KVM VM creation and destruction), read by
 * agent/vmnet/kvm.c from the vmnet_kvm_events ring buffer.
 */
#ifndef KEEL_VMNET_KVM_BPF_H
#define KEEL_VMNET_KVM_BPF_H

#define KEEL_VMNET_KVM_CREATE  1
#define KEEL_VMNET_KVM_DESTROY 2

struct keel_vmnet_kvm_record {
	struct keel_event_hdr hdr; /* type KEEL_EV_VMNET */
	__u32 kind;		   /* KEEL_VMNET_KVM_* */
	__u32 pid;		   /* thread group id of the task in the probe */
	__u32 tid;
	__u32 vm_pid;  /* the VMM (kvm->userspace_pid; at create: pid) */
	__u64 vm_id;   /* identifies the VM between create and destroy */
	char comm[16]; /* of the task in the probe */
};

/* Per-CPU counters, in the "vmnet_kvm_stats" array, index 0. */
struct keel_vmnet_kvm_stats {
	__u64 dropped; /* ring buffer full: record lost, counted */
};

#endif /* KEEL_VMNET_KVM_BPF_H */
