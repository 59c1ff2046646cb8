/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Maps and records shared by bpf/exec.bpf.c and agent/exec/.
 *
 * A file is identified by the inode the kernel sees, not by a path: the
 * superblock's device, the inode number and the inode generation, so that
 * renames, bind mounts and /proc/self/fd paths reach the same entry and a
 * recycled inode number (new generation) does not.  The change stamp
 * (ctime, i_version) recorded when the file was trusted is compared at
 * every check, so a change made while keel's programs were not attached
 * is caught too.
 *
 * Same rules as records.h: fixed-width fields, explicit padding.
 */
#ifndef KEEL_EXEC_H
#define KEEL_EXEC_H

#include "keel/records.h"

/* KEEL_EV_EXEC: a program is about to be executed. */
struct keel_exec_event {
	struct keel_event_hdr hdr;
	__u32 pid; /* thread group id of the caller */
	__u32 uid;
	__u64 cgroup_id;
	char comm[KEEL_COMM_LEN];     /* caller's name before the exec */
	char filename[KEEL_PATH_LEN]; /* as passed to execve, maybe relative */
};

/* exec_trusted: key */
struct keel_exec_key {
	__u64 ino;
	__u32 dev; /* kernel dev_t of the superblock (s_dev) */
	__u32 gen; /* i_generation */
};

/* exec_trusted: value */
struct keel_exec_trust {
	__s64 ctime_sec;
	__u32 ctime_nsec;
	__u32 flags; /* KEEL_TRUST_* */
	__u64 i_version;
	__u64 id; /* trust store row, for keeld */
};

#define KEEL_TRUST_PENDING (1U << 0) /* being hashed by keeld: not yet trusted */
/*
 * Trusted by the kernel when an installer closed it; keeld has not yet
 * recorded it in the store.  @id then holds the kernel's nonce for this
 * close, which lets keeld tell it from a later rewrite of the same inode.
 */
#define KEEL_TRUST_INSTALLED (1U << 1)
/*
 * A change to it (chmod, chown, utimes, xattr, file flags) is under way:
 * refused until the kernel says whether the change was made (then the
 * entry is removed) or refused (then this bit is cleared).  Set and
 * cleared by the kernel only.
 */
#define KEEL_TRUST_CHANGING (1U << 2)

#define KEEL_EXEC_FS_NAME_LEN  16 /* a file system type's name, NUL included */
#define KEEL_EXEC_MAX_FS_TYPES 32 /* [exec] unstable_fs */

/* exec_unstable_fs: key, a type's name as /proc/filesystems spells it */
struct keel_exec_fs_name {
	char name[KEEL_EXEC_FS_NAME_LEN];
};

/* What keeld's own open of a file saw: written by file_open for keeld's threads. */
struct keel_exec_ident {
	struct keel_exec_key key;
	__s64 ctime_sec;
	__u32 ctime_nsec;
	__s32 writecount; /* i_writecount: > 0 while open for writing */
	__u64 i_version;
	__u32 nlink;
	__u32 mode;
	struct keel_exec_fs_name fs_type; /* the superblock's s_type->name */
	__u8 fs_uuid[16]; /* the superblock's s_uuid: zero where the file system has none */
};

/* exec_state[0]: set by keeld */
struct keel_exec_state {
	__u32 mode;	  /* KEEL_EXEC_MODE_* */
	__u32 keeld_tgid; /* whose opens fill exec_ident; 0: nobody */
	__u32 protect;	  /* 1: only keeld may use bpf() on keel objects, no ptrace of keeld */
	__u32 flags;	  /* KEEL_EXEC_F_*: 0 is the strictest */
};

#define KEEL_EXEC_F_ALLOW_KEXEC_LOAD (1U << 0) /* [exec] allow_kexec_load: kexec_load from memory */
#define KEEL_EXEC_F_ANY_FIRMWARE     (1U << 1) /* [exec] check_firmware = false */

/*
 * Approved installers (see docs/exec.md, "Installers").  A task whose
 * exec_installer storage is ACTIVE belongs to an installer's process
 * tree: files it opens for writing are tracked in exec_installing and
 * become trusted when their last writer closes them, instead of tainted.
 */
struct keel_exec_installer {
	__u32 root_tgid; /* the process that became an installer */
	__u32 flags;	 /* KEEL_INST_* */
};

#define KEEL_INST_ACTIVE	 (1U << 0)
#define KEEL_INST_EXEC_PENDING	 (1U << 1) /* exec of a configured installer under way */
#define KEEL_EXEC_MAX_INSTALLERS 16	   /* [exec] installers: paths */

/* exec_installing: value, per inode an installer has open for writing */
struct keel_exec_installing {
	__s32 writers; /* installer files open for writing */
	__u32 root_tgid;
	char path[KEEL_PATH_LEN]; /* where it was opened, or renamed to */
};

enum keel_exec_install_kind {
	KEEL_EXEC_I_CLOSED = 1,	 /* last writer closed: trusted, keeld records it */
	KEEL_EXEC_I_REFUSED = 2, /* written by an installer but left untrusted (reason) */
	KEEL_EXEC_I_RENAMED = 3, /* an installer renamed a tracked or trusted file */
	KEEL_EXEC_I_RESTAMP = 4, /* an installer changed a trusted file's metadata */
	KEEL_EXEC_I_START = 5,	 /* a configured installer started: pid */
};

enum keel_exec_install_reason {
	KEEL_EXEC_IR_NONE = 0,
	KEEL_EXEC_IR_TRACK_FULL = 1,   /* exec_installing full: [exec] max_installing */
	KEEL_EXEC_IR_TRUST_FULL = 2,   /* exec_trusted full: [exec] max_trusted */
	KEEL_EXEC_IR_OTHER_WRITER = 3, /* a non-installer had it open for writing too */
	KEEL_EXEC_IR_NO_EVENT = 4,     /* ring buffer full: keeld could not be told */
	KEEL_EXEC_IR_NOT_ROOT = 5,     /* a configured installer run by other than root */
	KEEL_EXEC_IR_USER_CHANGED = 6, /* an installer's process became a non-root user */
};

/* KEEL_EV_EXEC_INSTALL */
struct keel_exec_install {
	struct keel_event_hdr hdr;
	__u32 pid;	 /* the task that closed, renamed or changed it */
	__u32 root_tgid; /* the installer process tree's first process */
	__u32 kind;	 /* enum keel_exec_install_kind */
	__u32 reason;	 /* enum keel_exec_install_reason */
	struct keel_exec_key key;
	__s64 ctime_sec; /* the stamp the kernel trusts */
	__u32 ctime_nsec;
	__u32 uid; /* the task's real uid */
	__u64 i_version;
	__u64 nonce; /* keel_exec_trust.id of the kernel entry */
	__u32 ppid;  /* the task's parent process */
	__u32 pad;
	char comm[KEEL_COMM_LEN];
	/*
	 * CLOSED, REFUSED: the full path where the installer opened it.
	 * RENAMED: the new name and (old_path) the old one, each from the
	 * file system's root (no mount point: the LSM hook cannot see it),
	 * from which keeld works out the new full path.
	 */
	char path[KEEL_PATH_LEN];
	char old_path[KEEL_PATH_LEN];
};

enum keel_exec_mode {
	KEEL_EXEC_MODE_AUDIT = 0,   /* allow and report: the default */
	KEEL_EXEC_MODE_ENFORCE = 1, /* refuse with EPERM and report */
};

/* What was attempted, in a verdict record. */
enum keel_exec_op {
	KEEL_EXEC_OP_EXEC = 1,	     /* execve of a program, script or interpreter */
	KEEL_EXEC_OP_MMAP = 2,	     /* mmap with PROT_EXEC */
	KEEL_EXEC_OP_MPROTECT = 3,   /* mprotect adding PROT_EXEC */
	KEEL_EXEC_OP_MODULE = 4,     /* finit_module */
	KEEL_EXEC_OP_MODULE_MEM = 5, /* init_module: no file */
	KEEL_EXEC_OP_SCRIPT = 12,    /* an interpreter opening its script, or reading it on stdin */
	KEEL_EXEC_OP_KEXEC = 13,     /* kexec_file_load: the kernel or initramfs to boot */
	KEEL_EXEC_OP_KEXEC_MEM = 14, /* kexec_load: segments from memory, no file */
	KEEL_EXEC_OP_FIRMWARE = 15,  /* a firmware file read for a device */
	KEEL_EXEC_OP_FIRMWARE_MEM = 11, /* firmware written through sysfs (fallback): no file */
	/* taints: a change to a trusted file */
	KEEL_EXEC_OP_OPEN_WRITE = 16,
	KEEL_EXEC_OP_SETATTR = 17, /* chmod, chown, utimes, truncate */
	KEEL_EXEC_OP_XATTR = 18,   /* setxattr, removexattr */
	KEEL_EXEC_OP_LINK = 19,
	KEEL_EXEC_OP_RENAME = 20,
	KEEL_EXEC_OP_UNLINK = 21,
	KEEL_EXEC_OP_MMAP_SHARED_WRITE = 22,
	KEEL_EXEC_OP_TRUNCATE = 23,
	KEEL_EXEC_OP_UNMOUNT =
		24, /* the file system was shut down: every entry on key.dev (ino 0) */
	/* self-protection */
	KEEL_EXEC_OP_BPF = 32,
	KEEL_EXEC_OP_PTRACE = 33,
	/* native code that comes from no file (docs/exec.md, "Native code") */
	KEEL_EXEC_OP_ANON_MMAP = 40,	     /* mmap of anonymous memory with PROT_EXEC */
	KEEL_EXEC_OP_ANON_MPROTECT = 41,     /* mprotect adding PROT_EXEC to anonymous memory */
	KEEL_EXEC_OP_PROC_MEM_WRITE = 42,    /* open of /proc/PID/mem for writing */
	KEEL_EXEC_OP_TRACE_ATTACH = 43,	     /* PTRACE_ATTACH, PTRACE_SEIZE */
	KEEL_EXEC_OP_TRACE_ME = 44,	     /* PTRACE_TRACEME: the parent becomes the tracer */
	KEEL_EXEC_OP_VM_WRITEV = 45,	     /* process_vm_writev */
	KEEL_EXEC_OP_READ_IMPLIES_EXEC = 46, /* personality(READ_IMPLIES_EXEC): executable heap */
};

/* Why a file is not trusted. */
enum keel_exec_reason {
	KEEL_EXEC_R_TRUSTED = 0,
	KEEL_EXEC_R_UNTRUSTED = 1,   /* never installed */
	KEEL_EXEC_R_CHANGED = 2,     /* stamp differs from the one recorded */
	KEEL_EXEC_R_PENDING = 3,     /* still being hashed */
	KEEL_EXEC_R_WRITABLE = 4,    /* open for writing somewhere */
	KEEL_EXEC_R_DELETED = 5,     /* no name left (unlinked, memfd, O_TMPFILE) */
	KEEL_EXEC_R_NO_FILE = 6,     /* init_module from memory */
	KEEL_EXEC_R_PROTECTED = 7,   /* keel's own objects or keeld */
	KEEL_EXEC_R_UNSTABLE_FS = 8, /* on one of [exec] unstable_fs */
	KEEL_EXEC_R_NOT_JIT = 16,    /* the program is not one of [exec] jits */
	KEEL_EXEC_R_NOT_TRACER = 17, /* the program is not one of [exec] tracers */
};

/*
 * exec_program_roles: what the programs named in the configuration may
 * do, by the inode keeld found at each path (value: KEEL_EXEC_ROLE_*).
 */
#define KEEL_EXEC_ROLE_JIT (1U << 0) /* [exec] jits: anonymous executable memory */
#define KEEL_EXEC_ROLE_TRACER \
	(1U << 1) /* [exec] tracers: ptrace, /proc/PID/mem, process_vm_writev */
#define KEEL_EXEC_ROLE_INTERP (1U << 2) /* [exec] interpreters: its script must be trusted */
#define KEEL_EXEC_ROLE_STRICT (1U << 3) /* [exec] strict_interpreters: every file it reads */
/* the option grammar of an interpreter, from its name (none: the first non-option) */
#define KEEL_EXEC_ROLE_PY	 (1U << 4) /* python*: -c CMD, -m MOD, -W/-X take a value */
#define KEEL_EXEC_ROLE_PERL	 (1U << 5) /* perl*: -e/-E CODE, -I DIR */
#define KEEL_EXEC_ROLE_SH	 (1U << 6) /* *sh: -c, -s, -o/-O NAME, --rcfile FILE */
#define KEEL_EXEC_MAX_ROLE_PATHS 16 /* paths in each of [exec] jits, tracers, interpreters... */

enum keel_exec_decision {
	KEEL_EXEC_D_DENY = 1,  /* refused (enforce) */
	KEEL_EXEC_D_AUDIT = 2, /* allowed, would be refused (audit) */
	KEEL_EXEC_D_TAINT = 3, /* trust removed */
};

/* Per-CPU counters in "exec_stats", index 0. */
struct keel_exec_stats {
	__u64 execs;  /* bprm checks */
	__u64 checks; /* every file checked: exec, mmap, mprotect, module */
	__u64 denied;
	__u64 audited;
	__u64 taints;
	__u64 dropped;	       /* ring buffer full: record lost, counted */
	__u64 installed;       /* files trusted on an installer's last close */
	__u64 install_refused; /* written by an installer, left untrusted (a limit) */
};

/* KEEL_EV_EXEC_VERDICT: a refusal, an audited allow or a taint. */
struct keel_exec_verdict {
	struct keel_event_hdr hdr;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 op;	/* enum keel_exec_op */
	__u32 reason;	/* enum keel_exec_reason */
	__u32 decision; /* enum keel_exec_decision */
	__u32 mode;	/* enum keel_exec_mode at the time */
	__u32 pad;
	struct keel_exec_key key;
	char comm[KEEL_COMM_LEN];
	char path[KEEL_PATH_LEN]; /* full path when the hook has one, else the name */
};

#endif /* KEEL_EXEC_H */
