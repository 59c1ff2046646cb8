// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec subsystem: loads bpf/exec.bpf.c (BPF LSM), fills its trusted-inode
 * map from the trust store, and turns its ring buffer records into
 * exec.exec, exec.deny, exec.allow_audit and exec.taint events.  The
 * kernel decides alone; keeld only keeps the map and the store in step.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/log.h"
#include "exec/exec_priv.h"
#include "exec/guard.h"
#include "keeld/hooks.h"
#include "keeld/percpu.h"
#include "keeld/ringbuf.h"
#include "common/kdev.h"

static int read_stats(struct exec_priv *p, struct keel_exec_stats *sum)
{
	return keel_percpu_sum(p->skel->maps.exec_stats, 0, sum, sizeof(*sum));
}

const char *exec_mode_name(__u32 mode)
{
	return mode == KEEL_EXEC_MODE_ENFORCE ? "enforce" : "audit";
}

static const char *op_name(__u32 op)
{
	switch (op) {
	case KEEL_EXEC_OP_EXEC:
		return "exec";
	case KEEL_EXEC_OP_MMAP:
		return "mmap";
	case KEEL_EXEC_OP_MPROTECT:
		return "mprotect";
	case KEEL_EXEC_OP_MODULE:
		return "module";
	case KEEL_EXEC_OP_MODULE_MEM:
		return "module_from_memory";
	case KEEL_EXEC_OP_SCRIPT:
		return "script";
	case KEEL_EXEC_OP_KEXEC:
		return "kexec";
	case KEEL_EXEC_OP_KEXEC_MEM:
		return "kexec_from_memory";
	case KEEL_EXEC_OP_FIRMWARE:
		return "firmware";
	case KEEL_EXEC_OP_FIRMWARE_MEM:
		return "firmware_from_memory";
	case KEEL_EXEC_OP_UNMOUNT:
		return "unmount";
	case KEEL_EXEC_OP_OPEN_WRITE:
		return "open_write";
	case KEEL_EXEC_OP_SETATTR:
		return "setattr";
	case KEEL_EXEC_OP_XATTR:
		return "xattr";
	case KEEL_EXEC_OP_LINK:
		return "link";
	case KEEL_EXEC_OP_RENAME:
		return "rename";
	case KEEL_EXEC_OP_UNLINK:
		return "unlink";
	case KEEL_EXEC_OP_MMAP_SHARED_WRITE:
		return "mmap_shared_write";
	case KEEL_EXEC_OP_TRUNCATE:
		return "truncate";
	case KEEL_EXEC_OP_BPF:
		return "bpf";
	case KEEL_EXEC_OP_PTRACE:
		return "ptrace";
	case KEEL_EXEC_OP_ANON_MMAP:
		return "mmap_anon_exec";
	case KEEL_EXEC_OP_ANON_MPROTECT:
		return "mprotect_anon_exec";
	case KEEL_EXEC_OP_PROC_MEM_WRITE:
		return "proc_mem_write";
	case KEEL_EXEC_OP_TRACE_ATTACH:
		return "ptrace_attach";
	case KEEL_EXEC_OP_TRACE_ME:
		return "ptrace_traceme";
	case KEEL_EXEC_OP_VM_WRITEV:
		return "process_vm_writev";
	case KEEL_EXEC_OP_READ_IMPLIES_EXEC:
		return "personality_read_implies_exec";
	}
	return "unknown";
}

static const char *reason_name(__u32 reason)
{
	switch (reason) {
	case KEEL_EXEC_R_TRUSTED:
		return "trusted";
	case KEEL_EXEC_R_UNTRUSTED:
		return "untrusted";
	case KEEL_EXEC_R_CHANGED:
		return "changed";
	case KEEL_EXEC_R_PENDING:
		return "pending";
	case KEEL_EXEC_R_WRITABLE:
		return "open_for_write";
	case KEEL_EXEC_R_DELETED:
		return "deleted";
	case KEEL_EXEC_R_NO_FILE:
		return "no_file";
	case KEEL_EXEC_R_UNSTABLE_FS:
		return "unstable_fs";
	case KEEL_EXEC_R_PROTECTED:
		return "protected";
	case KEEL_EXEC_R_NOT_JIT:
		return "not_a_jit";
	case KEEL_EXEC_R_NOT_TRACER:
		return "not_a_tracer";
	}
	return "unknown";
}

json_t *exec_rec_json(const struct keel_trust_rec *rec)
{
	char dev[24];
	json_t *o;

	keel_kdev_format(rec->dev, dev, sizeof(dev));
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:I}", "path", rec->path, "state",
		      keel_trust_state_name(rec->state), "sha256", rec->sha256, "device", dev,
		      "inode", (json_int_t)rec->ino, "generation", (json_int_t)rec->gen, "source",
		      rec->source, "note", rec->note, "updated", (json_int_t)rec->updated);
	if (o && rec->fs_uuid[0])
		json_object_set_new(o, "fs_uuid", json_string(rec->fs_uuid));
	return o;
}

void exec_emit_trust(struct keel_subsys *s, const char *type, const struct keel_trust_rec *rec,
		     const char *reason)
{
	struct exec_priv *p = s->priv;
	json_t *o = exec_rec_json(rec);

	json_object_set_new(o, "reason", json_string(reason));
	json_object_set_new(o, "mode", json_string(exec_mode_name(p->mode)));
	keel_emit(s->d, "exec", type, o);
}

static void on_exec(struct keel_subsys *s, const struct keel_exec_event *ev)
{
	char comm[KEEL_COMM_LEN + 1], file[KEEL_PATH_LEN + 1];

	snprintf(comm, sizeof(comm), "%.*s", KEEL_COMM_LEN, ev->comm);
	snprintf(file, sizeof(file), "%.*s", KEEL_PATH_LEN, ev->filename);
	keel_event_emit(s->d->bus, "exec", "exec.exec",
			json_pack("{s:I, s:I, s:I, s:s, s:s}", "pid", (json_int_t)ev->pid, "uid",
				  (json_int_t)ev->uid, "cgroup_id", (json_int_t)ev->cgroup_id,
				  "comm", comm, "filename", file),
			keel_boot_to_realtime_ns(ev->hdr.time_ns));
}

static void on_verdict(struct keel_subsys *s, const struct keel_exec_verdict *ev)
{
	struct exec_priv *p = s->priv;
	char comm[KEEL_COMM_LEN + 1], path[KEEL_PATH_LEN + 1], dev[24], note[160];
	const char *type;

	snprintf(comm, sizeof(comm), "%.*s", KEEL_COMM_LEN, ev->comm);
	snprintf(path, sizeof(path), "%.*s", KEEL_PATH_LEN, ev->path);
	keel_kdev_format(ev->key.dev, dev, sizeof(dev));
	switch (ev->decision) {
	case KEEL_EXEC_D_DENY:
		type = "exec.deny";
		break;
	case KEEL_EXEC_D_AUDIT:
		type = "exec.allow_audit";
		break;
	case KEEL_EXEC_D_TAINT:
		type = "exec.taint";
		/* the kernel already removed the trust; the store follows */
		snprintf(note, sizeof(note), "%s by %s (pid %u)", op_name(ev->op), comm, ev->pid);
		if (p->store && ev->op == KEEL_EXEC_OP_UNMOUNT) /* every row on the device */
			keel_trust_taint_dev(p->store, ev->key.dev, note);
		else if (p->store)
			keel_trust_taint(p->store, ev->key.dev, ev->key.ino, ev->key.gen, note);
		exec_installer_tainted(s, &ev->key);
		break;
	default:
		return;
	}
	keel_event_emit(s->d->bus, "exec", type,
			json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "pid",
				  (json_int_t)ev->pid, "ppid", (json_int_t)ev->ppid, "uid",
				  (json_int_t)ev->uid, "comm", comm, "path", path, "device", dev,
				  "inode", (json_int_t)ev->key.ino, "generation",
				  (json_int_t)ev->key.gen, "op", op_name(ev->op), "reason",
				  reason_name(ev->reason), "mode", exec_mode_name(ev->mode)),
			keel_boot_to_realtime_ns(ev->hdr.time_ns));
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct keel_event_hdr *hdr = data;

	if (size < sizeof(*hdr))
		return 0;
	if (hdr->type == KEEL_EV_EXEC && size >= sizeof(struct keel_exec_event))
		on_exec(ctx, data);
	else if (hdr->type == KEEL_EV_EXEC_VERDICT && size >= sizeof(struct keel_exec_verdict))
		on_verdict(ctx, data);
	else if (hdr->type == KEEL_EV_EXEC_INSTALL && size >= sizeof(struct keel_exec_install))
		exec_on_install(ctx, data); /* installer.c */
	return 0;			    /* anything else: a newer BPF object than this keeld */
}

static int read_dropped(void *ctx, __u64 *ret_total)
{
	struct exec_priv *p = ((struct keel_subsys *)ctx)->priv;
	struct keel_exec_stats sum;
	int err = read_stats(p, &sum);

	*ret_total = sum.dropped;
	return err;
}

static int write_state(struct exec_priv *p)
{
	struct keel_exec_state st = { .mode = p->mode,
				      .keeld_tgid = (__u32)getpid(),
				      .flags = exec_state_flags(p) };
	__u32 zero = 0;

	return bpf_map__update_elem(p->skel->maps.exec_state, &zero, sizeof(zero), &st, sizeof(st),
				    BPF_ANY);
}

int exec_set_mode(struct keel_subsys *s, __u32 mode)
{
	struct exec_priv *p = s->priv;
	__u32 old = p->mode;
	int err;

	/* the store first: a restart must come back in the mode asked for */
	err = keel_trust_meta_set(p->store, "mode", exec_mode_name(mode));
	if (err)
		return err;
	p->mode = mode;
	err = write_state(p);
	if (err) {
		p->mode = old;
		keel_trust_meta_set(p->store, "mode", exec_mode_name(old));
		return err;
	}
	return 0;
}

static int parse_mode(const char *name, __u32 *ret)
{
	if (!strcmp(name, "audit"))
		*ret = KEEL_EXEC_MODE_AUDIT;
	else if (!strcmp(name, "enforce"))
		*ret = KEEL_EXEC_MODE_ENFORCE;
	else
		return -EINVAL;
	return 0;
}

/* The frame's open op; exec_open is the BPF program on the file_open hook. */
static int exec_subsys_open(struct keel_subsys *s, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	int err;

	err = parse_mode(exec_cfg(s)->mode, &p->mode);
	if (err) {
		snprintf(why, len,
			 "[exec] mode: '%s' is neither audit nor enforce; fix the configuration",
			 exec_cfg(s)->mode);
		return err;
	}
	p->skel = exec_bpf__open();
	if (!p->skel) {
		err = -errno;
		snprintf(why, len, "opening the exec BPF object: %s", strerror(-err));
		return err;
	}
	p->state_flags = (exec_cfg(s)->allow_kexec_load ? KEEL_EXEC_F_ALLOW_KEXEC_LOAD : 0) |
			 (exec_cfg(s)->check_firmware ? 0 : KEEL_EXEC_F_ANY_FIRMWARE);
	bpf_map__set_max_entries(p->skel->maps.exec_trusted, exec_cfg(s)->max_trusted);
	bpf_map__set_max_entries(p->skel->maps.exec_installing, exec_cfg(s)->max_installing);
	bpf_map__set_max_entries(p->skel->maps.exec_events, exec_cfg(s)->ring_buffer_kib * 1024);
	/* hooks this kernel lacks (exec_hooks below): their programs stay out */
	err = keel_hooks_autoload(p->skel->obj, s->ops, why, len);
	if (err)
		return err;
	/* self-protection and restarts: agent/exec/guard.h */
	err = exec_pins_prepare(s, p->skel->obj, why, len);
	if (err)
		return err;
	err = exec_bpf__load(p->skel);
	if (err) {
		snprintf(why, len,
			 "loading the exec BPF object: %s (%s); run keeld -v for the verifier log",
			 strerror(-err), keel_errno_name(err));
		return err;
	}
	return 0;
}

static int exec_start(struct keel_subsys *s, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	char mode[16];
	int err;

	err = keel_trust_open(exec_cfg(s)->trust_db, &p->store, why, len);
	if (err)
		return err;
	if (!keel_trust_meta_get(p->store, "mode", mode, sizeof(mode)))
		parse_mode(mode, &p->mode);
	err = write_state(p);
	if (err) {
		snprintf(why, len, "writing exec_state: %s", strerror(-err));
		return err;
	}
	/*
	 * file_open first: it tells keeld the identity of what it opens, which
	 * loading the store needs.  The checks attach once the map is full, so
	 * an enforcing restart does not refuse everything meanwhile; a file
	 * changed in between is still refused, its stamp no longer matching.
	 */
	p->skel->links.exec_open = bpf_program__attach(p->skel->progs.exec_open);
	if (!p->skel->links.exec_open) {
		err = -errno;
		snprintf(why, len, "attaching lsm/file_open: %s (%s)", strerror(-err),
			 keel_errno_name(err));
		return err;
	}
	err = exec_installers_start(s, why, len); /* installer.c */
	if (err)
		return err;
	err = exec_programs_start(s, why, len); /* programs.c */
	if (err)
		return err;
	err = exec_fs_start(s, why, len); /* fstypes.c */
	if (err)
		return err;
	/* enforce kept in the store, and the root now on one of [exec] unstable_fs */
	if (p->mode == KEEL_EXEC_MODE_ENFORCE && exec_fs_enforce_check(s, why, len)) {
		pr_warn("exec: starting in audit mode instead of enforce: %s", why);
		keel_emit(s->d, "exec", "exec.mode",
			  json_pack("{s:s, s:s}", "mode", "audit", "reason", why));
		why[0] = 0;
		err = exec_set_mode(s, KEEL_EXEC_MODE_AUDIT);
		if (err) {
			snprintf(why, len, "switching to audit mode: %s", strerror(-err));
			return err;
		}
	}
	/*
	 * The records the kernel queued while keeld was stopped come before
	 * the store is loaded: a taint the kernel applied then is final, and
	 * a re-hash of the file must not trust it again (nor a taint read
	 * afterwards mark tainted what the re-hash just trusted); a file an
	 * installer wrote meanwhile is recorded before its old row is checked.
	 */
	p->rb = (struct keel_ringbuf){ .subsystem = "exec",
				       .drop_event = "exec.dropped",
				       .read_dropped = read_dropped };
	err = keel_ringbuf_open(&p->rb, s->d, p->skel->maps.exec_events, on_record, s, why, len);
	if (err)
		return err;
	keel_ringbuf_consume(&p->rb);
	err = exec_trust_load(s, why, len);
	if (err)
		return err;
	err = exec_bpf__attach(p->skel);
	if (err) {
		snprintf(why, len, "attaching the exec LSM programs: %s (%s)", strerror(-err),
			 keel_errno_name(err));
		return err;
	}
	return exec_guard_start(s, why, len); /* and pins every link */
}

static void exec_stop(struct keel_subsys *s)
{
	struct exec_priv *p = s->priv;

	keel_ringbuf_close(&p->rb); /* delivers what is already there */
	if (!exec_guard_stop(s))    /* enforce: the pins stay */
		keel_pins_remove(&p->pins);
	exec_bpf__destroy(p->skel);
	exec_installers_stop(s);
	exec_programs_stop(s);
	keel_trust_close(p->store);
	memset(p, 0, sizeof(*p));
}

static void exec_counters(struct keel_subsys *s, json_t *out)
{
	struct exec_priv *p = s->priv;
	struct keel_exec_stats sum;

	json_object_set_new(out, "mode", json_string(exec_mode_name(p->mode)));
	if (read_stats(p, &sum))
		return;
	json_object_set_new(out, "execs", json_integer((json_int_t)sum.execs));
	json_object_set_new(out, "checks", json_integer((json_int_t)sum.checks));
	json_object_set_new(out, "denied", json_integer((json_int_t)sum.denied));
	json_object_set_new(out, "audited", json_integer((json_int_t)sum.audited));
	json_object_set_new(out, "taints", json_integer((json_int_t)sum.taints));
	json_object_set_new(out, "dropped", json_integer((json_int_t)sum.dropped));
	json_object_set_new(out, "installed", json_integer((json_int_t)sum.installed));
	json_object_set_new(out, "install_refused", json_integer((json_int_t)sum.install_refused));
	exec_installer_counters(s, out);
	exec_guard_counters(s, out);
}

/* Worth a person's look in the journal (the others are LOG_INFO). */
static const struct keel_event_priority exec_priorities[] = {
	{ "exec.install_failed", LOG_ERR },
	{ "exec.deny", LOG_WARNING },
	{ "exec.taint", LOG_WARNING },
	{ "exec.guard_deny", LOG_WARNING },
	{ "exec.install_refused", LOG_WARNING },
	{ "exec.allow_audit", LOG_NOTICE },
	{ "exec.trust", LOG_NOTICE },
	{ "exec.untrust", LOG_NOTICE },
	{ "exec.mode", LOG_NOTICE },
	{ "exec.installer", LOG_NOTICE },
	{ "exec.exec", LOG_DEBUG }, /* the routine stream */
	{ NULL, 0 },
};

/*
 * Functions that some of the kernels keel runs on have and others lack: on
 * 6.2 and later POSIX ACLs are set and removed through vfs_set_acl and
 * vfs_remove_acl, never through vfs_setxattr, so exec follows them there.
 */
static const struct keel_hook exec_hooks[] = {
	{
		.name = "fentry+fexit/vfs_set_acl",
		.btf_name = "vfs_set_acl",
		.progs = { "exec_set_acl", "exec_vfs_set_acl" },
		.without = "POSIX ACLs are set through vfs_setxattr on this kernel (before 6.2), "
			   "which exec follows",
	},
	{
		.name = "fentry+fexit/vfs_remove_acl",
		.btf_name = "vfs_remove_acl",
		.progs = { "exec_remove_acl", "exec_vfs_remove_acl" },
		.without = "POSIX ACLs are removed through vfs_removexattr on this kernel "
			   "(before 6.2), which exec follows",
	},
};

const struct keel_subsys_ops keel_exec_ops = {
	.name = "exec",
	.summary = "only trusted files execute; any change taints (BPF LSM)",
	/* every kind of program exec.bpf.c attaches (tp_btf comes with BTF) */
	.needs = { KEEL_FEAT_BTF, KEEL_FEAT_BPF_LSM, KEEL_FEAT_FENTRY, KEEL_FEAT_FEXIT },
	.n_needs = 4,
	.priv_size = sizeof(struct exec_priv),
	.options = exec_options,
	.config_size = sizeof(struct exec_config),
	.check_config = exec_check_config,
	.open = exec_subsys_open,
	.start = exec_start,
	.stop = exec_stop,
	.counters = exec_counters,
	.command = exec_command,
	.offline_command = exec_offline_command,
	.event_priorities = exec_priorities,
	.hooks = exec_hooks,
	.n_hooks = sizeof(exec_hooks) / sizeof(exec_hooks[0]),
};
