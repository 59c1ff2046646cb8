// SPDX-License-Identifier: GPL-2.0-only
/* The exec trust store (agent/exec/trust.c) and file hashing (hash.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/hash.h"
#include "exec/trust.h"
#include "tmp_path.h"

static char dir[128], db[160];

static void setup(void)
{
	keel_test_tmp_template(dir, sizeof(dir), "keel-trust-");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/sub/trust.db", dir);
}

static void teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static struct keel_trust *open_store(void)
{
	struct keel_trust *t = NULL;
	char why[512];

	cr_assert_eq(keel_trust_open(db, &t, why, sizeof(why)), 0, "%s", why);
	return t;
}

static struct keel_trust_rec rec_for(const char *path, uint64_t ino)
{
	struct keel_trust_rec r = { 0 };

	snprintf(r.path, sizeof(r.path), "%s", path);
	snprintf(r.sha256, sizeof(r.sha256), "%064d", 7);
	r.dev = 42;
	r.ino = ino;
	r.gen = 3;
	r.ctime_sec = 1700000000;
	r.ctime_nsec = 5;
	r.i_version = 9;
	snprintf(r.source, sizeof(r.source), "install");
	return r;
}

TestSuite(exec_trust, .init = setup, .fini = teardown);

Test(exec_trust, put_get_remove_round_trip)
{
	struct keel_trust *t = open_store();
	struct keel_trust_rec r = rec_for("/usr/bin/a", 100), got;

	snprintf(r.fs_uuid, sizeof(r.fs_uuid), "00112233445566778899aabbccddeeff");
	cr_assert_eq(keel_trust_put(t, &r), 0);
	cr_assert_gt(r.id, 0);
	cr_assert_eq(keel_trust_get(t, "/usr/bin/a", &got), 0);
	cr_assert_str_eq(got.sha256, r.sha256);
	cr_assert_eq(got.ino, 100);
	cr_assert_eq(got.dev, 42);
	cr_assert_eq(got.gen, 3);
	cr_assert_eq(got.ctime_sec, 1700000000);
	cr_assert_eq(got.i_version, 9);
	cr_assert_eq(got.state, KEEL_TRUST_TRUSTED);
	cr_assert_str_eq(got.fs_uuid, "00112233445566778899aabbccddeeff");
	cr_assert_eq(keel_trust_remove(t, "/usr/bin/a"), 0);
	cr_assert_eq(keel_trust_get(t, "/usr/bin/a", &got), -ENOENT);
	cr_assert_eq(keel_trust_remove(t, "/usr/bin/a"), -ENOENT);
	keel_trust_close(t);
}

Test(exec_trust, reinstall_replaces_the_record_of_a_path)
{
	struct keel_trust *t = open_store();
	struct keel_trust_rec r = rec_for("/usr/bin/a", 100), got;

	snprintf(r.fs_uuid, sizeof(r.fs_uuid), "00112233445566778899aabbccddeeff");
	cr_assert_eq(keel_trust_put(t, &r), 0);
	r.ino = 200;
	cr_assert_eq(keel_trust_put(t, &r), 0);
	cr_assert_eq(keel_trust_get(t, "/usr/bin/a", &got), 0);
	cr_assert_eq(got.ino, 200);
	keel_trust_close(t);
}

Test(exec_trust, taint_marks_every_record_of_the_inode_only)
{
	struct keel_trust *t = open_store();
	struct keel_trust_rec a = rec_for("/a", 1), b = rec_for("/b", 2), got;

	cr_assert_eq(keel_trust_put(t, &a), 0);
	cr_assert_eq(keel_trust_put(t, &b), 0);
	cr_assert_eq(keel_trust_taint(t, 42, 1, 3, "open_write by sh"), 1);
	cr_assert_eq(keel_trust_taint(t, 42, 1, 4, "wrong generation"), 0);
	cr_assert_eq(keel_trust_get(t, "/a", &got), 0);
	cr_assert_eq(got.state, KEEL_TRUST_TAINTED);
	cr_assert_str_eq(got.note, "open_write by sh");
	cr_assert_eq(keel_trust_get(t, "/b", &got), 0);
	cr_assert_eq(got.state, KEEL_TRUST_TRUSTED);
	keel_trust_close(t);
}

static int count_cb(const struct keel_trust_rec *rec, void *ctx)
{
	(void)rec;
	++*(int *)ctx;
	return 0;
}

Test(exec_trust, meta_and_foreach)
{
	struct keel_trust *t = open_store();
	char val[16];
	int n = 0;

	cr_assert_eq(keel_trust_meta_get(t, "mode", val, sizeof(val)), -ENOENT);
	cr_assert_eq(keel_trust_meta_set(t, "mode", "enforce"), 0);
	cr_assert_eq(keel_trust_meta_get(t, "mode", val, sizeof(val)), 0);
	cr_assert_str_eq(val, "enforce");
	for (int i = 0; i < 50; i++) {
		char p[32];
		struct keel_trust_rec r;

		snprintf(p, sizeof(p), "/f%d", i);
		r = rec_for(p, i);
		cr_assert_eq(keel_trust_put(t, &r), 0);
	}
	cr_assert_eq(keel_trust_foreach(t, count_cb, &n), 0);
	cr_assert_eq(n, 50);
	keel_trust_close(t);
}

/* A writer killed with SIGKILL in the middle of a stream of puts loses no committed record. */
Test(exec_trust, survives_kill_9_of_a_writer)
{
	struct keel_trust *t;
	int fds[2], n = 0, status;
	char c;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		t = open_store();
		for (int i = 0;; i++) {
			char p[32];
			struct keel_trust_rec r;

			snprintf(p, sizeof(p), "/k%d", i);
			r = rec_for(p, i);
			if (keel_trust_put(t, &r))
				_exit(1);
			if (write(fds[1], "x", 1) != 1) /* committed */
				_exit(1);
		}
	}
	close(fds[1]);
	while (n < 40 && read(fds[0], &c, 1) == 1)
		n++;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	while (read(fds[0], &c, 1) == 1)
		n++;
	close(fds[0]);
	t = open_store();
	int seen = 0;

	cr_assert_eq(keel_trust_foreach(t, count_cb, &seen), 0);
	cr_assert_geq(seen, n, "committed %d, found %d", n, seen);
	cr_assert_leq(seen, n + 1);
	keel_trust_close(t);
}

Test(exec_trust, sha256_of_a_known_file)
{
	char path[160], hex[65];
	int fd;

	snprintf(path, sizeof(path), "%s/abc", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(write(fd, "abc", 3), 3);
	close(fd);
	cr_assert_eq(keel_hash_path(path, "sha256", hex, sizeof(hex)), 0);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cr_assert_eq(keel_hash_path(path, "md5", hex, sizeof(hex)), 0);
	cr_assert_str_eq(hex, "900150983cd24fb0d6963f7d28e17f72");
	cr_assert_eq(keel_hash_path("/nonexistent/x", "sha256", hex, sizeof(hex)), -ENOENT);
}

Test(exec_trust, unwritable_location_is_reported)
{
	struct keel_trust *t = NULL;
	char why[512];

	cr_assert_lt(keel_trust_open("/proc/keel/trust.db", &t, why, sizeof(why)), 0);
	cr_assert_not_null(strstr(why, "/proc/keel"));
}

/* An installer's dpkg-new -> final rename: the record moves, the replaced one goes. */
Test(exec_trust, installer_rename_moves_the_record_and_drops_the_replaced_one)
{
	struct keel_trust *t = open_store();
	struct keel_trust_rec old = rec_for("/usr/bin/prog", 100);
	struct keel_trust_rec fresh = rec_for("/usr/bin/prog.dpkg-new", 200), got;

	cr_assert_eq(keel_trust_put(t, &old), 0);
	cr_assert_eq(keel_trust_put(t, &fresh), 0);
	cr_assert_eq(keel_trust_rename(t, 42, 200, 3, "/usr/bin/prog"), 1);
	cr_assert_eq(keel_trust_get(t, "/usr/bin/prog", &got), 0);
	cr_assert_eq(got.ino, 200, "the new inode has the final name");
	cr_assert_eq(keel_trust_get(t, "/usr/bin/prog.dpkg-new", &got), -ENOENT);
	cr_assert_eq(keel_trust_get_inode(t, 42, 100, 3, &got), -ENOENT,
		     "the replaced file's record is gone");
	cr_assert_eq(keel_trust_get_inode(t, 42, 200, 3, &got), 0);
	cr_assert_str_eq(got.path, "/usr/bin/prog");
	keel_trust_close(t);
}

Test(exec_trust, restamp_updates_only_trusted_records_of_the_inode)
{
	struct keel_trust *t = open_store();
	struct keel_trust_rec a = rec_for("/a", 1), b = rec_for("/b", 2), got;

	cr_assert_eq(keel_trust_put(t, &a), 0);
	cr_assert_eq(keel_trust_put(t, &b), 0);
	cr_assert_eq(keel_trust_restamp(t, 42, 1, 3, 1800000000, 77, 11, NULL), 1);
	cr_assert_eq(keel_trust_get(t, "/a", &got), 0);
	cr_assert_eq(got.ctime_sec, 1800000000);
	cr_assert_eq(got.ctime_nsec, 77);
	cr_assert_eq(got.i_version, 11);
	cr_assert_eq(keel_trust_get(t, "/b", &got), 0);
	cr_assert_eq(got.ctime_sec, 1700000000, "another inode is untouched");
	cr_assert_eq(keel_trust_taint(t, 42, 1, 3, "changed"), 1);
	cr_assert_eq(keel_trust_restamp(t, 42, 1, 3, 1900000000, 0, 0, NULL), 0,
		     "a tainted record is not restamped");
	keel_trust_close(t);
}

Test(exec_trust, md5_and_sha256_of_one_read)
{
	char path[160], md5[33], sha[65];
	int fd;

	snprintf(path, sizeof(path), "%s/abc", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "abc", 3), 3);
	close(fd);
	fd = open(path, O_RDONLY);
	cr_assert_eq(keel_hash_fd2(fd, "md5", md5, sizeof(md5), "sha256", sha, sizeof(sha)), 0);
	close(fd);
	cr_assert_str_eq(md5, "900150983cd24fb0d6963f7d28e17f72");
	cr_assert_str_eq(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(exec_trust, owner_mode_and_capabilities_round_trip)
{
	struct keel_trust *t = open_store();
	struct keel_trust_rec r = rec_for("/usr/bin/ping", 100), got;
	struct keel_trust_meta m = { .known = true, .mode = 0104755, .uid = 0, .gid = 0 };

	snprintf(r.meta.caps, sizeof(r.meta.caps), "0100000200200000");
	r.meta.known = true;
	r.meta.mode = 0100755;
	r.meta.uid = 0;
	r.meta.gid = 2;
	cr_assert_eq(keel_trust_put(t, &r), 0);
	cr_assert_eq(keel_trust_get(t, "/usr/bin/ping", &got), 0);
	cr_assert(got.meta.known);
	cr_assert_eq(got.meta.mode, 0100755);
	cr_assert_eq(got.meta.gid, 2);
	cr_assert_str_eq(got.meta.caps, "0100000200200000");
	/* an installer's chmod u+s: new stamp, new mode */
	cr_assert_eq(keel_trust_restamp(t, 42, 100, 3, 1800000000, 1, 12, &m), 1);
	cr_assert_eq(keel_trust_get(t, "/usr/bin/ping", &got), 0);
	cr_assert_eq(got.meta.mode, 0104755);
	cr_assert_str_eq(got.meta.caps, "");
	/* metadata keeld could not read: the recorded one stays */
	cr_assert_eq(keel_trust_restamp(t, 42, 100, 3, 1800000001, 1, 13, NULL), 1);
	cr_assert_eq(keel_trust_get(t, "/usr/bin/ping", &got), 0);
	cr_assert_eq(got.meta.mode, 0104755);
	cr_assert_eq(got.ctime_sec, 1800000001);
	keel_trust_close(t);
}

/* The first schema, as keeld wrote it before owner, mode and capabilities. */
static const char old_schema[] =
	"CREATE TABLE trust ("
	" id INTEGER PRIMARY KEY,"
	" path TEXT NOT NULL UNIQUE,"
	" sha256 TEXT NOT NULL,"
	" dev INTEGER NOT NULL, ino INTEGER NOT NULL, gen INTEGER NOT NULL,"
	" ctime_sec INTEGER NOT NULL, ctime_nsec INTEGER NOT NULL,"
	" i_version INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" source TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',"
	" updated INTEGER NOT NULL);"
	"CREATE INDEX trust_inode ON trust(dev, ino, gen);"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT INTO trust (path, sha256, dev, ino, gen, ctime_sec, ctime_nsec, i_version,"
	" state, source, note, updated) VALUES ('/usr/bin/old', 'ab', 42, 7, 3, 1700000000, 5,"
	" 9, 0, 'dpkg', '', 1700000001), ('/usr/bin/bad', 'cd', 42, 8, 3, 1, 2, 3, 1, 'add',"
	" 'open_write by sh', 1700000002);"
	"INSERT INTO meta VALUES ('mode', 'enforce');";

Test(exec_trust, a_store_of_the_first_schema_is_migrated_without_loss)
{
	struct keel_trust_rec got;
	struct keel_trust_meta m = { .known = true, .mode = 0100755 };
	struct keel_trust *t;
	char val[16], sub[160];
	sqlite3 *raw;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(raw, old_schema, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);

	t = open_store();
	cr_assert_eq(keel_trust_get(t, "/usr/bin/old", &got), 0);
	cr_assert_str_eq(got.sha256, "ab");
	cr_assert_eq(got.ino, 7);
	cr_assert_eq(got.ctime_nsec, 5);
	cr_assert_eq(got.state, KEEL_TRUST_TRUSTED);
	cr_assert_str_eq(got.source, "dpkg");
	cr_assert_eq(got.updated, 1700000001);
	cr_assert(!got.meta.known, "an old record has no owner, mode or capabilities");
	cr_assert_str_eq(got.fs_uuid, "", "an old record has no file system UUID");
	cr_assert_eq(keel_trust_get(t, "/usr/bin/bad", &got), 0);
	cr_assert_eq(got.state, KEEL_TRUST_TAINTED);
	cr_assert_str_eq(got.note, "open_write by sh");
	cr_assert_eq(keel_trust_meta_get(t, "mode", val, sizeof(val)), 0);
	cr_assert_str_eq(val, "enforce");
	cr_assert_eq(keel_trust_get(t, "/usr/bin/old", &got), 0);
	cr_assert_eq(keel_trust_set_meta(t, got.id, &m), 0);
	cr_assert_eq(keel_trust_set_fs_uuid(t, got.id, "0123456789abcdef0123456789abcdef"), 0);
	keel_trust_close(t);

	/* opened again: migrated once, the recorded metadata kept */
	t = open_store();
	cr_assert_eq(keel_trust_get(t, "/usr/bin/old", &got), 0);
	cr_assert(got.meta.known);
	cr_assert_eq(got.meta.mode, 0100755);
	cr_assert_str_eq(got.fs_uuid, "0123456789abcdef0123456789abcdef");
	keel_trust_close(t);
}
