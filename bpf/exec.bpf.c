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
 *    a module (finit_module), a kexec kernel or firmware, and
 *    kernel_load_data (init_module, kexec_load: no file);
 *  - taint: file_open for writing (which every later write needs: write,
 *    io_uring, copy_file_range, splice, sendfile, fallocate, ftruncate,
 *    shared writable mappings), inode_setattr (chmod, chown, utimes,
 *    truncate), setxattr/removexattr (vfs_setxattr, vfs_removexattr), file
 *    flags (vfs_fileattr_set), link, rename and unlink.  A metadata change is checked for permission by
 *    the kernel only after its LSM hook: once it is known to be allowed
 *    (setattr_prepare returned 0, or the caller passes the checks the
 *    xattr and file flag paths will make) the file is marked CHANGING
 *    (refused meanwhile) and the fexit of the VFS call taints it only if
 *    the change was made, so a chmod that fails removes nobody's trust
 *    and makes nobody's exec fail.
 *
 * keeld fills exec_trusted; an entry is keyed by inode identity and holds
 * the change stamp recorded when the file was trusted (see keel/exec.h).
 *
 * Approved installers (exec_installer task storage: a configured
 * installer's exec, or `keelctl run-installer`, and every task forked
 * from one) are trusted writers: what they write is tracked in
 * exec_installing instead of tainted, and trusted here, in the kernel,
 * when the last installer file open for writing on it is released;
 * keeld then hashes and records it.  Their renames and metadata changes
 * carry the trust along (the stamp is taken again after the change).
 */
#include "keel.bpf.h"
#include "keel/exec.h"
#include "exec.bpf.h"

#define EPERM	      1
#define E2BIG	      7
#define PROT_WRITE    0x2
#define PROT_EXEC     0x4
#define MAP_SHARED    0x1 /* MAP_SHARED_VALIDATE (0x3) has it too */
#define VM_EXEC	      0x4
#define FMODE_WRITE   0x2
#define ATTR_SIZE     (1 << 3)
#define S_IFMT	      00170000
#define S_IFREG	      0100000
#define CAP_SYS_ADMIN 21
#define CAP_SETFCAP   31

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

/* 1 MiB: a package's worth of installer records between two reads */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} exec_events SEC(".maps");

/* Installer process trees: freed with each task, so exits need no clean-up. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct keel_exec_installer);
} exec_installer SEC(".maps");

/* [exec] installers, by the inode keeld found at each path: their execs start an installer tree. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEEL_EXEC_MAX_INSTALLERS);
	__type(key, struct keel_exec_key);
	__type(value, __u32);
} exec_installer_inodes SEC(".maps");

/* Files installers have open for writing.  Sized by keeld ([exec] max_installing). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct keel_exec_key);
	__type(value, struct keel_exec_installing);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} exec_installing SEC(".maps");

/* Room for building paths and values larger than the stack allows. */
#define WALK_MAX 16 /* directory levels a rename record names */

struct exec_scratch {
	struct keel_exec_installing inst;
	char buf[2 * KEEL_PATH_LEN];
	struct dentry *chain[WALK_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_exec_stats);
} exec_stats SEC(".maps");

/*
 * [exec] unstable_fs less allow_unstable_fs, filled by keeld: file systems
 * whose content can change without keel seeing it (an image file or a
 * server supplies it: squashfs, iso9660, FUSE, 9p, NFS...).  Nothing on
 * them runs in enforce mode, trusted or not.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEEL_EXEC_MAX_FS_TYPES);
	__type(key, struct keel_exec_fs_name);
	__type(value, __u32);
} exec_unstable_fs SEC(".maps");

static __always_inline void fs_type_of(struct inode *inode, struct keel_exec_fs_name *ret)
{
	__builtin_memset(ret, 0, sizeof(*ret));
	bpf_probe_read_kernel_str(ret->name, sizeof(ret->name),
				  BPF_CORE_READ(inode, i_sb, s_type, name));
}

static __always_inline bool fs_unstable(struct inode *inode)
{
	struct keel_exec_fs_name name;

	fs_type_of(inode, &name);
	return bpf_map_lookup_elem(&exec_unstable_fs, &name);
}

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
static __always_inline int check_file(struct file *file, __u32 op, bool need_no_writer, bool dpath)
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
	else if ((t->flags & KEEL_TRUST_CHANGING) || !stamp_matches(inode, t))
		reason = KEEL_EXEC_R_CHANGED;
	else if (need_no_writer && BPF_CORE_READ(inode, i_writecount.counter) > 0)
		reason = KEEL_EXEC_R_WRITABLE;
	else if (fs_unstable(inode))
		reason = KEEL_EXEC_R_UNSTABLE_FS;
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
	/* a file an installer is still writing will not be trusted either */
	if (bpf_map_lookup_elem(&exec_installing, &key) &&
	    !bpf_map_delete_elem(&exec_installing, &key))
		goto report;
	if (!bpf_map_lookup_elem(&exec_trusted, &key))
		return;
	if (bpf_map_delete_elem(&exec_trusted, &key))
		return; /* someone else removed it first and reported it */
report:
	cnt = stats();
	if (cnt)
		cnt->taints++;
	emit(op, KEEL_EXEC_R_CHANGED, KEEL_EXEC_D_TAINT, &key, file, dentry);
}

/*
 * A metadata change to @inode is about to be made.  Refuse the file while
 * it is under way; change_end() taints it if the change was made, or
 * restores it.  Callers mark only a change the caller is allowed to make:
 * the kernel checks that right (owner, CAP_FOWNER, CAP_SYS_ADMIN for
 * security.*) after the LSM hooks, and a mark for a refused change would
 * let any user make any file (libc) fail at random for everybody with a
 * loop of chmods that fail.
 */
static __always_inline void change_begin(struct inode *inode)
{
	struct keel_exec_trust *t;
	struct keel_exec_key key;

	if (!inode)
		return;
	inode_key(inode, &key);
	t = bpf_map_lookup_elem(&exec_trusted, &key);
	if (t)
		t->flags |= KEEL_TRUST_CHANGING;
}

/*
 * The VFS call that change_begin() saw returned @ret.  Made: taint.  Failed:
 * clear the mark, unless the stamp moved meanwhile (another change, made
 * concurrently, whose own end taints it; or a partial change: refused on).
 */
static __always_inline void change_end(struct dentry *dentry, int ret, __u32 op)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);
	struct keel_exec_trust *t;
	struct keel_exec_key key;

	if (!inode)
		return;
	if (!ret) {
		taint(inode, op, NULL, dentry);
		return;
	}
	inode_key(inode, &key);
	t = bpf_map_lookup_elem(&exec_trusted, &key);
	if (t && (t->flags & KEEL_TRUST_CHANGING) && stamp_matches(inode, t))
		t->flags &= ~KEEL_TRUST_CHANGING;
}

/* ---- approved installers ---------------------------------------------- */

static __always_inline struct exec_scratch *scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&exec_scratch, &zero);
}

static __always_inline struct keel_exec_installer *installer_of(struct task_struct *task)
{
	return bpf_task_storage_get(&exec_installer, task, 0, 0);
}

/* Is the current task part of an approved installer's process tree? */
static __always_inline bool cur_installer(void)
{
	struct keel_exec_installer *in = installer_of(bpf_get_current_task_btf());

	return in && (in->flags & KEEL_INST_ACTIVE);
}

static __always_inline void install_event(__u32 kind, __u32 reason, __u32 root,
					  const struct keel_exec_key *key,
					  const struct keel_exec_trust *t, const char *path)
{
	struct keel_exec_stats *cnt = stats();
	struct keel_exec_install *ev;

	ev = bpf_ringbuf_reserve(&exec_events, sizeof(*ev), 0);
	if (!ev) {
		if (cnt)
			cnt->dropped++;
		return;
	}
	ev->hdr.type = KEEL_EV_EXEC_INSTALL;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.time_ns = bpf_ktime_get_boot_ns();
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	ev->ppid = BPF_CORE_READ(bpf_get_current_task_btf(), real_parent, tgid);
	ev->root_tgid = root;
	ev->kind = kind;
	ev->reason = reason;
	ev->key = *key;
	ev->ctime_sec = t ? t->ctime_sec : 0;
	ev->ctime_nsec = t ? t->ctime_nsec : 0;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->i_version = t ? t->i_version : 0;
	ev->nonce = t ? t->id : 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->path[0] = 0;
	ev->old_path[0] = 0;
	if (path)
		bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), path);
	bpf_ringbuf_submit(ev, 0);
}

/*
 * An installer opened @file for writing: its old trust (if any) ends now,
 * without a taint, and the file is tracked until its last installer
 * writer is gone.  Only regular files are tracked.
 */
static __always_inline void install_open(struct file *file, struct inode *inode)
{
	struct keel_exec_installing *cur;
	struct keel_exec_installer *in;
	struct keel_exec_stats *cnt;
	struct keel_exec_key key;
	struct exec_scratch *sc;

	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFREG)
		return;
	inode_key(inode, &key);
	bpf_map_delete_elem(&exec_trusted, &key);
	cur = bpf_map_lookup_elem(&exec_installing, &key);
	if (cur) {
		__sync_fetch_and_add(&cur->writers, 1);
		return;
	}
	in = installer_of(bpf_get_current_task_btf());
	sc = scratch();
	if (!in || !sc)
		return;
	/* a writer from outside the tree (this open is counted too) */
	if (BPF_CORE_READ(inode, i_writecount.counter) > 1) {
		install_event(KEEL_EXEC_I_REFUSED, KEEL_EXEC_IR_OTHER_WRITER, in->root_tgid, &key,
			      NULL, NULL);
		return;
	}
	sc->inst.writers = 1;
	sc->inst.root_tgid = in->root_tgid;
	if (bpf_d_path((struct path *)&file->f_path, sc->inst.path, sizeof(sc->inst.path)) < 0)
		sc->inst.path[0] = 0;
	if (!bpf_map_update_elem(&exec_installing, &key, &sc->inst, BPF_NOEXIST))
		return;
	cur = bpf_map_lookup_elem(&exec_installing, &key);
	if (cur) { /* another installer task opened it meanwhile */
		__sync_fetch_and_add(&cur->writers, 1);
		return;
	}
	cnt = stats();
	if (cnt)
		cnt->install_refused++;
	install_event(KEEL_EXEC_I_REFUSED, KEEL_EXEC_IR_TRACK_FULL, in->root_tgid, &key, NULL,
		      sc->inst.path);
}

/*
 * The last installer writer of a tracked file is gone: trust it with its
 * stamp now, and tell keeld, which hashes and records it.  Never trusted
 * when keeld cannot be told, when a non-installer also writes to it, or
 * when it has no name left.
 */
static __always_inline void install_close(struct inode *inode, struct keel_exec_key *key)
{
	struct keel_exec_stats *cnt = stats();
	struct keel_exec_installing *cur;
	struct keel_exec_install *ev;
	struct keel_exec_trust t = {};
	struct exec_scratch *sc;
	__u32 root, reason;

	cur = bpf_map_lookup_elem(&exec_installing, key);
	sc = scratch();
	if (!cur || !sc)
		return;
	root = cur->root_tgid;
	bpf_probe_read_kernel_str(sc->inst.path, sizeof(sc->inst.path), cur->path);
	if (bpf_map_delete_elem(&exec_installing, key))
		return; /* a concurrent close or a taint got there first */
	if (!BPF_CORE_READ(inode, i_nlink))
		return; /* a temporary file, deleted: nothing to trust */
	if (BPF_CORE_READ(inode, i_writecount.counter) > 0) {
		reason = KEEL_EXEC_IR_OTHER_WRITER;
		goto refuse;
	}
	ev = bpf_ringbuf_reserve(&exec_events, sizeof(*ev), 0);
	if (!ev) {
		if (cnt)
			cnt->dropped++;
		reason = KEEL_EXEC_IR_NO_EVENT;
		goto refuse; /* counted; the exec.dropped event reports it */
	}
	inode_ctime(inode, &t.ctime_sec, &t.ctime_nsec);
	t.i_version = inode_version(inode);
	t.flags = KEEL_TRUST_INSTALLED;
	t.id = bpf_ktime_get_ns() | (1ULL << 63);
	ev->hdr.type = KEEL_EV_EXEC_INSTALL;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.time_ns = bpf_ktime_get_boot_ns();
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	ev->ppid = BPF_CORE_READ(bpf_get_current_task_btf(), real_parent, tgid);
	ev->root_tgid = root;
	ev->kind = KEEL_EXEC_I_CLOSED;
	ev->reason = KEEL_EXEC_IR_NONE;
	ev->key = *key;
	ev->ctime_sec = t.ctime_sec;
	ev->ctime_nsec = t.ctime_nsec;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->i_version = t.i_version;
	ev->nonce = t.id;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), sc->inst.path);
	ev->old_path[0] = 0;
	if (bpf_map_update_elem(&exec_trusted, key, &t, BPF_ANY)) {
		ev->kind = KEEL_EXEC_I_REFUSED;
		ev->reason = KEEL_EXEC_IR_TRUST_FULL;
		if (cnt)
			cnt->install_refused++;
	} else if (cnt) {
		cnt->installed++;
	}
	bpf_ringbuf_submit(ev, 0);
	return;
refuse:
	if (cnt)
		cnt->install_refused++;
	install_event(KEEL_EXEC_I_REFUSED, reason, root, key, NULL, sc->inst.path);
}

/*
 * Write @dentry's path from its file system's root into @out (at most
 * KEEL_PATH_LEN bytes, NUL included).  Only bpf_d_path knows the mount
 * point, and inode_rename may not call it; keeld puts the two together.
 * Returns false when the path is deeper or longer than a record holds.
 */
static __always_inline bool walk_path(struct exec_scratch *sc, struct dentry *dentry, char *out)
{
	struct dentry *d = dentry, *parent;
	__u32 n = 0, off = 0;
	long r;

	for (int i = 0; i < WALK_MAX; i++) {
		parent = BPF_CORE_READ(d, d_parent);
		if (parent == d)
			break;
		sc->chain[i] = d;
		n = i + 1;
		d = parent;
	}
	if (BPF_CORE_READ(d, d_parent) != d)
		return false; /* deeper than WALK_MAX */
	for (int i = 0; i < WALK_MAX; i++) {
		if (i >= n)
			break;
		__u64 at = off, name_at = off + 1;

		if (off >= KEEL_PATH_LEN - 1)
			return false;
		/* masks the verifier sees: clang would fold them into the offset */
		asm volatile("%0 &= 255" : "+r"(at));
		asm volatile("%0 &= 255" : "+r"(name_at));
		sc->buf[at] = '/';
		d = sc->chain[(n - 1 - i) & (WALK_MAX - 1)];
		r = bpf_probe_read_kernel_str(&sc->buf[name_at], KEEL_PATH_LEN,
					      BPF_CORE_READ(d, d_name.name));
		if (r <= 0)
			return false;
		off += r;
	}
	if (off >= KEEL_PATH_LEN)
		return false;
	if (!n)
		sc->buf[0] = 0;
	bpf_probe_read_kernel_str(out, KEEL_PATH_LEN, sc->buf);
	return true;
}

/* An installer renames a file it is writing or that is trusted: tell keeld. */
static __always_inline void install_rename(struct dentry *old_dentry, struct dentry *new_dentry)
{
	struct inode *inode = BPF_CORE_READ(old_dentry, d_inode);
	struct keel_exec_stats *cnt = stats();
	struct keel_exec_install *ev;
	struct keel_exec_trust *t = NULL;
	struct keel_exec_key key;
	struct exec_scratch *sc;

	if (!inode)
		return;
	inode_key(inode, &key);
	if (!bpf_map_lookup_elem(&exec_installing, &key)) {
		t = bpf_map_lookup_elem(&exec_trusted, &key);
		if (!t)
			return;
	}
	sc = scratch();
	if (!sc)
		return;
	ev = bpf_ringbuf_reserve(&exec_events, sizeof(*ev), 0);
	if (!ev) {
		if (cnt)
			cnt->dropped++;
		return;
	}
	ev->hdr.type = KEEL_EV_EXEC_INSTALL;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.time_ns = bpf_ktime_get_boot_ns();
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	ev->ppid = BPF_CORE_READ(bpf_get_current_task_btf(), real_parent, tgid);
	ev->root_tgid = 0;
	ev->kind = KEEL_EXEC_I_RENAMED;
	ev->reason = KEEL_EXEC_IR_NONE;
	ev->key = key;
	ev->ctime_sec = t ? t->ctime_sec : 0;
	ev->ctime_nsec = t ? t->ctime_nsec : 0;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->i_version = t ? t->i_version : 0;
	ev->nonce = t ? t->id : 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	if (!walk_path(sc, new_dentry, ev->path) || !walk_path(sc, old_dentry, ev->old_path))
		ev->path[0] = ev->old_path[0] = 0; /* keeld cannot follow: fails closed */
	bpf_ringbuf_submit(ev, 0);
}

/*
 * After an installer's rename, link, chmod, chown, utimes or xattr change
 * of a file it trusts (or that is trusted anyway): the same content, a new
 * ctime.  Take the stamp again, so the trust carries over.
 */
static __always_inline void install_restamp(struct dentry *dentry)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);
	struct keel_exec_trust *t;
	struct keel_exec_key key;

	if (!inode || !cur_installer())
		return;
	inode_key(inode, &key);
	t = bpf_map_lookup_elem(&exec_trusted, &key);
	if (!t || (t->flags & (KEEL_TRUST_PENDING | KEEL_TRUST_CHANGING)))
		return;
	inode_ctime(inode, &t->ctime_sec, &t->ctime_nsec);
	t->i_version = inode_version(inode);
	install_event(KEEL_EXEC_I_RESTAMP, KEEL_EXEC_IR_NONE, 0, &key, t, NULL);
}

/*
 * A trusted file exec'd under one of the [exec] installers paths: the task
 * becomes an installer once the exec cannot fail any more (committed_creds).
 */
static __always_inline void note_installer_exec(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct keel_exec_installer *in;
	struct keel_exec_trust *t;
	struct keel_exec_key key;

	in = installer_of(bpf_get_current_task_btf());
	if (in && (in->flags & KEEL_INST_ACTIVE))
		return; /* already one: an installer's exec keeps its mark */
	inode_key(inode, &key);
	t = bpf_map_lookup_elem(&exec_trusted, &key);
	if (!t || (t->flags & (KEEL_TRUST_PENDING | KEEL_TRUST_CHANGING)) ||
	    !stamp_matches(inode, t))
		return; /* only a trusted installer is one */
	/* the file, not its path: a bind mount or a chroot can put another there */
	if (!bpf_map_lookup_elem(&exec_installer_inodes, &key))
		return;
	in = bpf_task_storage_get(&exec_installer, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!in)
		return;
	in->root_tgid = 0;
	in->flags |= KEEL_INST_EXEC_PENDING;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(exec_check, struct linux_binprm *bprm)
{
	struct keel_exec_stats *cnt = stats();
	struct keel_exec_event *ev;

	if (cnt)
		cnt->execs++;
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
	} else if (cnt) {
		cnt->dropped++; /* keeld reports it: exec.dropped */
	}
	/*
	 * Called once per binary handler pass: for a #! script first with
	 * the script, then with its interpreter; both must be trusted.
	 */
	if (check_file(bprm->file, KEEL_EXEC_OP_EXEC, false, true))
		return -EPERM;
	note_installer_exec(bprm->file);
	return 0;
}

/* Each execve starts with no installer exec pending. */
SEC("lsm/bprm_creds_for_exec")
int BPF_PROG(exec_creds_for_exec, struct linux_binprm *bprm)
{
	struct keel_exec_installer *in = installer_of(bpf_get_current_task_btf());

	if (in)
		in->flags &= ~KEEL_INST_EXEC_PENDING;
	return 0;
}

/*
 * Root of the initial user namespace, with the credentials the exec just
 * committed.  Anybody may run dpkg (`dpkg -x pkg.deb ~/d` needs no
 * privilege), and root of a user namespace anybody can create
 * (`unshare -r`) is nobody: only a caller who could install into the
 * system anyway makes an installer.
 */
static __always_inline bool cur_init_root(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = BPF_CORE_READ(task, cred);

	return BPF_CORE_READ(cred, euid.val) == 0 && BPF_CORE_READ(cred, user_ns, level) == 0;
}

/* Past the point of no return: a pending installer exec makes an installer. */
SEC("lsm/bprm_committed_creds")
int BPF_PROG(exec_committed, struct linux_binprm *bprm)
{
	struct keel_exec_installer *in = installer_of(bpf_get_current_task_btf());
	struct keel_exec_key none = {};

	if (!in || !(in->flags & KEEL_INST_EXEC_PENDING))
		return 0;
	if (!cur_init_root()) {
		in->flags &= ~KEEL_INST_EXEC_PENDING;
		install_event(KEEL_EXEC_I_REFUSED, KEEL_EXEC_IR_NOT_ROOT, 0, &none, NULL, NULL);
		return 0;
	}
	in->flags = KEEL_INST_ACTIVE;
	if (!in->root_tgid)
		in->root_tgid = bpf_get_current_pid_tgid() >> 32;
	install_event(KEEL_EXEC_I_START, KEEL_EXEC_IR_NONE, in->root_tgid, &none, NULL, NULL);
	return 0;
}

/* ---- an installer that becomes another user ------------------------- */

/* Can a task with @cred be root of the initial namespace again (some uid 0)? */
static __always_inline bool cred_can_be_root(const struct cred *cred)
{
	if (BPF_CORE_READ(cred, user_ns, level))
		return false;
	return !BPF_CORE_READ(cred, uid.val) || !BPF_CORE_READ(cred, euid.val) ||
	       !BPF_CORE_READ(cred, suid.val);
}

/*
 * The current task is an installer about to take @cred, which cannot be
 * root again (a maintainer script's `su - user`, `runuser`, `setpriv`):
 * what it writes from now on is that user's, not the package's.  It and
 * the processes it forks are installers no more.  Dropped on the attempt:
 * if the kernel then refuses the change, the task only lost the mark.
 */
static __always_inline void installer_user_change(const struct cred *cred)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct keel_exec_installer *in = installer_of(task);
	struct keel_exec_key none = {};
	__u32 root;

	if (!in || !(in->flags & KEEL_INST_ACTIVE) || cred_can_be_root(cred))
		return;
	root = in->root_tgid;
	if (bpf_task_storage_delete(&exec_installer, task))
		return;
	install_event(KEEL_EXEC_I_REFUSED, KEEL_EXEC_IR_USER_CHANGED, root, &none, NULL, NULL);
}

/* setuid, setreuid, setresuid, setfsuid: one call per thread (glibc's setxid) */
SEC("lsm/task_fix_setuid")
int BPF_PROG(exec_installer_setuid, struct cred *new, const struct cred *old, int flags)
{
	installer_user_change(new);
	return 0;
}

/* the exec of a set-user-ID program owned by another user */
SEC("lsm/bprm_committed_creds")
int BPF_PROG(exec_installer_setuid_exec, struct linux_binprm *bprm)
{
	installer_user_change(BPF_CORE_READ(bpf_get_current_task_btf(), cred));
	return 0;
}

/* Descendants of an installer are installers: threads and processes alike. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(exec_fork, struct task_struct *parent, struct task_struct *child)
{
	struct keel_exec_installer *in, *out;

	in = bpf_task_storage_get(&exec_installer, parent, 0, 0);
	if (!in || !(in->flags & KEEL_INST_ACTIVE))
		return 0;
	out = bpf_task_storage_get(&exec_installer, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (out) {
		out->root_tgid = in->root_tgid;
		out->flags = KEEL_INST_ACTIVE;
	}
	/* else the child is not an installer: what it writes stays untrusted */
	return 0;
}

/*
 * A shared writable mapping writes to the file only if the file was
 * opened for writing: do_mmap refuses it (EACCES) otherwise, but only
 * after this hook.  Tainting on the attempt would let anyone who can read
 * a trusted file (libc) remove its trust with an mmap that fails.
 */
static __always_inline bool shared_write_can_happen(struct file *file, unsigned long prot,
						    unsigned long flags)
{
	if (!(prot & PROT_WRITE) || !(flags & MAP_SHARED))
		return false;
	return BPF_CORE_READ(file, f_mode) & FMODE_WRITE;
}

SEC("lsm/mmap_file")
int BPF_PROG(exec_mmap, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags)
{
	if (!file)
		return 0; /* anonymous memory */
	if (shared_write_can_happen(file, prot, flags) && !cur_installer())
		taint(BPF_CORE_READ(file, f_inode), KEEL_EXEC_OP_MMAP_SHARED_WRITE, file, NULL);
	if (!(prot & PROT_EXEC))
		return 0;
	/* A file someone may still write to could change under the mapping. */
	return check_file(file, KEEL_EXEC_OP_MMAP, true, true);
}

SEC("lsm/file_mprotect")
int BPF_PROG(exec_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot)
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

static __always_inline __u32 state_flags(void)
{
	struct keel_exec_state *st = state();

	return st ? st->flags : 0;
}

/*
 * Code the kernel itself reads from a file: a module (finit_module), the
 * kernel and initramfs kexec_file_load boots into, and firmware, which a
 * device runs with access to memory (unless [exec] check_firmware is off).
 */
SEC("lsm/kernel_read_file")
int BPF_PROG(exec_kread, struct file *file, enum kernel_read_file_id id, bool contents)
{
	if (id == READING_MODULE)
		return check_file(file, KEEL_EXEC_OP_MODULE, true, true);
	if (id == READING_KEXEC_IMAGE || id == READING_KEXEC_INITRAMFS)
		return check_file(file, KEEL_EXEC_OP_KEXEC, true, true);
	if (id == READING_FIRMWARE && !(state_flags() & KEEL_EXEC_F_ANY_FIRMWARE))
		return check_file(file, KEEL_EXEC_OP_FIRMWARE, true, true);
	return 0;
}

/*
 * Code from memory, with no file to check: init_module, kexec_load
 * (unless [exec] allow_kexec_load), firmware written through the sysfs
 * fallback (unless [exec] check_firmware is off).  Refused in enforce.
 */
SEC("lsm/kernel_load_data")
int BPF_PROG(exec_kload, enum kernel_load_data_id id, bool contents)
{
	struct keel_exec_key none = {};
	struct keel_exec_stats *cnt;
	__u32 op, flags = state_flags();

	if (id == LOADING_MODULE)
		op = KEEL_EXEC_OP_MODULE_MEM;
	else if (id == LOADING_KEXEC_IMAGE && !(flags & KEEL_EXEC_F_ALLOW_KEXEC_LOAD))
		op = KEEL_EXEC_OP_KEXEC_MEM;
	else if (id == LOADING_FIRMWARE && !(flags & KEEL_EXEC_F_ANY_FIRMWARE))
		op = KEEL_EXEC_OP_FIRMWARE_MEM;
	else
		return 0;
	cnt = stats();
	if (cur_mode() == KEEL_EXEC_MODE_ENFORCE) {
		if (cnt)
			cnt->denied++;
		emit(op, KEEL_EXEC_R_NO_FILE, KEEL_EXEC_D_DENY, &none, NULL, NULL);
		return -EPERM;
	}
	if (cnt)
		cnt->audited++;
	emit(op, KEEL_EXEC_R_NO_FILE, KEEL_EXEC_D_AUDIT, &none, NULL, NULL);
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
		struct super_block *sb;
		__u32 tid = (__u32)id;

		inode_key(inode, &ident.key);
		inode_ctime(inode, &ident.ctime_sec, &ident.ctime_nsec);
		ident.i_version = inode_version(inode);
		ident.writecount = BPF_CORE_READ(inode, i_writecount.counter);
		ident.nlink = BPF_CORE_READ(inode, i_nlink);
		ident.mode = BPF_CORE_READ(inode, i_mode);
		fs_type_of(inode, &ident.fs_type);
		sb = BPF_CORE_READ(inode, i_sb);
		bpf_core_read(ident.fs_uuid, sizeof(ident.fs_uuid), &sb->s_uuid);
		bpf_map_update_elem(&exec_ident, &tid, &ident, BPF_ANY);
	}
	if (!(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return 0;
	if (cur_installer())
		install_open(file, inode);
	else
		taint(inode, KEEL_EXEC_OP_OPEN_WRITE, file, NULL);
	return 0;
}

/* The last reference to a struct file: its installer writer, if any, is gone. */
SEC("lsm/file_free_security")
int BPF_PROG(exec_file_free, struct file *file)
{
	struct inode *inode;
	struct keel_exec_installing *cur;
	struct keel_exec_key key;

	if (!(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode)
		return 0;
	inode_key(inode, &key);
	cur = bpf_map_lookup_elem(&exec_installing, &key);
	if (!cur)
		return 0;
	__sync_fetch_and_add(&cur->writers, -1);
	if (cur->writers <= 0)
		install_close(inode, &key);
	return 0;
}

SEC("lsm/inode_setattr")
int BPF_PROG(exec_setattr, void *arg0, void *arg1, void *arg2)
{
	/* 6.3 put a struct mnt_idmap * in front of the dentry */
	struct dentry *dentry = bpf_core_type_exists(struct mnt_idmap) ? arg1 : arg0;
	struct iattr *attr = bpf_core_type_exists(struct mnt_idmap) ? arg2 : arg1;
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);

	if (cur_installer()) {
		struct keel_exec_key key;

		/* metadata: the stamp is taken again afterwards (exec_notify_change) */
		if (!(BPF_CORE_READ(attr, ia_valid) & ATTR_SIZE))
			return 0;
		/* a size change while it writes the file: trusted when closed */
		inode_key(inode, &key);
		if (bpf_map_lookup_elem(&exec_installing, &key))
			return 0;
		/* truncate(2) was allowed already (MAY_WRITE, before this hook) */
		taint(inode, KEEL_EXEC_OP_SETATTR, NULL, dentry);
		return 0;
	}
	/*
	 * Not marked here: the owner and capability checks come later, in
	 * the file system's setattr_prepare (exec_setattr_allowed marks it
	 * once they passed; exec_notify_change taints it if it is made).
	 */
	return 0;
}

SEC("lsm/inode_link")
int BPF_PROG(exec_link, struct dentry *old_dentry, struct inode *dir, struct dentry *new_dentry)
{
	if (cur_installer())
		return 0; /* a package's hard links: see exec_vfs_link */
	taint(BPF_CORE_READ(old_dentry, d_inode), KEEL_EXEC_OP_LINK, NULL, old_dentry);
	return 0;
}

SEC("lsm/inode_rename")
int BPF_PROG(exec_rename, struct inode *old_dir, struct dentry *old_dentry, struct inode *new_dir,
	     struct dentry *new_dentry)
{
	/* an installer's rename (FILE.dpkg-new to FILE) keeps the trust */
	if (cur_installer())
		install_rename(old_dentry, new_dentry);
	else
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

/*
 * After the change: 6.1 to 6.2 pass a user_namespace, 6.3 on a mnt_idmap,
 * first.  An installer's change is restamped; anybody else's taints if it
 * was made (see change_begin).
 */
SEC("fexit/notify_change")
int BPF_PROG(exec_notify_change, void *idmap, struct dentry *dentry, struct iattr *attr,
	     struct inode **delegated, int ret)
{
	if (cur_installer())
		install_restamp(dentry);
	else
		change_end(dentry, ret, KEEL_EXEC_OP_SETATTR);
	return 0;
}

SEC("fexit/vfs_rename")
int BPF_PROG(exec_vfs_rename, struct renamedata *rd)
{
	install_restamp(BPF_CORE_READ(rd, old_dentry));
	return 0;
}

SEC("fexit/vfs_link")
int BPF_PROG(exec_vfs_link, struct dentry *old_dentry)
{
	install_restamp(old_dentry);
	return 0;
}

/*
 * Does the current task have @cap in its effective set, in the initial
 * user namespace or (@sb given) in @sb's?  kernel_cap_t is __u32[2] up to
 * 6.2 and a u64 from 6.3: either way the first 8 bytes, little-endian.  A
 * nested namespace that only owns @sb's through an ancestor is refused.
 */
static __always_inline bool cur_capable(int cap, struct super_block *sb)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = BPF_CORE_READ(task, cred);
	struct user_namespace *ns = BPF_CORE_READ(cred, user_ns);
	__u64 eff = 0;

	bpf_core_read(&eff, sizeof(eff), &cred->cap_effective);
	if (!(eff & (1ULL << cap)))
		return false;
	return !sb || BPF_CORE_READ(ns, level) == 0 || ns == BPF_CORE_READ(sb, s_user_ns);
}

/*
 * The capability check of a security.* attribute change, which Debian's
 * 6.1 kernel skips: its security_inode_setxattr and _removexattr run
 * cap_inode_setxattr and cap_inode_removexattr only when the LSM hooks
 * return 1, and the BPF LSM's own empty hooks return 0 (fixed upstream by
 * "lsm: fixup the inode xattr capability handling").  Without it any user
 * sets any security.* attribute, or strips security.capability, of any
 * file it can open: root's programs, trusted or not.  Refuse what the
 * capability module would: security.* without CAP_SYS_ADMIN (in the
 * file system's namespace), removing security.capability without
 * CAP_SETFCAP; setting it is checked by the kernel (cap_convert_nscap).
 */
static __always_inline int xattr_capable(struct dentry *dentry, const char *name, bool remove)
{
	const char caps[] = "security.capability"; /* on the stack: no .rodata in BTF */
	char buf[sizeof(caps) + 1] = {};
	bool is_caps = true;

	if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) < 0)
		return 0;
	for (int i = 0; i < sizeof(caps); i++) {
		if (i < 9 && buf[i] != caps[i])
			return 0; /* not security.* */
		if (buf[i] != caps[i])
			is_caps = false;
	}
	if (is_caps)
		return !remove || cur_capable(CAP_SETFCAP, NULL) ? 0 : -EPERM;
	return cur_capable(CAP_SYS_ADMIN, BPF_CORE_READ(dentry, d_sb)) ? 0 : -EPERM;
}

SEC("lsm/inode_setxattr")
int BPF_PROG(exec_setxattr_cap, void *idmap, struct dentry *dentry, const char *name)
{
	return xattr_capable(dentry, name, false);
}

SEC("lsm/inode_removexattr")
int BPF_PROG(exec_rmxattr_cap, void *idmap, struct dentry *dentry, const char *name)
{
	return xattr_capable(dentry, name, true);
}

/* ---- a change the caller may not make leaves the file alone ---------- */

/*
 * chmod, chown, utimes with explicit times: setattr_prepare, called by the
 * file system's setattr, is where the kernel checks the owner, CAP_CHOWN
 * and CAP_FOWNER (in the mount's idmapping), after the LSM hook.  It
 * returned 0: the change is allowed and about to be made; refuse the file
 * until exec_notify_change knows whether it was.  A file system whose
 * setattr does not call it (the server decides: NFS, FUSE without
 * default_permissions) gets no mark, only the taint once the change is
 * made.
 */
SEC("fexit/setattr_prepare")
int BPF_PROG(exec_setattr_allowed, void *idmap, struct dentry *dentry, struct iattr *attr, int ret)
{
	if (!ret && !cur_installer())
		change_begin(BPF_CORE_READ(dentry, d_inode));
	return 0;
}

#define S_APPEND	 4 /* inode->i_flags */
#define S_IMMUTABLE	 8
#define CAP_DAC_OVERRIDE 1
#define CAP_FOWNER	 3

/* 6.3 on: the idmapping of a mount that has none (absent before: weak) */
extern const void nop_mnt_idmap __ksym __weak;

/*
 * Is @idmap (vfs_setxattr's and vfs_fileattr_set's first argument) the
 * identity: a user_namespace up to 6.2, where only init_user_ns has level
 * 0; a struct mnt_idmap from 6.3.  Owners are compared only then.
 */
static __always_inline bool idmap_is_identity(void *idmap)
{
	if (bpf_core_type_exists(struct mnt_idmap))
		return idmap == &nop_mnt_idmap;
	return BPF_CORE_READ((struct user_namespace *)idmap, level) == 0;
}

/*
 * Will the kernel refuse the current task a change of @inode that needs
 * its owner or @cap (inode_owner_or_capable)?  An effective @cap in any
 * user namespace counts as allowed: the error is on the side of marking.
 */
static __always_inline bool owner_check_fails(void *idmap, struct inode *inode, int cap)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = BPF_CORE_READ(task, cred);

	if (!idmap_is_identity(idmap))
		return false;
	if (BPF_CORE_READ(cred, fsuid.val) == BPF_CORE_READ(inode, i_uid.val))
		return false;
	return !cur_capable(cap, NULL);
}

/*
 * Will the kernel refuse the current task this attribute change?  The
 * checks vfs_setxattr and vfs_removexattr make after their entry, in the
 * order Debian's 6.1 makes them: immutable or append-only file
 * (xattr_permission); security.* (xattr_capable above, and CAP_SETFCAP
 * to set security.capability: cap_convert_nscap); trusted.* (CAP_SYS_ADMIN);
 * user.* (write permission: a file whose group or other class may write,
 * or whose owner is the caller, counts as writable); a POSIX ACL (owner
 * or CAP_FOWNER, in set_posix_acl).  Anything else: not known, marked.
 */
static __always_inline bool xattr_change_refused(void *idmap, struct dentry *dentry,
						 const char *name, bool remove)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);
	const char acl[] = "system.posix_acl_";
	const char caps[] = "security.capability";
	const char trusted[] = "trusted.";
	const char user[] = "user.";
	char buf[sizeof(caps) + 1] = {};
	bool is_acl = true, is_caps = true, is_trusted = true, is_user = true;

	if (!inode)
		return false;
	if (BPF_CORE_READ(inode, i_flags) & (S_IMMUTABLE | S_APPEND))
		return true;
	if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) < 0)
		return false;
	if (xattr_capable(dentry, name, remove))
		return true;
	for (int i = 0; i < sizeof(caps); i++) {
		if (i < sizeof(acl) - 1 && buf[i] != acl[i])
			is_acl = false;
		if (buf[i] != caps[i])
			is_caps = false;
		if (i < sizeof(trusted) - 1 && buf[i] != trusted[i])
			is_trusted = false;
		if (i < sizeof(user) - 1 && buf[i] != user[i])
			is_user = false;
	}
	if (is_caps)
		return !remove && !cur_capable(CAP_SETFCAP, NULL);
	if (is_trusted)
		return !cur_capable(CAP_SYS_ADMIN, NULL);
	if (is_acl)
		return owner_check_fails(idmap, inode, CAP_FOWNER);
	if (is_user)
		return !(BPF_CORE_READ(inode, i_mode) & 0022) &&
		       owner_check_fails(idmap, inode, CAP_DAC_OVERRIDE);
	return false;
}

/*
 * The changes themselves are followed by tracing programs around
 * vfs_setxattr and vfs_removexattr (change_begin, change_end): the LSM
 * hooks above come before the file system's own checks.  nfsd calls
 * __vfs_setxattr_locked directly: such a change is refused by the stamp
 * (ctime moved), without a taint event.
 */
SEC("fentry/vfs_setxattr")
int BPF_PROG(exec_setxattr, void *idmap, struct dentry *dentry, const char *name)
{
	/* an installer's (setcap in a maintainer script): see exec_vfs_setxattr */
	if (!cur_installer() && !xattr_change_refused(idmap, dentry, name, false))
		change_begin(BPF_CORE_READ(dentry, d_inode));
	return 0;
}

SEC("fentry/vfs_removexattr")
int BPF_PROG(exec_rmxattr, void *idmap, struct dentry *dentry, const char *name)
{
	if (!cur_installer() && !xattr_change_refused(idmap, dentry, name, true))
		change_begin(BPF_CORE_READ(dentry, d_inode));
	return 0;
}

SEC("fexit/vfs_setxattr")
int BPF_PROG(exec_vfs_setxattr, void *idmap, struct dentry *dentry, const char *name,
	     const void *value, size_t size, int flags, int ret)
{
	if (cur_installer())
		install_restamp(dentry);
	else
		change_end(dentry, ret, KEEL_EXEC_OP_XATTR);
	return 0;
}

SEC("fexit/vfs_removexattr")
int BPF_PROG(exec_vfs_removexattr, void *idmap, struct dentry *dentry, const char *name, int ret)
{
	if (cur_installer())
		install_restamp(dentry);
	else
		change_end(dentry, ret, KEEL_EXEC_OP_XATTR);
	return 0;
}

/*
 * POSIX ACLs (system.posix_acl_access, _default): up to 6.1 the kernel
 * sets and removes them through vfs_setxattr and vfs_removexattr, above;
 * from 6.2 setxattr(2) and removexattr(2) hand them to vfs_set_acl and
 * vfs_remove_acl instead, which never reach those.  keeld loads these four
 * only where the kernel's BTF has the functions (agent/keeld/hooks.c);
 * the same checks decide whether the change can be made.
 */
SEC("fentry/vfs_set_acl")
int BPF_PROG(exec_set_acl, void *idmap, struct dentry *dentry, const char *acl_name)
{
	if (!cur_installer() && !xattr_change_refused(idmap, dentry, acl_name, false))
		change_begin(BPF_CORE_READ(dentry, d_inode));
	return 0;
}

SEC("fentry/vfs_remove_acl")
int BPF_PROG(exec_remove_acl, void *idmap, struct dentry *dentry, const char *acl_name)
{
	if (!cur_installer() && !xattr_change_refused(idmap, dentry, acl_name, true))
		change_begin(BPF_CORE_READ(dentry, d_inode));
	return 0;
}

SEC("fexit/vfs_set_acl")
int BPF_PROG(exec_vfs_set_acl, void *idmap, struct dentry *dentry, const char *acl_name, void *kacl,
	     int ret)
{
	if (cur_installer())
		install_restamp(dentry);
	else
		change_end(dentry, ret, KEEL_EXEC_OP_XATTR);
	return 0;
}

SEC("fexit/vfs_remove_acl")
int BPF_PROG(exec_vfs_remove_acl, void *idmap, struct dentry *dentry, const char *acl_name, int ret)
{
	if (cur_installer())
		install_restamp(dentry);
	else
		change_end(dentry, ret, KEEL_EXEC_OP_XATTR);
	return 0;
}

/*
 * File flags and fsxattr (FS_IOC_SETFLAGS: chattr; FS_IOC_FSSETXATTR), by
 * ioctl or through overlayfs: no LSM hook sees them (file_ioctl comes
 * before the copy from user space and the owner check, and a failed
 * ioctl must not taint), and they move ctime.
 */
SEC("fentry/vfs_fileattr_set")
int BPF_PROG(exec_fileattr_begin, void *idmap, struct dentry *dentry)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);

	/* its first check: owner or CAP_FOWNER (refused: leave the file alone) */
	if (!cur_installer() && inode && !owner_check_fails(idmap, inode, CAP_FOWNER))
		change_begin(inode);
	return 0;
}

SEC("fexit/vfs_fileattr_set")
int BPF_PROG(exec_fileattr_end, void *idmap, struct dentry *dentry, void *fa, int ret)
{
	if (cur_installer())
		install_restamp(dentry);
	else
		change_end(dentry, ret, KEEL_EXEC_OP_SETATTR);
	return 0;
}

/* ---- native code that comes from no file ------------------------------ */

/* [exec] jits and tracers, by the inode keeld found at each path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4 * KEEL_EXEC_MAX_ROLE_PATHS);
	__type(key, struct keel_exec_key);
	__type(value, __u32);
} exec_program_roles SEC(".maps");

#define PROC_SUPER_MAGIC   0x9fa0
#define PTRACE_MODE_ATTACH 0x02

/*
 * The KEEL_EXEC_ROLE_* of the program @task runs: those of its executable
 * (mm->exe_file, what /proc/PID/exe shows), and only while that file is
 * trusted with its recorded stamp, as an installer must be.  Kernel
 * threads and exited tasks have none.
 */
static __always_inline __u32 task_roles(struct task_struct *task)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct inode *inode;
	struct keel_exec_trust *t;
	struct keel_exec_key key;
	__u32 *roles;

	if (!exe)
		return 0;
	inode = BPF_CORE_READ(exe, f_inode);
	inode_key(inode, &key);
	roles = bpf_map_lookup_elem(&exec_program_roles, &key);
	if (!roles)
		return 0;
	t = bpf_map_lookup_elem(&exec_trusted, &key);
	if (!t || (t->flags & (KEEL_TRUST_PENDING | KEEL_TRUST_CHANGING)) ||
	    !stamp_matches(inode, t))
		return 0;
	return *roles;
}

/*
 * The verdict on an attempt the current program may make only with
 * @role: 0, or -EPERM in enforce mode; reported either way.  @dentry names
 * what the event shows (the target's program, /proc's "mem").
 */
static __always_inline int role_verdict(__u32 role, struct task_struct *task, __u32 op,
					struct file *file, struct dentry *dentry)
{
	struct keel_exec_stats *cnt = stats();
	struct keel_exec_key none = {};
	__u32 reason = role == KEEL_EXEC_ROLE_JIT ? KEEL_EXEC_R_NOT_JIT : KEEL_EXEC_R_NOT_TRACER;

	if (task_roles(task) & role)
		return 0;
	if (cur_mode() == KEEL_EXEC_MODE_ENFORCE) {
		if (cnt)
			cnt->denied++;
		emit(op, reason, KEEL_EXEC_D_DENY, &none, file, dentry);
		return -EPERM;
	}
	if (cnt)
		cnt->audited++;
	emit(op, reason, KEEL_EXEC_D_AUDIT, &none, file, dentry);
	return 0;
}

/*
 * Anonymous executable memory: code written into memory and run, which no
 * file check sees (ctypes from a trusted python3, a JIT).  @prot is the
 * protection the kernel will apply (READ_IMPLIES_EXEC already added).
 * Anonymous shared memory reaches this hook without its file too.
 */
SEC("lsm/mmap_file")
int BPF_PROG(exec_anon_mmap, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags)
{
	if (file || !(prot & PROT_EXEC))
		return 0;
	return role_verdict(KEEL_EXEC_ROLE_JIT, bpf_get_current_task_btf(), KEEL_EXEC_OP_ANON_MMAP,
			    NULL, NULL);
}

/* Anonymous memory (heap, stack, an mmap) made executable later. */
SEC("lsm/file_mprotect")
int BPF_PROG(exec_anon_mprotect, struct vm_area_struct *vma, unsigned long reqprot,
	     unsigned long prot)
{
	if (!(prot & PROT_EXEC) || (BPF_CORE_READ(vma, vm_flags) & VM_EXEC) ||
	    BPF_CORE_READ(vma, vm_file))
		return 0;
	return role_verdict(KEEL_EXEC_ROLE_JIT, bpf_get_current_task_btf(),
			    KEEL_EXEC_OP_ANON_MPROTECT, NULL, NULL);
}

#define READ_IMPLIES_EXEC 0x0400000

#define SIGKILL 9

/*
 * personality(READ_IMPLIES_EXEC) adds PROT_EXEC to every later readable
 * mapping (which the hooks above see) but also makes the heap that brk
 * grows executable, with no LSM hook on the way: it is a request for
 * anonymous executable memory.  An x86-64 exec clears the flag
 * (set_personality_64bit), so it is judged at the system call.  No hook
 * can refuse it there (Debian's kernels have no error injection for
 * fmod_ret), so in enforce mode the caller is killed before it returns to
 * user space.  0xffffffff only queries.
 */
SEC("fentry/__x64_sys_personality")
int BPF_PROG(exec_personality, struct pt_regs *regs)
{
	unsigned int persona = (unsigned int)BPF_CORE_READ(regs, di);

	if (persona == 0xffffffff || !(persona & READ_IMPLIES_EXEC))
		return 0;
	if (role_verdict(KEEL_EXEC_ROLE_JIT, bpf_get_current_task_btf(),
			 KEEL_EXEC_OP_READ_IMPLIES_EXEC, NULL, NULL))
		bpf_send_signal(SIGKILL);
	return 0;
}

/*
 * /proc/PID/mem (and /proc/PID/task/TID/mem) opened for writing: it
 * writes any page of the process, its text included, even a read-only
 * one (FOLL_FORCE), and a process may open its own.  procfs has no other
 * file named "mem".  Reading stays allowed (the kernel's ptrace checks
 * apply as usual).
 */
SEC("lsm/file_open")
int BPF_PROG(exec_proc_mem_open, struct file *file)
{
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	char name[4] = {};

	if (!(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return 0;
	if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) != PROC_SUPER_MAGIC)
		return 0;
	if (bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dentry, d_name.name)) !=
		    4 ||
	    name[0] != 'm' || name[1] != 'e' || name[2] != 'm')
		return 0;
	return role_verdict(KEEL_EXEC_ROLE_TRACER, bpf_get_current_task_btf(),
			    KEEL_EXEC_OP_PROC_MEM_WRITE, file, NULL);
}

/*
 * The system call the current task is in, for ptrace_access_check, which
 * the kernel calls with the same mode for a tracer's attach, for
 * process_vm_readv and _writev, for /proc/PID/mem and for pidfd_getfd.
 * x86-64 numbers (native, x32, and i386 compat, which no native call
 * shares); -1 on other architectures, where nothing is judged here.
 */
#define NR_PTRACE	  101
#define NR_PTRACE_X32	  (0x40000000 | 521)
#define NR_PTRACE_I386	  26
#define NR_VM_WRITEV	  311
#define NR_VM_WRITEV_X32  (0x40000000 | 540)
#define NR_VM_WRITEV_I386 348

static __always_inline long cur_syscall(void)
{
#if defined(__TARGET_ARCH_x86)
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return BPF_CORE_READ(regs, orig_ax);
#else
	return -1;
#endif
}

/*
 * PTRACE_ATTACH, PTRACE_SEIZE (then PTRACE_POKETEXT, SETREGS...) and
 * process_vm_writev write another process's memory or registers.  Only
 * [exec] tracers may.  The read modes (ps, /proc/PID/status) and
 * process_vm_readv are not judged here; /proc/PID/mem is, at its open.
 */
SEC("lsm/ptrace_access_check")
int BPF_PROG(exec_trace_check, struct task_struct *child, unsigned int mode)
{
	struct dentry *target = BPF_CORE_READ(child, mm, exe_file, f_path.dentry);
	long nr = cur_syscall();
	__u32 op;

	if (!(mode & PTRACE_MODE_ATTACH))
		return 0;
	if (nr == NR_PTRACE || nr == NR_PTRACE_X32 || nr == NR_PTRACE_I386)
		op = KEEL_EXEC_OP_TRACE_ATTACH;
	else if (nr == NR_VM_WRITEV || nr == NR_VM_WRITEV_X32 || nr == NR_VM_WRITEV_I386)
		op = KEEL_EXEC_OP_VM_WRITEV;
	else
		return 0;
	return role_verdict(KEEL_EXEC_ROLE_TRACER, bpf_get_current_task_btf(), op, NULL, target);
}

/* PTRACE_TRACEME: the parent becomes the tracer; it must be one of [exec] tracers. */
SEC("lsm/ptrace_traceme")
int BPF_PROG(exec_trace_me, struct task_struct *parent)
{
	return role_verdict(KEEL_EXEC_ROLE_TRACER, parent, KEEL_EXEC_OP_TRACE_ME, NULL,
			    BPF_CORE_READ(parent, mm, exe_file, f_path.dentry));
}

/* Scripts given to an interpreter: its own file, its own programs. */
#include "exec_interp.bpf.h"
/* Trust ends with the file system instance. */
#include "exec_fs.bpf.h"

char LICENSE[] SEC("license") = "GPL";
