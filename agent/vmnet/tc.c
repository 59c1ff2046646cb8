// SPDX-License-Identifier: GPL-2.0-only
/*
 * TC attachment through libbpf's netlink helpers (libbpf 1.1 has no tcx
 * links).  keeld's filters use their own handle and priority, so attaching
 * replaces a filter a crashed keeld left behind, and detaching removes only
 * keel's.  The clsact qdisc is created when missing and then removed on
 * detach; one that was already there (someone else's filters may hang on
 * it) is left alone.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>

#include "vmnet/vmnet.h"

#define VMNET_TC_HANDLE 0x6b6c /* "kl" */
#define VMNET_TC_PRIO	0x6b

static int attach_one(int ifindex, enum bpf_tc_attach_point where, int fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VMNET_TC_HANDLE, .priority = VMNET_TC_PRIO,
			    .prog_fd = fd, .flags = BPF_TC_F_REPLACE);

	return bpf_tc_attach(&hook, &opts);
}

static void detach_one(int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = VMNET_TC_HANDLE,
			    .priority = VMNET_TC_PRIO);

	bpf_tc_detach(&hook, &opts);
}

/*
 * Attach @ingress_fd and @egress_fd (either may be -1) on @ifindex.  On
 * failure nothing stays attached and a qdisc we created is removed.
 */
int vmnet_tc_attach(int ifindex, int ingress_fd, int egress_fd, bool *created_qdisc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	*created_qdisc = !err;
	err = ingress_fd >= 0 ? attach_one(ifindex, BPF_TC_INGRESS, ingress_fd) : 0;
	if (!err && egress_fd >= 0)
		err = attach_one(ifindex, BPF_TC_EGRESS, egress_fd);
	if (err)
		vmnet_tc_detach(ifindex, ingress_fd >= 0, false, *created_qdisc);
	return err;
}

void vmnet_tc_detach(int ifindex, bool ingress, bool egress, bool remove_qdisc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	if (ingress)
		detach_one(ifindex, BPF_TC_INGRESS);
	if (egress)
		detach_one(ifindex, BPF_TC_EGRESS);
	if (remove_qdisc)
		bpf_tc_hook_destroy(&hook);
}
