// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec: observe every program execution from the BPF LSM hook that decides
 * it.  This is the frame that issue "exec" builds enforcement on; today it
 * allows everything and reports each exec to keeld.
 */
#include "keel.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} exec_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_exec_counters);
} exec_counters SEC(".maps");

SEC("lsm/bprm_check_security")
int BPF_PROG(exec_check, struct linux_binprm *bprm)
{
	struct keel_exec_counters *cnt;
	struct keel_exec_event *ev;
	__u32 zero = 0;

	cnt = bpf_map_lookup_elem(&exec_counters, &zero);
	if (!cnt)
		return 0;
	cnt->execs++;

	ev = bpf_ringbuf_reserve(&exec_events, sizeof(*ev), 0);
	if (!ev) {
		cnt->dropped++;
		return 0;
	}
	ev->hdr.type = KEEL_EV_EXEC;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.time_ns = bpf_ktime_get_boot_ns();
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename),
				  BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
