// SPDX-License-Identifier: GPL-2.0-only
/*
 * guard: in enforce mode, only keeld may change keel's exec objects, and
 * nobody may trace keeld.  Without it, root could switch enforcement off
 * with bpftool (delete exec_trusted entries, rewrite exec_state) or rm
 * (drop the pins a stopped keeld left enforcing), or take keeld's file
 * descriptors through ptrace.  In audit mode the same attempts are
 * allowed and reported.  docs/exec.md, "Self-protection", lists what root
 * can still do.
 *
 *  - bpf_map: any fd of a keel map (BPF_MAP_GET_FD_BY_ID, BPF_OBJ_GET of a
 *    pin), read-only ones too: the kernel checks an fd's mode only for
 *    bpf() commands, not when a program is loaded with it (the verifier
 *    honours the map's own BPF_F_RDONLY_PROG, which keel's maps cannot
 *    have), nor for an inner map or a map iterator, so a read-only fd is
 *    as good as a writable one to whoever loads a program;
 *  - bpf_prog: an fd of a program that uses a keel map and is not one of
 *    keel's own (the fd bpf_prog_load returns, once the verifier has
 *    listed the program's maps): what an fd taken in audit mode could
 *    still do after the switch to enforce;
 *  - bpf: map updates, deletes, batches and freeze, BPF_LINK_DETACH and
 *    BPF_LINK_UPDATE through an fd that refers to a keel object, however
 *    it was obtained;
 *  - inode_unlink, inode_rmdir, inode_rename, inode_setattr in keel's pin
 *    directories, and sb_umount of the bpffs that holds them;
 *  - ptrace_access_check (attach modes: PTRACE_ATTACH, /proc/PID/mem,
 *    process_vm_writev, pidfd_getfd) and ptrace_traceme of keeld;
 *  - bprm_check_security: the exec of keeld's executable by a process that
 *    is traced already (LSM_UNSAFE_PTRACE): the ptrace checks above run at
 *    attach time only, so a tracer attached before the exec would keep
 *    keeld's memory and descriptors;
 *  - bpf_prog: a program loaded against one of keel's programs (fentry,
 *    fexit, freplace: aux->dst_prog), and bpf: BPF_LINK_CREATE whose target
 *    is one of keel's programs (an fentry/freplace loaded against another
 *    program and attached to keel's).
 *
 * keeld is whoever runs keeld's executable (see keel/guard.h); the mode is
 * exec's own exec_state map, shared with this object.
 */
#include "keel.bpf.h"
#include "keel/exec.h"
#include "keel/guard.h"

#define EPERM		   1
#define FMODE_WRITE	   0x2
#define PTRACE_MODE_ATTACH 0x02
#define LSM_UNSAFE_PTRACE  2 /* bprm->unsafe: the task is traced */

/* Tells a program's file from other files (an fd number is just a number). */
extern const void bpf_prog_fops __ksym;

/* exec.bpf.c's map: keeld makes this object use the same one. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_exec_state);
} exec_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_guard_conf);
} guard_conf SEC(".maps");

/* keel's maps and links by id: exec's and this object's own */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct keel_guard_id);
	__type(value, __u8);
} guard_ids SEC(".maps");

/* keel's pin directories: <pin_dir> and <pin_dir>/exec */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, struct keel_guard_inode);
	__type(value, __u8);
} guard_dirs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} guard_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_guard_stats);
} guard_stats SEC(".maps");

static __always_inline struct keel_guard_conf *conf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&guard_conf, &zero);
}

static __always_inline void inode_ident(struct inode *inode, struct keel_guard_inode *key)
{
	key->ino = BPF_CORE_READ(inode, i_ino);
	key->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key->gen = BPF_CORE_READ(inode, i_generation);
}

static __always_inline bool same_inode(const struct keel_guard_inode *a,
				       const struct keel_guard_inode *b)
{
	return a->ino && a->ino == b->ino && a->dev == b->dev && a->gen == b->gen;
}

/* Does @task run keeld's executable? */
static __always_inline bool is_keeld(struct task_struct *task)
{
	struct keel_guard_conf *c = conf();
	struct keel_guard_inode key;
	struct inode *inode;

	if (!c)
		return false;
	inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (!inode)
		return false; /* kernel threads, exiting tasks */
	inode_ident(inode, &key);
	return same_inode(&c->exe[0], &key) || same_inode(&c->exe[1], &key);
}

static __always_inline bool current_is_keeld(void)
{
	return is_keeld(bpf_get_current_task_btf());
}

static __always_inline bool guarded_dir(struct inode *inode)
{
	struct keel_guard_inode key;

	if (!inode)
		return false;
	inode_ident(inode, &key);
	return bpf_map_lookup_elem(&guard_dirs, &key) != NULL;
}

static __always_inline bool guarded_id(__u32 kind, __u32 id)
{
	struct keel_guard_id key = { .kind = kind, .id = id };

	return id && bpf_map_lookup_elem(&guard_ids, &key) != NULL;
}

/*
 * Someone other than keeld attempted @what: report it, and refuse it in
 * enforce mode.  @name is a kernel string (map or pin name), or NULL.
 */
static __always_inline int refuse(__u32 what, __u32 target_id, const char *name)
{
	struct keel_exec_state *st;
	struct keel_guard_stats *cnt;
	struct keel_guard_event *ev;
	__u32 zero = 0, mode;
	bool deny;

	st = bpf_map_lookup_elem(&exec_state, &zero);
	mode = st ? st->mode : KEEL_EXEC_MODE_AUDIT;
	deny = mode == KEEL_EXEC_MODE_ENFORCE;
	cnt = bpf_map_lookup_elem(&guard_stats, &zero);
	if (cnt) {
		if (deny)
			cnt->denied++;
		else
			cnt->audited++;
	}
	ev = bpf_ringbuf_reserve(&guard_events, sizeof(*ev), 0);
	if (ev) {
		ev->hdr.type = KEEL_EV_EXEC_GUARD;
		ev->hdr.size = sizeof(*ev);
		ev->hdr.time_ns = bpf_ktime_get_boot_ns();
		ev->pid = bpf_get_current_pid_tgid() >> 32;
		ev->uid = (__u32)bpf_get_current_uid_gid();
		ev->what = what;
		ev->mode = mode;
		ev->denied = deny;
		ev->target_id = target_id;
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
		ev->target[0] = 0;
		if (name)
			bpf_probe_read_kernel_str(ev->target, sizeof(ev->target), name);
		bpf_ringbuf_submit(ev, 0);
	} else if (cnt) {
		cnt->dropped++;
	}
	return deny ? -EPERM : 0;
}

/* The private data of the caller's file descriptor @fd, or NULL. */
static __always_inline void *fd_private(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), fds + fd) || !file)
		return NULL;
	return BPF_CORE_READ(file, private_data);
}

/* The program behind the caller's fd @fd, or NULL if it is no program. */
static __always_inline struct bpf_prog *fd_prog(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), fds + fd) || !file)
		return NULL;
	if ((const void *)BPF_CORE_READ(file, f_op) != &bpf_prog_fops)
		return NULL;
	return BPF_CORE_READ(file, private_data);
}

/*
 * Commands that change a map or a link through an fd.  The fd is only
 * known to be a map (link) once the kernel checks it, after this hook: a
 * file of another kind whose private data happened to match a keel id
 * would be refused, where the kernel would have refused it anyway.
 */
SEC("lsm/bpf")
int BPF_PROG(guard_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	struct bpf_map *map;
	struct bpf_link *link;
	int fd;

	switch (cmd) {
	case BPF_MAP_UPDATE_ELEM:
	case BPF_MAP_DELETE_ELEM:
	case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
	case BPF_MAP_FREEZE:
		fd = BPF_CORE_READ(attr, map_fd);
		break;
	case BPF_MAP_UPDATE_BATCH:
	case BPF_MAP_DELETE_BATCH:
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		fd = BPF_CORE_READ(attr, batch.map_fd);
		break;
	case BPF_LINK_UPDATE:
		fd = BPF_CORE_READ(attr, link_update.link_fd);
		break;
	case BPF_LINK_DETACH:
		fd = BPF_CORE_READ(attr, link_detach.link_fd);
		break;
	case BPF_LINK_CREATE: {
		/* target_fd names a program for fentry/fexit/freplace links */
		struct bpf_prog *target = fd_prog(BPF_CORE_READ(attr, link_create.target_fd));
		__u32 id = target ? BPF_CORE_READ(target, aux, id) : 0;

		if (!guarded_id(KEEL_GUARD_PROG, id) || current_is_keeld())
			return 0;
		return refuse(KEEL_GUARD_PROG_ATTACH, id, NULL);
	}
	default:
		return 0;
	}
	if (cmd == BPF_LINK_UPDATE || cmd == BPF_LINK_DETACH) {
		link = fd_private(fd);
		if (!link || !guarded_id(KEEL_GUARD_LINK, BPF_CORE_READ(link, id)) ||
		    current_is_keeld())
			return 0;
		return refuse(KEEL_GUARD_LINK_CHANGE, BPF_CORE_READ(link, id), NULL);
	}
	map = fd_private(fd);
	if (!map || !guarded_id(KEEL_GUARD_MAP, BPF_CORE_READ(map, id)) || current_is_keeld())
		return 0;
	return refuse(KEEL_GUARD_MAP_UPDATE, BPF_CORE_READ(map, id), map->name);
}

/* A new fd of a map: by id, by pin, or at creation. */
SEC("lsm/bpf_map")
int BPF_PROG(guard_bpf_map, struct bpf_map *map, fmode_t fmode)
{
	if (!guarded_id(KEEL_GUARD_MAP, map->id) || current_is_keeld())
		return 0;
	return refuse(fmode & FMODE_WRITE ? KEEL_GUARD_MAP_OPEN_WRITE : KEEL_GUARD_MAP_OPEN_READ,
		      map->id, map->name);
}

#define MAX_USED_MAPS 64 /* the verifier's limit of maps per program */

/*
 * A new fd of a program: at the end of BPF_PROG_LOAD (used_maps is
 * complete: the verifier has run) and by id or pin.  keel's own programs
 * stay open to everyone (bpftool prog show); any other program that uses
 * one of keel's maps gets no fd, so it never runs: its load fails.
 */
SEC("lsm/bpf_prog")
int BPF_PROG(guard_bpf_prog, struct bpf_prog *prog)
{
	struct bpf_prog_aux *aux = BPF_CORE_READ(prog, aux);
	struct bpf_map **maps = BPF_CORE_READ(aux, used_maps);
	__u32 n = BPF_CORE_READ(aux, used_map_cnt), id = BPF_CORE_READ(aux, id);
	__u32 dst = BPF_CORE_READ(aux, dst_prog, aux, id);
	struct bpf_map *map;

	/* Loaded to run around or instead of one of keel's programs. */
	if (dst && guarded_id(KEEL_GUARD_PROG, dst) && !guarded_id(KEEL_GUARD_PROG, id) &&
	    !current_is_keeld())
		return refuse(KEEL_GUARD_PROG_ATTACH, dst, NULL);
	if (!n || guarded_id(KEEL_GUARD_PROG, id))
		return 0;
	for (__u32 i = 0; i < MAX_USED_MAPS; i++) {
		if (i >= n)
			return 0;
		if (bpf_probe_read_kernel(&map, sizeof(map), maps + i) || !map)
			return 0;
		if (!guarded_id(KEEL_GUARD_MAP, BPF_CORE_READ(map, id)))
			continue;
		if (current_is_keeld())
			return 0;
		return refuse(KEEL_GUARD_PROG_MAP, id, (const char *)&map->name);
	}
	return 0;
}

static __always_inline int pin_change(__u32 what, struct dentry *dentry)
{
	if (current_is_keeld())
		return 0;
	return refuse(what, 0, (const char *)BPF_CORE_READ(dentry, d_name.name));
}

SEC("lsm/inode_unlink")
int BPF_PROG(guard_unlink, struct inode *dir, struct dentry *dentry)
{
	if (!guarded_dir(dir))
		return 0;
	return pin_change(KEEL_GUARD_PIN_UNLINK, dentry);
}

SEC("lsm/inode_rmdir")
int BPF_PROG(guard_rmdir, struct inode *dir, struct dentry *dentry)
{
	if (!guarded_dir(dir) && !guarded_dir(BPF_CORE_READ(dentry, d_inode)))
		return 0;
	return pin_change(KEEL_GUARD_PIN_RMDIR, dentry);
}

SEC("lsm/inode_rename")
int BPF_PROG(guard_rename, struct inode *old_dir, struct dentry *old_dentry, struct inode *new_dir,
	     struct dentry *new_dentry)
{
	if (!guarded_dir(old_dir) && !guarded_dir(new_dir) &&
	    !guarded_dir(BPF_CORE_READ(old_dentry, d_inode)))
		return 0;
	return pin_change(KEEL_GUARD_PIN_RENAME, old_dentry);
}

SEC("lsm/inode_setattr")
int BPF_PROG(guard_setattr, void *arg0, void *arg1)
{
	struct dentry *dentry;

	/*
	 * 6.3 put a struct mnt_idmap * in front of the dentry.  Both
	 * arguments are loaded before the choice: clang otherwise picks the
	 * context offset and loads once, through a moved context pointer,
	 * which the verifier refuses ("dereference of modified ctx ptr") on
	 * kernels where the choice is the second argument.
	 */
	barrier_var(arg0);
	barrier_var(arg1);
	dentry = bpf_core_type_exists(struct mnt_idmap) ? arg1 : arg0;
	if (!guarded_dir(BPF_CORE_READ(dentry, d_inode)) &&
	    !guarded_dir(BPF_CORE_READ(dentry, d_parent, d_inode)))
		return 0;
	return pin_change(KEEL_GUARD_PIN_SETATTR, dentry);
}

/* Unmounting the bpffs would drop every pin with it. */
SEC("lsm/sb_umount")
int BPF_PROG(guard_umount, struct vfsmount *mnt, int flags)
{
	struct keel_guard_conf *c = conf();

	if (!c || !c->pin_dev || BPF_CORE_READ(mnt, mnt_sb, s_dev) != c->pin_dev ||
	    current_is_keeld())
		return 0;
	return refuse(KEEL_GUARD_UMOUNT, 0, NULL);
}

/* Read-only modes (ps, /proc/PID/status, fd listings) stay allowed. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(guard_ptrace, struct task_struct *child, unsigned int mode)
{
	if (!(mode & PTRACE_MODE_ATTACH) || !is_keeld(child) || current_is_keeld())
		return 0;
	return refuse(KEEL_GUARD_PTRACE, BPF_CORE_READ(child, tgid), NULL);
}

SEC("lsm/ptrace_traceme")
int BPF_PROG(guard_traceme, struct task_struct *parent)
{
	if (!current_is_keeld())
		return 0;
	return refuse(KEEL_GUARD_TRACEME, BPF_CORE_READ(parent, tgid), NULL);
}

/*
 * keeld's executable started by a traced process: the tracer, attached
 * before the exec, would keep its hold on keeld (ptrace_access_check runs
 * at attach time only).
 */
SEC("lsm/bprm_check_security")
int BPF_PROG(guard_traced_exec, struct linux_binprm *bprm)
{
	struct keel_guard_conf *c;
	struct keel_guard_inode key;
	struct task_struct *task;
	struct inode *inode;

	if (!(BPF_CORE_READ(bprm, unsafe) & LSM_UNSAFE_PTRACE))
		return 0;
	c = conf();
	inode = BPF_CORE_READ(bprm, file, f_inode);
	if (!c || !inode)
		return 0;
	inode_ident(inode, &key);
	if (!same_inode(&c->exe[0], &key) && !same_inode(&c->exe[1], &key))
		return 0;
	task = bpf_get_current_task_btf();
	return refuse(KEEL_GUARD_TRACED_EXEC, BPF_CORE_READ(task, parent, tgid), NULL);
}

char LICENSE[] SEC("license") = "GPL";
