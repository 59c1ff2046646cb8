// SPDX-License-Identifier: GPL-2.0-only
/*
 * blk: every block read request, with its disk, sector, length, latency,
 * issuing pid and cgroup, sent to keeld through a ring buffer.
 *
 * Why block_rq_issue + block_rq_complete (and not block_bio_queue):
 * - a request at issue is what the device (and a read cache below the page
 *   cache) really sees: after merging and splitting, with its final sector
 *   on the whole disk (partition offsets already applied), so the counts
 *   match /sys/block/<disk>/stat, which counts requests too;
 * - issue and complete both get the request pointer, so the latency is one
 *   lookup in a table keyed by it;
 * - a bio is seen before merging: a sequential reader would be counted once
 *   per bio, and bio-based drivers (dm, md) would be counted twice (once on
 *   the stacked device, once below).
 * The pid and cgroup are the current task's at issue: the submitter for
 * direct and plugged I/O, a kworker when the block layer issues later.
 *
 * A read is sent at completion.  When the in-flight table is full the read
 * is sent at issue with KEEL_BLK_F_NO_LATENCY, so no read is ever lost
 * silently; a full ring buffer is counted in `dropped`.
 */
#include "keel.bpf.h"
#include "keel/blk.h"

/* Set by keeld before load. */
const volatile bool filter_devices = false; /* only devices in blk_devices */
const volatile __u32 n_cgroups = 0;	    /* only tasks under blk_cgroups[0..n) */
const volatile __u64 wakeup_bytes = 0;	    /* wake keeld past this much data */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_blk_counters);
} blk_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* keeld sets [blk] ring_kib */
} blk_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEEL_BLK_MAX_FILTER_DEVS);
	__type(key, __u32);
	__type(value, __u8);
} blk_devices SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, KEEL_BLK_MAX_CGROUPS);
	__type(key, __u32);
	__type(value, __u32);
} blk_cgroups SEC(".maps");

struct inflight {
	__u64 issue_ns;
	__u64 sector;
	__u64 cgroup_id;
	__u32 dev;
	__u32 len;
	__u32 pid;
	__u32 pad;
};

/*
 * In-flight reads live first in blk_slots, a direct-mapped array indexed
 * by a hash of the request pointer: an array lookup is inlined by the
 * verifier and takes no lock, where a hash map insert, lookup and delete
 * cost about 300-450 ns per read (bpf_stats).  A slot is claimed with a
 * compare-and-swap of its `rq` from 0, so two CPUs never share one; a
 * request whose slot is taken goes to blk_inflight instead.
 */
#define BLK_SLOTS 16384 /* a power of two */

struct slot {
	__u64 rq; /* the request holding the slot, 0 when free */
	struct inflight f;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BLK_SLOTS);
	__type(key, __u32);
	__type(value, struct slot);
} blk_slots SEC(".maps");

/*
 * The overflow: a plain hash, not an LRU one: an LRU hash evicts from its
 * per-CPU free lists before it is full, and an evicted request's completion
 * would be lost without a trace.  When this one is full too the read is
 * sent at issue (untracked).  A request that never completes (its device
 * torn down under it) keeps its entry; keeld's counters show such a leak
 * as untracked.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEEL_BLK_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct inflight);
} blk_inflight SEC(".maps");

/* Entries in blk_inflight, so the slot path skips it while it is empty. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} blk_overflow SEC(".maps");

/*
 * The request's address as a plain number (the verifier allows no
 * arithmetic on a BTF pointer; copying it through the stack launders it),
 * and the slot it hashes to.
 */
static __always_inline struct slot *rq_slot(struct request *rq, __u64 *ret_id)
{
	__u64 p = (__u64)rq, id = 0;
	__u32 i;

	bpf_probe_read_kernel(&id, sizeof(id), &p);
	*ret_id = id;
	i = (__u32)((id >> 4) * 0x9e3779b97f4a7c15ull >> 50) & (BLK_SLOTS - 1);
	return bpf_map_lookup_elem(&blk_slots, &i);
}

static __always_inline bool cgroup_wanted(void)
{
	for (__u32 i = 0; i < KEEL_BLK_MAX_CGROUPS; i++) {
		if (i >= n_cgroups)
			return false;
		if (bpf_current_task_under_cgroup(&blk_cgroups, i) == 1)
			return true;
	}
	return false;
}

/*
 * tp_btf hands us a BTF pointer: fields are read directly (CO-RE relocated
 * loads the JIT inlines, faults caught) rather than through
 * bpf_probe_read_kernel, one helper call per field, which cost about a
 * third of the issue program.
 */
static __always_inline __u32 rq_dev(struct request *rq)
{
	struct gendisk *disk = rq->q->disk;

	if (!disk)
		return 0;
	return KEEL_BLK_MKDEV(disk->major, disk->first_minor);
}

static __always_inline void send(struct keel_blk_counters *cnt, const struct inflight *f, __u64 now,
				 __u64 latency, __u32 flags)
{
	struct keel_blk_read *r;
	__u64 wake = 0;

	r = bpf_ringbuf_reserve(&blk_events, sizeof(*r), 0);
	if (!r) {
		cnt->dropped++;
		return;
	}
	r->hdr.type = KEEL_EV_BLK_READ;
	r->hdr.size = sizeof(*r);
	r->hdr.time_ns = now;
	r->dev = f->dev;
	r->len = f->len;
	r->sector = f->sector;
	r->latency_ns = latency;
	r->cgroup_id = f->cgroup_id;
	r->pid = f->pid;
	r->flags = flags;
	/* Waking keeld for every record costs more than the record: wake it
	 * only past a batch; its timer collects the tail. */
	if (wakeup_bytes && bpf_ringbuf_query(&blk_events, BPF_RB_AVAIL_DATA) < wakeup_bytes)
		wake = BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(r, wake);
	cnt->sent++;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(blk_rq_issue, struct request *rq)
{
	struct keel_blk_counters *cnt;
	struct inflight f = {};
	struct slot *sl;
	__u64 *ov, id;
	__u32 zero = 0, op, dev;
	__u64 key = (__u64)rq;

	cnt = bpf_map_lookup_elem(&blk_counters, &zero);
	if (!cnt)
		return 0;
	op = rq->cmd_flags & KEEL_REQ_OP_MASK;
	if (op != KEEL_REQ_OP_READ && op != KEEL_REQ_OP_WRITE)
		return 0;
	dev = rq_dev(rq);
	if ((filter_devices && !bpf_map_lookup_elem(&blk_devices, &dev)) ||
	    (n_cgroups && !cgroup_wanted())) {
		cnt->filtered++;
		return 0;
	}
	f.len = rq->__data_len;
	if (op == KEEL_REQ_OP_WRITE) {
		cnt->writes++;
		cnt->write_sectors += f.len >> 9;
		return 0;
	}
	cnt->reads++;
	cnt->read_sectors += f.len >> 9;
	f.issue_ns = bpf_ktime_get_boot_ns();
	f.sector = rq->__sector;
	f.cgroup_id = bpf_get_current_cgroup_id();
	f.dev = dev;
	f.pid = bpf_get_current_pid_tgid() >> 32;
	sl = rq_slot(rq, &id);
	ov = bpf_map_lookup_elem(&blk_overflow, &zero);
	if (!ov)
		return 0;
	/* a requeued request is issued again: it may hold its slot already */
	if (sl && id && (sl->rq == id || __sync_val_compare_and_swap(&sl->rq, 0, id) == 0)) {
		sl->f = f;
		/* issued before into the overflow, then requeued: drop that */
		if (*ov && !bpf_map_delete_elem(&blk_inflight, &key))
			__sync_fetch_and_add(ov, -1);
		return 0;
	}
	/*
	 * Count the entry before it exists: the completion may run on another
	 * CPU as soon as the entry is in the map, and it skips the map while
	 * the count reads 0.  Counting after the insert lost that read.
	 */
	__sync_fetch_and_add(ov, 1);
	if (!bpf_map_update_elem(&blk_inflight, &key, &f, BPF_NOEXIST))
		return 0;
	__sync_fetch_and_add(ov, -1); /* not new: full, or a requeue's entry */
	if (bpf_map_update_elem(&blk_inflight, &key, &f, BPF_EXIST)) {
		cnt->untracked++;
		send(cnt, &f, f.issue_ns, 0, KEEL_BLK_F_NO_LATENCY);
	}
	return 0;
}

/*
 * Fires once per blk_update_request(): a driver that completes a request in
 * parts fires it several times; the first one sends the whole request.
 */
SEC("tp_btf/block_rq_complete")
int BPF_PROG(blk_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	struct keel_blk_counters *cnt;
	struct inflight *f;
	struct slot *sl;
	__u64 key = (__u64)rq, now, *ov, id;
	__u32 zero = 0;

	cnt = bpf_map_lookup_elem(&blk_counters, &zero);
	if (!cnt)
		return 0;
	sl = rq_slot(rq, &id);
	if (sl && id && sl->rq == id) {
		now = bpf_ktime_get_boot_ns();
		send(cnt, &sl->f, now, now - sl->f.issue_ns, error ? KEEL_BLK_F_ERROR : 0);
		/* after the record is out: then the slot may be taken again */
		__sync_val_compare_and_swap(&sl->rq, id, 0);
		return 0;
	}
	ov = bpf_map_lookup_elem(&blk_overflow, &zero);
	if (!ov || !*ov)
		return 0;
	f = bpf_map_lookup_elem(&blk_inflight, &key);
	if (!f)
		return 0;
	now = bpf_ktime_get_boot_ns();
	send(cnt, f, now, now - f->issue_ns, error ? KEEL_BLK_F_ERROR : 0);
	if (!bpf_map_delete_elem(&blk_inflight, &key))
		__sync_fetch_and_add(ov, -1);
	return 0;
}

/* A requeued request is issued again: its slot or entry is reused then. */

char LICENSE[] SEC("license") = "GPL";
