// SPDX-License-Identifier: GPL-2.0-only
/*
 * blk: count block requests as the block layer issues them to the driver.
 * block_rq_issue sees each request once, after merging, with its final
 * sector and length: that is what a read cache below the page cache sees.
 * Issue "blk" adds per-request records; today keeld reads the counters.
 */
#include "keel.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_blk_counters);
} blk_counters SEC(".maps");

SEC("tp_btf/block_rq_issue")
int BPF_PROG(blk_rq_issue, struct request *rq)
{
	struct keel_blk_counters *cnt;
	__u32 zero = 0, op, sectors;

	cnt = bpf_map_lookup_elem(&blk_counters, &zero);
	if (!cnt)
		return 0;
	op = BPF_CORE_READ(rq, cmd_flags) & KEEL_REQ_OP_MASK;
	sectors = BPF_CORE_READ(rq, __data_len) >> 9;
	if (op == KEEL_REQ_OP_READ) {
		cnt->reads++;
		cnt->read_sectors += sectors;
	} else if (op == KEEL_REQ_OP_WRITE) {
		cnt->writes++;
		cnt->write_sectors += sectors;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
