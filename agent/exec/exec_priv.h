/* SPDX-License-Identifier: GPL-2.0-only */
/* The exec subsystem's state, shared by its files (not a public header). */
#ifndef KEEL_EXEC_PRIV_H
#define KEEL_EXEC_PRIV_H

#include <jansson.h>
#include <limits.h>
#include <linux/types.h>

#include "exec.skel.h"
#include "exec/exec_config.h"
#include "exec/guard.h"
#include "exec/trust.h"
#include "keel/records.h"
#include "keel/exec.h"
#include "keeld/pins.h"
#include "keeld/ringbuf.h"
#include "keeld/subsys.h"

/* The [exec] section (keeld/config.h keeps it; exec_config.c declares it). */
static inline const struct exec_config *exec_cfg(const struct keel_subsys *s)
{
	return s->config;
}

struct exec_priv {
	struct exec_bpf *skel;
	struct keel_ringbuf rb; /* exec_events */
	struct keel_trust *store;
	__u32 mode;
	struct keel_pins pins;	  /* <pin_dir>/exec, kept across restarts */
	struct exec_guard guard;  /* guard.c */
	struct exec_inst *inst;	  /* installer.c */
	struct exec_progs *progs; /* programs.c */
	__u32 state_flags;	  /* KEEL_EXEC_F_*, from the configuration */
	/* fstypes.c: [exec] unstable_fs less allow_unstable_fs */
	struct keel_exec_fs_name unstable[KEEL_EXEC_MAX_FS_TYPES];
	int n_unstable;
};

/* The exec_state flags keeld's configuration asks for (kexec_load, firmware). */
static inline __u32 exec_state_flags(const struct exec_priv *p)
{
	return p->state_flags;
}

/* trustfile.c: open @path and learn its identity from the kernel. */
int exec_probe(struct exec_priv *p, const char *path, int *ret_fd, struct keel_exec_ident *id);
const char *exec_probe_error(int err);

/* fstypes.c: file systems whose content can change without keel seeing it (see there). */
int exec_fs_start(struct keel_subsys *s, char *why, size_t len);
/* Is @type (a file system type's name) one nothing may run from in enforce mode? */
bool exec_fs_unstable(const struct exec_priv *p, const char *type);
/* 0, or -EPERM when enforce would lock everybody out (@why says what to do). */
int exec_fs_enforce_check(struct keel_subsys *s, char *why, size_t len);

/* installer.c: approved installers (see there). */
int exec_installers_start(struct keel_subsys *s, char *why, size_t len);
void exec_installers_stop(struct keel_subsys *s);
void exec_on_install(struct keel_subsys *s, const struct keel_exec_install *ev);
void exec_installer_tainted(struct keel_subsys *s, const struct keel_exec_key *key);
/* The file @key is now trusted at @path: if that is an installer's path, it is the installer. */
void exec_installer_moved(struct keel_subsys *s, const char *path, const struct keel_exec_key *key);
/* programs.c: [exec] jits and tracers (see there). */
int exec_programs_start(struct keel_subsys *s, char *why, size_t len);
void exec_programs_stop(struct keel_subsys *s);
/* The file @key is now trusted at @path: if that is a jit's or tracer's path, it is that program. */
void exec_programs_moved(struct keel_subsys *s, const char *path, const struct keel_exec_key *key);

json_t *exec_cmd_installer_mark(struct keel_subsys *s, json_t *req, bool privileged, char *why,
				size_t len);
json_t *exec_cmd_installer_sync(struct keel_subsys *s, json_t *req, char *why, size_t len);
void exec_installer_counters(struct keel_subsys *s, json_t *out);

/* trustfile.c: @id's file system UUID as 32 hex digits (and a NUL) in @out. */
void exec_fs_uuid_hex(const struct keel_exec_ident *id, char *out);
/* trustfile.c: owner, mode and file capabilities of the open file @fd. */
int exec_file_meta(int fd, struct keel_trust_meta *ret);
/* Do @a and @b differ (both known)?  Then @why says how. */
bool exec_meta_differs(const struct keel_trust_meta *a, const struct keel_trust_meta *b, char *why,
		       size_t len);
/*
 * trustfile.c: make the kernel trust the file at @path (see there); with
 * @expect_meta, only if its owner, mode and capabilities are those.
 */
int exec_trust_file(struct keel_subsys *s, const char *path, const char *expect_sha,
		    const struct keel_trust_meta *expect_meta, const char *source,
		    struct keel_trust_rec *ret, char *why, size_t len);
/* Load every record of the store into the map, re-hashing changed files. */
int exec_trust_load(struct keel_subsys *s, char *why, size_t len);
/* Remove @path's record and its kernel entry. */
int exec_trust_forget(struct keel_subsys *s, const char *path, char *why, size_t len);
/*
 * Remove the kernel's entry for @rec's inode if it is still the one @rec
 * trusted (the entry names @rec's row); an entry another row trusted stays.
 */
void exec_untrust_row(struct exec_priv *p, const struct keel_trust_rec *rec);
/* Compare @rec with the file now: "ok" or what differs, in @why. */
int exec_trust_check(struct keel_subsys *s, const struct keel_trust_rec *rec, bool rehash,
		     char *why, size_t len);
int exec_set_mode(struct keel_subsys *s, __u32 mode);
const char *exec_mode_name(__u32 mode);
json_t *exec_rec_json(const struct keel_trust_rec *rec);
void exec_emit_trust(struct keel_subsys *s, const char *type, const struct keel_trust_rec *rec,
		     const char *reason);

/* commands.c */
/* offline.c: while exec does not run */
json_t *exec_offline_command(struct keel_subsys *s, const char *verb, json_t *req, bool privileged,
			     char *why, size_t len);
json_t *exec_command(struct keel_subsys *s, const char *verb, json_t *req, bool privileged,
		     char *why, size_t len);

#endif /* KEEL_EXEC_PRIV_H */
