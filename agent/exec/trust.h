/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The trust store: one SQLite database (libsqlite3) holding, per trusted
 * file, its path, SHA-256, inode identity and change stamp.  Every change
 * is one transaction in a rollback journal with synchronous=FULL, so a
 * kill -9 or a power cut at any moment leaves either the old or the new
 * record, never half of one.  keeld and `keelctl install` (when keeld's
 * exec subsystem cannot run) both write it; SQLite's locks serialise them.
 */
#ifndef KEEL_EXEC_TRUST_H
#define KEEL_EXEC_TRUST_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define KEEL_TRUST_DEFAULT_DB "/var/lib/keel/trust.db"

struct keel_trust;

enum keel_trust_state {
	KEEL_TRUST_TRUSTED = 0,
	KEEL_TRUST_TAINTED = 1,	   /* changed after it was trusted: never runs again */
	KEEL_TRUST_UNVERIFIED = 2, /* recorded without keeld: hashed again before use */
};

/*
 * What a file's trust covers besides its content: owner, group, mode
 * (with the setuid and setgid bits) and file capabilities.  A change to
 * any of them while keel's programs were not watching leaves the SHA-256
 * as it was; the re-hash at start compares these too.
 */
struct keel_trust_meta {
	bool known;    /* false: recorded before the store kept them */
	uint32_t mode; /* st_mode */
	uint32_t uid, gid;
	char caps[129]; /* security.capability in hex; "" when none */
};

struct keel_trust_rec {
	int64_t id;
	char path[PATH_MAX];
	char sha256[65]; /* lower-case hex */
	uint32_t dev;	 /* kernel dev_t (s_dev) */
	uint32_t gen;
	uint64_t ino;
	int64_t ctime_sec;
	uint32_t ctime_nsec;
	uint64_t i_version;
	enum keel_trust_state state;
	char source[16]; /* install, add, dpkg, installer, rehash */
	char note[128];	 /* why it is tainted */
	int64_t updated; /* unix time of the last change */
	struct keel_trust_meta meta;
	/*
	 * The file system's UUID (s_uuid) in hex, all zeros for one that has
	 * none; "" when not recorded (a row from before the store kept it).
	 */
	char fs_uuid[33];
};

/* Open (creating it and its directory when missing) the store at @path. */
int keel_trust_open(const char *path, struct keel_trust **ret, char *why, size_t len);
void keel_trust_close(struct keel_trust *t);

/* Insert or replace the record of @rec->path; sets @rec->id. */
int keel_trust_put(struct keel_trust *t, struct keel_trust_rec *rec);
/* The first record of this inode; -ENOENT when none. */
int keel_trust_get_inode(struct keel_trust *t, uint32_t dev, uint64_t ino, uint32_t gen,
			 struct keel_trust_rec *ret);
/* -ENOENT when @path has no record. */
int keel_trust_get(struct keel_trust *t, const char *path, struct keel_trust_rec *ret);
int keel_trust_remove(struct keel_trust *t, const char *path);
/* Mark every record of this inode tainted, with @note; returns how many. */
int keel_trust_taint(struct keel_trust *t, uint32_t dev, uint64_t ino, uint32_t gen,
		     const char *note);
/* The file system on @dev is gone: every trusted row on it is tainted; how many, or -errno. */
int keel_trust_taint_dev(struct keel_trust *t, uint32_t dev, const char *note);
/*
 * An installer changed this inode's metadata: record its new stamp and,
 * when @meta is known, its new owner, mode and capabilities.
 */
int keel_trust_restamp(struct keel_trust *t, uint32_t dev, uint64_t ino, uint32_t gen,
		       int64_t ctime_sec, uint32_t ctime_nsec, uint64_t i_version,
		       const struct keel_trust_meta *meta);
/* Record @meta for record @id (a record from before the store kept it). */
/* Record @fs_uuid for record @id (a record from before the store kept it). */
int keel_trust_set_fs_uuid(struct keel_trust *t, int64_t id, const char *fs_uuid);
int keel_trust_set_meta(struct keel_trust *t, int64_t id, const struct keel_trust_meta *meta);
/*
 * An installer renamed this inode to @path: its record moves there, and
 * the record of the file @path named before (replaced) goes.
 */
int keel_trust_rename(struct keel_trust *t, uint32_t dev, uint64_t ino, uint32_t gen,
		      const char *path);
int keel_trust_set_state(struct keel_trust *t, int64_t id, enum keel_trust_state state,
			 const char *note);
/* Call @cb for each record (ordered by path); a non-zero return stops. */
int keel_trust_foreach(struct keel_trust *t, int (*cb)(const struct keel_trust_rec *rec, void *ctx),
		       void *ctx);
/* Key/value settings kept with the store (the exec mode). */
int keel_trust_meta_get(struct keel_trust *t, const char *key, char *val, size_t len);
int keel_trust_meta_set(struct keel_trust *t, const char *key, const char *val);

const char *keel_trust_state_name(enum keel_trust_state state);

#endif /* KEEL_EXEC_TRUST_H */
