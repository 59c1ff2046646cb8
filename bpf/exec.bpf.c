// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec: only files that keel's approved installer trusted may run, and any
 * change to a trusted file removes its trust at once.  Everything is
 * decided here, in the LSM hooks, with no round trip to keeld:
 *
 *  - execution: bprm_check_security (programs, #! scripts and, on the
 *    second pass, their interpreters), mmap_file with PROT_EXEC (shared
 *    libraries, the program and ld.so mapped by the ELF loader,
 *    `ld.so ./prog`), file_mprotect adding PROT_EXEC, kernel_read_file of
 *    a module (finit_module) and kernel_load_data (init_module: no file);
 *  - taint: file_open for writing (which every later write needs: write,
 *    io_uring, copy_file_range, splice, sendfile, fallocate, ftruncate,
 *    shared writable mappings), inode_setattr (chmod, chown, utimes,
 *    truncate), setxattr/removexattr, link, rename and unlink.
 *
 * keeld fills exec_trusted; an entry is keyed by inode identity and holds
 * the change stamp recorded when the file was trusted (see keel/exec.h).
 */
#include "keel.bpf.h"
#include "keel/exec.h"
#include "exec.bpf.h"

#define EPERM 1
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_SHARED 0x1		/* MAP_SHARED_VALIDATE (0x3) has it too */
#define VM_EXEC 0x4
#define FMODE_WRITE 0x2

/* Sized by keeld ([exec] max_trusted) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct keel_exec_key);
	__type(value, struct keel_exec_trust);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} exec_trusted SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_exec_state);
} exec_state SEC(".maps");

/* keeld's own opens, by thread id: how keeld learns a file's identity. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct keel_exec_ident);
} exec_ident SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} exec_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_exec_stats);
} exec_stats SEC(".maps");

/* The frame's counters, kept for exec.exec events. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_exec_counters);
} exec_counters SEC(".maps");

static __always_inline struct keel_exec_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&exec_stats, &zero);
}

static __always_inline struct keel_exec_state *state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&exec_state, &zero);
}

static __always_inline __u32 cur_mode(void)
{
	struct keel_exec_state *st = state();

	return st ? st->mode : KEEL_EXEC_MODE_AUDIT;
}

/*
 * Fill a verdict record's common part.  @file gives a full path through
 * bpf_d_path; without one, @dentry gives the last component.
 */
static __always_inline void emit(__u32 op, __u32 reason, __u32 decision,
				 const struct keel_exec_key *key, struct file *file,
				 struct dentry *dentry)
{
	struct keel_exec_stats *cnt = stats();
	struct task_struct *task;
	struct keel_exec_verdict *ev;

	ev = bpf_ringbuf_reserve(&exec_events, sizeof(*ev), 0);
	if (!ev) {
		if (cnt)
			cnt->dropped++;
		return;
	}
	task = bpf_get_current_task_btf();
	ev->hdr.type = KEEL_EV_EXEC_VERDICT;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.time_ns = bpf_ktime_get_boot_ns();
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	ev->ppid = BPF_CORE_READ(task, real_parent, tgid);
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->op = op;
	ev->reason = reason;
	ev->decision = decision;
	ev->mode = cur_mode();
	ev->pad = 0;
	ev->key = *key;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->path[0] = 0;
	if (file) {
		if (bpf_d_path((struct path *)&file->f_path, ev->path, sizeof(ev->path)) < 0)
			ev->path[0] = 0;
	} else if (dentry) {
		bpf_probe_read_kernel_str(ev->path, sizeof(ev->path),
					  BPF_CORE_READ(dentry, d_name.name));
	}
	bpf_ringbuf_submit(ev, 0);
}

/*
 * The verdict on running @file: 0, or -EPERM in enforce mode.  Called for
 * every exec, executable mapping and module; a miss costs one hash lookup.
 */
static __always_inline int check_file(struct file *file, __u32 op, bool need_no_writer,
				      bool dpath)
{
	struct keel_exec_stats *cnt = stats();
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct keel_exec_trust *t;
	struct keel_exec_key key;
	__u32 reason, mode;

	if (cnt)
		cnt->checks++;
	inode_key(inode, &key);
	t = bpf_map_lookup_elem(&exec_trusted, &key);
	if (!BPF_CORE_READ(inode, i_nlink))
		reason = KEEL_EXEC_R_DELETED;
	else if (!t)
		reason = KEEL_EXEC_R_UNTRUSTED;
	else if (t->flags & KEEL_TRUST_PENDING)
		reason = KEEL_EXEC_R_PENDING;
	else if (!stamp_matches(inode, t))
		reason = KEEL_EXEC_R_CHANGED;
	else if (need_no_writer && BPF_CORE_READ(inode, i_writecount.counter) > 0)
		reason = KEEL_EXEC_R_WRITABLE;
	else
		return 0;

	mode = cur_mode();
	if (mode == KEEL_EXEC_MODE_ENFORCE) {
		if (cnt)
			cnt->denied++;
		emit(op, reason, KEEL_EXEC_D_DENY, &key, dpath ? file : NULL,
		     BPF_CORE_READ(file, f_path.dentry));
		return -EPERM;
	}
	if (cnt)
		cnt->audited++;
	emit(op, reason, KEEL_EXEC_D_AUDIT, &key, dpath ? file : NULL,
	     BPF_CORE_READ(file, f_path.dentry));
	return 0;
}

/* Remove @inode's trust, if it has any, and say so. */
static __always_inline void taint(struct inode *inode, __u32 op, struct file *file,
				  struct dentry *dentry)
{
	struct keel_exec_stats *cnt;
	struct keel_exec_key key;

	if (!inode)
		return;
	inode_key(inode, &key);
	if (!bpf_map_lookup_elem(&exec_trusted, &key))
		return;
	if (bpf_map_delete_elem(&exec_trusted, &key))
		return;		/* someone else removed it first and reported it */
	cnt = stats();
	if (cnt)
		cnt->taints++;
	emit(op, KEEL_EXEC_R_CHANGED, KEEL_EXEC_D_TAINT, &key, file, dentry);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(exec_check, struct linux_binprm *bprm)
{
	struct keel_exec_counters *c;
	struct keel_exec_stats *cnt;
	struct keel_exec_event *ev;
	__u32 zero = 0;

	cnt = stats();
	if (cnt)
		cnt->execs++;
	c = bpf_map_lookup_elem(&exec_counters, &zero);
	if (c)
		c->execs++;
	ev = bpf_ringbuf_reserve(&exec_events, sizeof(*ev), 0);
	if (ev) {
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
	} else if (c) {
		c->dropped++;
	}
	/*
	 * Called once per binary handler pass: for a #! script first with
	 * the script, then with its interpreter; both must be trusted.
	 */
	return check_file(bprm->file, KEEL_EXEC_OP_EXEC, false, true);
}

SEC("lsm/mmap_file")
int BPF_PROG(exec_mmap, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags)
{
	if (!file)
		return 0;	/* anonymous memory */
	if ((prot & PROT_WRITE) && (flags & MAP_SHARED))
		taint(BPF_CORE_READ(file, f_inode), KEEL_EXEC_OP_MMAP_SHARED_WRITE, file, NULL);
	if (!(prot & PROT_EXEC))
		return 0;
	/* A file someone may still write to could change under the mapping. */
	return check_file(file, KEEL_EXEC_OP_MMAP, true, true);
}

SEC("lsm/file_mprotect")
int BPF_PROG(exec_mprotect, struct vm_area_struct *vma, unsigned long reqprot,
	     unsigned long prot)
{
	struct file *file;

	if (!(prot & PROT_EXEC) || (BPF_CORE_READ(vma, vm_flags) & VM_EXEC))
		return 0;
	file = BPF_CORE_READ(vma, vm_file);
	if (!file)
		return 0;
	/* bpf_d_path is not allowed in this hook: the event has the name only */
	return check_file(file, KEEL_EXEC_OP_MPROTECT, true, false);
}

SEC("lsm/kernel_read_file")
int BPF_PROG(exec_kread, struct file *file, enum kernel_read_file_id id, bool contents)
{
	if (id != READING_MODULE)
		return 0;
	return check_file(file, KEEL_EXEC_OP_MODULE, true, true);
}

SEC("lsm/kernel_load_data")
int BPF_PROG(exec_kload, enum kernel_load_data_id id, bool contents)
{
	struct keel_exec_key none = {};
	struct keel_exec_stats *cnt;

	if (id != LOADING_MODULE)
		return 0;
	cnt = stats();
	if (cur_mode() == KEEL_EXEC_MODE_ENFORCE) {
		if (cnt)
			cnt->denied++;
		emit(KEEL_EXEC_OP_MODULE_MEM, KEEL_EXEC_R_NO_FILE, KEEL_EXEC_D_DENY, &none,
		     NULL, NULL);
		return -EPERM;
	}
	if (cnt)
		cnt->audited++;
	emit(KEEL_EXEC_OP_MODULE_MEM, KEEL_EXEC_R_NO_FILE, KEEL_EXEC_D_AUDIT, &none, NULL,
	     NULL);
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(exec_open, struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct keel_exec_state *st = state();
	__u64 id = bpf_get_current_pid_tgid();

	/* keeld learns what it opened: see agent/exec/ident.c */
	if (st && st->keeld_tgid && st->keeld_tgid == (__u32)(id >> 32)) {
		struct keel_exec_ident ident = {};
		__u32 tid = (__u32)id;

		inode_key(inode, &ident.key);
		inode_ctime(inode, &ident.ctime_sec, &ident.ctime_nsec);
		ident.i_version = inode_version(inode);
		ident.writecount = BPF_CORE_READ(inode, i_writecount.counter);
		ident.nlink = BPF_CORE_READ(inode, i_nlink);
		ident.mode = BPF_CORE_READ(inode, i_mode);
		bpf_map_update_elem(&exec_ident, &tid, &ident, BPF_ANY);
	}
	if (BPF_CORE_READ(file, f_mode) & FMODE_WRITE)
		taint(inode, KEEL_EXEC_OP_OPEN_WRITE, file, NULL);
	return 0;
}

SEC("lsm/inode_setattr")
int BPF_PROG(exec_setattr, void *arg0, void *arg1)
{
	/* 6.3 put a struct mnt_idmap * in front of the dentry */
	struct dentry *dentry = bpf_core_type_exists(struct mnt_idmap) ? arg1 : arg0;

	taint(BPF_CORE_READ(dentry, d_inode), KEEL_EXEC_OP_SETATTR, NULL, dentry);
	return 0;
}

SEC("lsm/inode_setxattr")
int BPF_PROG(exec_setxattr, void *ns, struct dentry *dentry)
{
	taint(BPF_CORE_READ(dentry, d_inode), KEEL_EXEC_OP_XATTR, NULL, dentry);
	return 0;
}

SEC("lsm/inode_removexattr")
int BPF_PROG(exec_rmxattr, void *ns, struct dentry *dentry)
{
	taint(BPF_CORE_READ(dentry, d_inode), KEEL_EXEC_OP_XATTR, NULL, dentry);
	return 0;
}

SEC("lsm/inode_link")
int BPF_PROG(exec_link, struct dentry *old_dentry, struct inode *dir, struct dentry *new_dentry)
{
	taint(BPF_CORE_READ(old_dentry, d_inode), KEEL_EXEC_OP_LINK, NULL, old_dentry);
	return 0;
}

SEC("lsm/inode_rename")
int BPF_PROG(exec_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry)
{
	taint(BPF_CORE_READ(old_dentry, d_inode), KEEL_EXEC_OP_RENAME, NULL, old_dentry);
	/* the file a rename replaces (or swaps with) changes too */
	taint(BPF_CORE_READ(new_dentry, d_inode), KEEL_EXEC_OP_RENAME, NULL, new_dentry);
	return 0;
}

SEC("lsm/inode_unlink")
int BPF_PROG(exec_unlink, struct inode *dir, struct dentry *dentry)
{
	taint(BPF_CORE_READ(dentry, d_inode), KEEL_EXEC_OP_UNLINK, NULL, dentry);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
