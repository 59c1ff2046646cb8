// SPDX-License-Identifier: GPL-2.0-only
/* The trust store on SQLite: see trust.h. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "exec/trust.h"

struct keel_trust {
	sqlite3 *db;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS trust ("
	" id INTEGER PRIMARY KEY,"
	" path TEXT NOT NULL UNIQUE,"
	" sha256 TEXT NOT NULL,"
	" dev INTEGER NOT NULL, ino INTEGER NOT NULL, gen INTEGER NOT NULL,"
	" ctime_sec INTEGER NOT NULL, ctime_nsec INTEGER NOT NULL,"
	" i_version INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" source TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',"
	" updated INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS trust_inode ON trust(dev, ino, gen);"
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/*
 * Changes to the schema since the first one, by PRAGMA user_version; each
 * runs in one transaction with its version bump, so an interrupted
 * migration leaves the store as it was.  Columns added to existing rows
 * are NULL: "not recorded" (struct keel_trust_meta.known).
 */
static const char *const migrations[] = {
	/* 1: owner, mode and file capabilities */
	"ALTER TABLE trust ADD COLUMN mode INTEGER;"
	"ALTER TABLE trust ADD COLUMN uid INTEGER;"
	"ALTER TABLE trust ADD COLUMN gid INTEGER;"
	"ALTER TABLE trust ADD COLUMN caps TEXT;",
	/* 2: the file system's identity (UUID) */
	"ALTER TABLE trust ADD COLUMN fs_uuid TEXT;",
};

static int migrate(sqlite3 *db, char **msg)
{
	sqlite3_stmt *st;
	int rc, version;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc;
	for (int v = version; v < (int)(sizeof(migrations) / sizeof(migrations[0])); v++) {
		char bump[64];

		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", v + 1);
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, migrations[v], NULL, NULL, msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, bump, NULL, NULL, msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, msg);
		if (rc != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	return SQLITE_OK;
}

const char *keel_trust_state_name(enum keel_trust_state state)
{
	switch (state) {
	case KEEL_TRUST_TRUSTED:
		return "trusted";
	case KEEL_TRUST_TAINTED:
		return "tainted";
	case KEEL_TRUST_UNVERIFIED:
		return "unverified";
	}
	return "unknown";
}

/* SQLite result codes to errno, for callers that speak errno only. */
static int sql_err(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	default:
		return -EIO;
	}
}

static int mkdir_parents(const char *path)
{
	char dir[PATH_MAX];

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int keel_trust_open(const char *path, struct keel_trust **ret, char *why, size_t len)
{
	struct keel_trust *t;
	char *msg = NULL;
	int rc, err;

	err = mkdir_parents(path);
	if (err) {
		snprintf(why, len, "creating the directory of trust store %s: %s", path,
			 strerror(-err));
		return err;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &t->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		snprintf(why, len, "opening trust store %s: %s", path,
			 t->db ? sqlite3_errmsg(t->db) : sqlite3_errstr(rc));
		err = sql_err(rc);
		goto close;
	}
	sqlite3_busy_timeout(t->db, 5000);
	/*
	 * A rollback journal with synchronous=FULL: each change reaches the
	 * disk before the call returns, and an interrupted one is rolled back
	 * by the next opener.
	 */
	rc = sqlite3_exec(t->db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;", NULL, NULL,
			  &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(t->db, schema, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = migrate(t->db, &msg);
	if (rc != SQLITE_OK) {
		snprintf(why, len, "preparing trust store %s: %s", path,
			 msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		err = sql_err(rc);
		goto close;
	}
	chmod(path, 0600);
	*ret = t;
	return 0;
close:
	sqlite3_close(t->db);
	free(t);
	return err ? err : -EIO;
}

void keel_trust_close(struct keel_trust *t)
{
	if (!t)
		return;
	sqlite3_close(t->db);
	free(t);
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return sql_err(rc);
}

/* Bind @m to ?at .. ?at+3 (mode, uid, gid, caps): NULLs when not known. */
static void bind_meta(sqlite3_stmt *st, int at, const struct keel_trust_meta *m)
{
	if (!m || !m->known) {
		for (int i = 0; i < 4; i++)
			sqlite3_bind_null(st, at + i);
		return;
	}
	sqlite3_bind_int64(st, at, m->mode);
	sqlite3_bind_int64(st, at + 1, m->uid);
	sqlite3_bind_int64(st, at + 2, m->gid);
	sqlite3_bind_text(st, at + 3, m->caps, -1, SQLITE_STATIC);
}

int keel_trust_put(struct keel_trust *t, struct keel_trust_rec *rec)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(
		t->db,
		"INSERT INTO trust (path, sha256, dev, ino, gen, ctime_sec, ctime_nsec,"
		" i_version, state, source, note, updated, mode, uid, gid, caps,"
		" fs_uuid)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
		" ?15, ?16, ?17)"
		" ON CONFLICT(path) DO UPDATE SET sha256 = ?2, dev = ?3, ino = ?4,"
		" gen = ?5, ctime_sec = ?6, ctime_nsec = ?7, i_version = ?8,"
		" state = ?9, source = ?10, note = ?11, updated = ?12, mode = ?13,"
		" uid = ?14, gid = ?15, caps = ?16, fs_uuid = ?17",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	rec->updated = time(NULL);
	sqlite3_bind_text(st, 1, rec->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rec->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, rec->dev);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)rec->ino);
	sqlite3_bind_int64(st, 5, rec->gen);
	sqlite3_bind_int64(st, 6, rec->ctime_sec);
	sqlite3_bind_int64(st, 7, rec->ctime_nsec);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)rec->i_version);
	sqlite3_bind_int(st, 9, rec->state);
	sqlite3_bind_text(st, 10, rec->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, rec->note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, rec->updated);
	bind_meta(st, 13, &rec->meta);
	if (rec->fs_uuid[0])
		sqlite3_bind_text(st, 17, rec->fs_uuid, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 17);
	rc = step_done(st);
	if (rc)
		return rc;
	return keel_trust_get(t, rec->path, rec);
}

static void row_to_rec(sqlite3_stmt *st, struct keel_trust_rec *r)
{
	const unsigned char *s;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	s = sqlite3_column_text(st, 1);
	snprintf(r->path, sizeof(r->path), "%s", s ? (const char *)s : "");
	s = sqlite3_column_text(st, 2);
	snprintf(r->sha256, sizeof(r->sha256), "%s", s ? (const char *)s : "");
	r->dev = (uint32_t)sqlite3_column_int64(st, 3);
	r->ino = (uint64_t)sqlite3_column_int64(st, 4);
	r->gen = (uint32_t)sqlite3_column_int64(st, 5);
	r->ctime_sec = sqlite3_column_int64(st, 6);
	r->ctime_nsec = (uint32_t)sqlite3_column_int64(st, 7);
	r->i_version = (uint64_t)sqlite3_column_int64(st, 8);
	r->state = sqlite3_column_int(st, 9);
	s = sqlite3_column_text(st, 10);
	snprintf(r->source, sizeof(r->source), "%s", s ? (const char *)s : "");
	s = sqlite3_column_text(st, 11);
	snprintf(r->note, sizeof(r->note), "%s", s ? (const char *)s : "");
	r->updated = sqlite3_column_int64(st, 12);
	s = sqlite3_column_text(st, 17);
	snprintf(r->fs_uuid, sizeof(r->fs_uuid), "%s", s ? (const char *)s : "");
	r->meta.known = sqlite3_column_type(st, 13) != SQLITE_NULL;
	if (!r->meta.known)
		return;
	r->meta.mode = (uint32_t)sqlite3_column_int64(st, 13);
	r->meta.uid = (uint32_t)sqlite3_column_int64(st, 14);
	r->meta.gid = (uint32_t)sqlite3_column_int64(st, 15);
	s = sqlite3_column_text(st, 16);
	snprintf(r->meta.caps, sizeof(r->meta.caps), "%s", s ? (const char *)s : "");
}

#define COLUMNS                                                              \
	"id, path, sha256, dev, ino, gen, ctime_sec, ctime_nsec, i_version," \
	" state, source, note, updated, mode, uid, gid, caps, fs_uuid"

int keel_trust_get(struct keel_trust *t, const char *path, struct keel_trust_rec *ret)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(t->db, "SELECT " COLUMNS " FROM trust WHERE path = ?1", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_to_rec(st, ret);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return rc == SQLITE_ROW ? 0 : sql_err(rc);
}

/*
 * Prepare @sql, whose ?1 ?2 ?3 name a file's identity (device, inode,
 * generation), and bind them: the statements that find or change a file's
 * record by the identity the kernel reports.
 */
static int prepare_by_inode(struct keel_trust *t, const char *sql, uint32_t dev, uint64_t ino,
			    uint32_t gen, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(t->db, sql, -1, st, NULL);

	if (rc != SQLITE_OK)
		return sql_err(rc);
	sqlite3_bind_int64(*st, 1, dev);
	sqlite3_bind_int64(*st, 2, (sqlite3_int64)ino);
	sqlite3_bind_int64(*st, 3, gen);
	return 0;
}

int keel_trust_get_inode(struct keel_trust *t, uint32_t dev, uint64_t ino, uint32_t gen,
			 struct keel_trust_rec *ret)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare_by_inode(t,
			      "SELECT " COLUMNS " FROM trust WHERE dev = ?1 AND ino = ?2"
			      " AND gen = ?3 ORDER BY id LIMIT 1",
			      dev, ino, gen, &st);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_to_rec(st, ret);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return rc == SQLITE_ROW ? 0 : sql_err(rc);
}

int keel_trust_remove(struct keel_trust *t, const char *path)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(t->db, "DELETE FROM trust WHERE path = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = step_done(st);
	if (rc)
		return rc;
	return sqlite3_changes(t->db) ? 0 : -ENOENT;
}

int keel_trust_taint(struct keel_trust *t, uint32_t dev, uint64_t ino, uint32_t gen,
		     const char *note)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare_by_inode(t,
			      "UPDATE trust SET state = ?4, note = ?5, updated = ?6"
			      " WHERE dev = ?1 AND ino = ?2 AND gen = ?3 AND state = ?7",
			      dev, ino, gen, &st);
	if (rc)
		return rc;
	sqlite3_bind_int(st, 4, KEEL_TRUST_TAINTED);
	sqlite3_bind_text(st, 5, note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, time(NULL));
	sqlite3_bind_int(st, 7, KEEL_TRUST_TRUSTED);
	rc = step_done(st);
	return rc ? rc : sqlite3_changes(t->db);
}

int keel_trust_taint_dev(struct keel_trust *t, uint32_t dev, const char *note)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(t->db,
				"UPDATE trust SET state = ?2, note = ?3, updated = ?4"
				" WHERE dev = ?1 AND state = ?5",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int(st, 2, KEEL_TRUST_TAINTED);
	sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, time(NULL));
	sqlite3_bind_int(st, 5, KEEL_TRUST_TRUSTED);
	rc = step_done(st);
	return rc ? rc : sqlite3_changes(t->db);
}

int keel_trust_restamp(struct keel_trust *t, uint32_t dev, uint64_t ino, uint32_t gen,
		       int64_t ctime_sec, uint32_t ctime_nsec, uint64_t i_version,
		       const struct keel_trust_meta *meta)
{
	sqlite3_stmt *st;
	int rc;

	/* metadata not known: the old one stays (a later re-hash fails on it) */
	rc = prepare_by_inode(t,
			      "UPDATE trust SET ctime_sec = ?4, ctime_nsec = ?5, i_version = ?6,"
			      " updated = ?7, mode = coalesce(?9, mode), uid = coalesce(?10, uid),"
			      " gid = coalesce(?11, gid), caps = coalesce(?12, caps)"
			      " WHERE dev = ?1 AND ino = ?2 AND gen = ?3 AND state = ?8",
			      dev, ino, gen, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 4, ctime_sec);
	sqlite3_bind_int64(st, 5, ctime_nsec);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)i_version);
	sqlite3_bind_int64(st, 7, time(NULL));
	sqlite3_bind_int(st, 8, KEEL_TRUST_TRUSTED);
	bind_meta(st, 9, meta);
	rc = step_done(st);
	return rc ? rc : sqlite3_changes(t->db);
}

int keel_trust_set_fs_uuid(struct keel_trust *t, int64_t id, const char *fs_uuid)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(t->db, "UPDATE trust SET fs_uuid = ?2 WHERE id = ?1", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, fs_uuid, -1, SQLITE_STATIC);
	return step_done(st);
}

int keel_trust_set_meta(struct keel_trust *t, int64_t id, const struct keel_trust_meta *meta)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(
		t->db, "UPDATE trust SET mode = ?2, uid = ?3, gid = ?4, caps = ?5 WHERE id = ?1",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	sqlite3_bind_int64(st, 1, id);
	bind_meta(st, 2, meta);
	return step_done(st);
}

int keel_trust_rename(struct keel_trust *t, uint32_t dev, uint64_t ino, uint32_t gen,
		      const char *path)
{
	sqlite3_stmt *st;
	int rc, err;

	/* one transaction: a crash leaves the old name or the new one */
	rc = sqlite3_exec(t->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	rc = sqlite3_prepare_v2(t->db,
				"DELETE FROM trust WHERE path = ?1 AND NOT"
				" (dev = ?2 AND ino = ?3 AND gen = ?4)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto rollback;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, dev);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 4, gen);
	err = step_done(st);
	if (err)
		goto rollback_err;
	/* several names of one inode (hard links): the first one moves */
	rc = sqlite3_prepare_v2(t->db,
				"UPDATE OR IGNORE trust SET path = ?1, updated = ?5 WHERE id ="
				" (SELECT id FROM trust WHERE dev = ?2 AND ino = ?3 AND gen = ?4"
				" AND path != ?1 LIMIT 1)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto rollback;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, dev);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 4, gen);
	sqlite3_bind_int64(st, 5, time(NULL));
	err = step_done(st);
	if (err)
		goto rollback_err;
	rc = sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto rollback;
	return sqlite3_changes(t->db);
rollback:
	err = sql_err(rc);
rollback_err:
	sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
	return err ? err : -EIO;
}

int keel_trust_set_state(struct keel_trust *t, int64_t id, enum keel_trust_state state,
			 const char *note)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(
		t->db, "UPDATE trust SET state = ?2, note = ?3, updated = ?4 WHERE id = ?1", -1,
		&st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, state);
	sqlite3_bind_text(st, 3, note ? note : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, time(NULL));
	return step_done(st);
}

int keel_trust_foreach(struct keel_trust *t, int (*cb)(const struct keel_trust_rec *rec, void *ctx),
		       void *ctx)
{
	struct keel_trust_rec *rec;
	sqlite3_stmt *st;
	int rc, ret = 0;

	rec = malloc(sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	rc = sqlite3_prepare_v2(t->db, "SELECT " COLUMNS " FROM trust ORDER BY path", -1, &st,
				NULL);
	if (rc != SQLITE_OK) {
		free(rec);
		return sql_err(rc);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_to_rec(st, rec);
		ret = cb(rec, ctx);
		if (ret)
			break;
	}
	sqlite3_finalize(st);
	free(rec);
	if (ret)
		return ret;
	return rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int keel_trust_meta_get(struct keel_trust *t, const char *key, char *val, size_t len)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(t->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(val, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return rc == SQLITE_ROW ? 0 : sql_err(rc);
}

int keel_trust_meta_set(struct keel_trust *t, const char *key, const char *val)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(t->db,
				"INSERT INTO meta (key, value) VALUES (?1, ?2)"
				" ON CONFLICT(key) DO UPDATE SET value = ?2",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(rc);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
	return step_done(st);
}
