// SPDX-License-Identifier: GPL-2.0-only
/*
 * Feature probe: one trivial program per kind of BPF attachment keel uses.
 * keeld loads each program on its own (autoload off for the others) and,
 * where it can, attaches it for an instant, so that each feature is judged by
 * what this kernel actually accepts, never by its version number.
 */
#include "keel.bpf.h"

SEC("lsm/file_open")
int BPF_PROG(probe_lsm, struct file *file)
{
	return 0;
}

/* do_sys_openat2 exists in every kernel keel targets and is never inlined. */
SEC("fentry/do_sys_openat2")
int BPF_PROG(probe_fentry)
{
	return 0;
}

SEC("fexit/do_sys_openat2")
int BPF_PROG(probe_fexit)
{
	return 0;
}

SEC("kprobe/do_sys_openat2")
int probe_kprobe(struct pt_regs *ctx)
{
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(probe_block_tp, struct request *rq)
{
	return 0;
}

SEC("tc")
int probe_tc(struct __sk_buff *skb)
{
	return KEEL_TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
