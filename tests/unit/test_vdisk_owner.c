// SPDX-License-Identifier: GPL-2.0-only
/*
 * The owner record of a shared disk (agent/vdisk/owner_record.c) and the
 * signed release messages (owner_auth.c): a claim is a compare-and-swap
 * that exactly one of many racing processes wins, a reader never sees half
 * a record, a corrupted record stops every claim with its file and field
 * and changes nothing, a renewal after a takeover is refused (fencing), and
 * a forged, altered, stale or replayed message is refused.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tmpdir.h"
#include "vdisk/owner.h"

struct tdir {
	char dir[64];
	char disk[128];
	char err[2048];
};

static void tdir_make(struct tdir *t)
{
	int fd;

	memset(t, 0, sizeof(*t));
	tmpdir_make(t->dir, sizeof(t->dir), "owner-test");
	snprintf(t->disk, sizeof(t->disk), "%s/disk.vmdk", t->dir);
	fd = open(t->disk, O_CREAT | O_WRONLY, 0644);
	cr_assert(fd >= 0);
	close(fd);
}

static void tdir_rm(struct tdir *t)
{
	tmpdir_rm(t->dir);
}

static struct keel_owner_rec rec(const char *host, uint64_t gen)
{
	struct keel_owner_rec r = { .generation = gen, .lease_ms = 2000, .pid = getpid() };

	snprintf(r.host, sizeof(r.host), "%s", host);
	snprintf(r.addr, sizeof(r.addr), "tcp:10.0.0.1:7000");
	r.expires_ms = keel_owner_now_ms() + 2000;
	return r;
}

/* "sha" of a directory: every name and content, to show nothing changed */
static char *snapshot(const char *dir)
{
	char cmd[256], *buf = calloc(1, 65536);
	FILE *p;

	snprintf(
		cmd, sizeof(cmd),
		"cd %s && for f in .??* *; do [ -e \"$f\" ] && echo \"$f\" && cat \"$f\"; done 2>/dev/null",
		dir);
	p = popen(cmd, "r");
	cr_assert(p && buf);
	fread(buf, 1, 65535, p);
	pclose(p);
	return buf;
}

Test(vdisk_owner, first_claim_then_read_back)
{
	struct keel_owner_rec r = rec("hostA", 1), got;
	struct tdir t;

	tdir_make(&t);
	cr_assert_eq(keel_owner_read(t.disk, &got, t.err, sizeof(t.err)), -ENOENT);
	cr_assert_eq(keel_owner_claim(t.disk, &r, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_assert_eq(keel_owner_read(t.disk, &got, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_assert_eq(got.generation, 1);
	cr_assert_str_eq(got.host, "hostA");
	cr_assert_str_eq(got.addr, "tcp:10.0.0.1:7000");
	cr_assert_eq(got.lease_ms, 2000);
	cr_assert(!got.released);
	/* a claim of a generation that is not current + 1 is refused */
	r = rec("hostB", 1);
	cr_assert_eq(keel_owner_claim(t.disk, &r, t.err, sizeof(t.err)), -ESTALE);
	r = rec("hostB", 3);
	cr_assert_eq(keel_owner_claim(t.disk, &r, t.err, sizeof(t.err)), -ESTALE);
	cr_log_info(
		"checked: no record -> ENOENT; claim 1 reads back; claims of 1 and 3 over 1 -> ESTALE (%s)",
		t.err);
	tdir_rm(&t);
}

/*
 * 8 processes claim the same generation at the same moment (they wait on
 * a pipe, then all go), 40 rounds: each round exactly one wins and the
 * record names the winner.
 */
Test(vdisk_owner, racing_claims_make_exactly_one_owner)
{
	struct keel_owner_rec r0 = rec("host0", 1), got;
	struct tdir t;
	int rounds = 40, n = 8;

	tdir_make(&t);
	cr_assert_eq(keel_owner_claim(t.disk, &r0, t.err, sizeof(t.err)), 0, "%s", t.err);
	for (int round = 0; round < rounds; round++) {
		int go[2], res[2], wins = 0, winner = -1;
		pid_t pids[8];

		cr_assert_eq(pipe(go), 0);
		cr_assert_eq(pipe(res), 0);
		for (int i = 0; i < n; i++) {
			pids[i] = fork();
			cr_assert(pids[i] >= 0);
			if (!pids[i]) {
				char host[32], c, err[1024];
				struct keel_owner_rec r;
				int ret;

				snprintf(host, sizeof(host), "h%d", i);
				r = rec(host, (uint64_t)round + 2);
				close(go[1]);
				if (read(go[0], &c, 1) < 0)
					_exit(3);
				ret = keel_owner_claim(t.disk, &r, err, sizeof(err));
				c = ret == 0			     ? (char)('0' + i) :
				    ret == -EEXIST || ret == -ESTALE ? 'x' :
								       '!';
				if (write(res[1], &c, 1) != 1)
					_exit(3);
				_exit(0);
			}
		}
		close(go[0]);
		close(go[1]); /* all read EOF at once: go */
		close(res[1]);
		for (int i = 0; i < n; i++) {
			char c;

			cr_assert_eq(read(res[0], &c, 1), 1);
			cr_assert_neq(c, '!', "a claim failed with an unexpected error");
			if (c != 'x') {
				wins++;
				winner = c - '0';
			}
		}
		close(res[0]);
		for (int i = 0; i < n; i++)
			waitpid(pids[i], NULL, 0);
		cr_assert_eq(wins, 1, "round %d: %d winners", round, wins);
		cr_assert_eq(keel_owner_read(t.disk, &got, t.err, sizeof(t.err)), 0, "%s", t.err);
		cr_assert_eq(got.generation, (uint64_t)round + 2);
		cr_assert_eq(got.host[1] - '0', winner);
	}
	cr_log_info(
		"checked: %d rounds of %d processes claiming one generation: one winner each, the record names it",
		rounds, n);
	tdir_rm(&t);
}

Test(vdisk_owner, old_generations_are_pruned)
{
	struct keel_owner_rec r;
	struct tdir t;
	struct dirent *de;
	char dir[256];
	int files = 0;
	DIR *d;

	tdir_make(&t);
	for (uint64_t g = 1; g <= 30; g++) {
		r = rec("h", g);
		cr_assert_eq(keel_owner_claim(t.disk, &r, t.err, sizeof(t.err)), 0, "%s", t.err);
	}
	keel_owner_dir(t.disk, dir, sizeof(dir));
	d = opendir(dir);
	while ((de = readdir(d)))
		files += de->d_name[0] != '.';
	closedir(d);
	cr_assert_eq(files, KEEL_OWNER_KEEP, "%d record files", files);
	/* a requester that read a generation pruned since cannot become owner */
	r = rec("stale", 5);
	cr_assert_eq(keel_owner_claim(t.disk, &r, t.err, sizeof(t.err)), -ESTALE);
	cr_log_info("checked: 30 claims leave %d files; a claim of pruned generation 5 -> ESTALE",
		    KEEL_OWNER_KEEP);
	tdir_rm(&t);
}

Test(vdisk_owner, renewal_after_a_takeover_is_refused)
{
	struct keel_owner_rec a = rec("hostA", 1), b = rec("hostB", 2), got;
	struct tdir t;

	tdir_make(&t);
	cr_assert_eq(keel_owner_claim(t.disk, &a, t.err, sizeof(t.err)), 0, "%s", t.err);
	a.renewals = 7;
	cr_assert_eq(keel_owner_update(t.disk, &a, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_assert_eq(keel_owner_read(t.disk, &got, t.err, sizeof(t.err)), 0);
	cr_assert_eq(got.renewals, 7);
	cr_assert_eq(keel_owner_claim(t.disk, &b, t.err, sizeof(t.err)), 0, "%s", t.err);
	a.renewals = 8;
	cr_assert_eq(keel_owner_update(t.disk, &a, t.err, sizeof(t.err)), -ESTALE);
	cr_assert(strstr(t.err, "another host took the disk over"), "%s", t.err);
	cr_assert_eq(keel_owner_read(t.disk, &got, t.err, sizeof(t.err)), 0);
	cr_assert_str_eq(got.host, "hostB");
	cr_log_info(
		"checked: renewal bumps renewals; after B claims 2, A's renewal -> ESTALE, B stays owner");
	tdir_rm(&t);
}

static void corrupt(struct tdir *t, const char *text)
{
	char path[256];
	FILE *f;

	keel_owner_path(t->disk, 1, path, sizeof(path));
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

Test(vdisk_owner, a_corrupted_record_is_refused_and_nothing_changes)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "{\"version\":1,\"generation\":1,\"ren", "offset" },
		{ "", "offset" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"version\":2}", "version" },
		{ "{\"version\":1,\"generation\":1,\"renewals\":0,\"host\":\"\",\"addr\":\"tcp:1.2.3.4:5\",\"expires_ms\":1,\"lease_ms\":1000,\"released\":false,\"pid\":1}",
		  "host" },
		{ "{\"version\":1,\"generation\":1,\"renewals\":0,\"host\":\"a\",\"addr\":\"http://x\",\"expires_ms\":1,\"lease_ms\":1000,\"released\":false,\"pid\":1}",
		  "addr" },
		{ "{\"version\":1,\"generation\":1,\"renewals\":0,\"host\":\"a\",\"addr\":\"tcp:1.2.3.4:5\",\"expires_ms\":1,\"lease_ms\":5,\"released\":false,\"pid\":1}",
		  "lease_ms" },
		{ "{\"version\":1,\"generation\":1,\"renewals\":0,\"host\":\"a\",\"addr\":\"tcp:1.2.3.4:5\",\"expires_ms\":1,\"lease_ms\":1000,\"released\":3,\"pid\":1}",
		  "released" },
		{ "{\"version\":1,\"generation\":4,\"renewals\":0,\"host\":\"a\",\"addr\":\"tcp:1.2.3.4:5\",\"expires_ms\":1,\"lease_ms\":1000,\"released\":false,\"pid\":1}",
		  "not the one its file name says" },
	};
	struct keel_owner_rec a = rec("hostA", 1), b = rec("hostB", 2), got;
	char dir[256];
	struct tdir t;

	tdir_make(&t);
	keel_owner_dir(t.disk, dir, sizeof(dir));
	cr_assert_eq(keel_owner_claim(t.disk, &a, t.err, sizeof(t.err)), 0, "%s", t.err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *before, *after;

		corrupt(&t, cases[i].text);
		before = snapshot(dir);
		cr_assert_eq(keel_owner_read(t.disk, &got, t.err, sizeof(t.err)), -EBADMSG,
			     "case %zu", i);
		cr_assert(strstr(t.err, "00000000000000000001.rec: corrupted owner record") &&
				  strstr(t.err, cases[i].want),
			  "case %zu: %s", i, t.err);
		cr_assert_eq(keel_owner_claim(t.disk, &b, t.err, sizeof(t.err)), -EBADMSG);
		cr_assert_eq(keel_owner_update(t.disk, &a, t.err, sizeof(t.err)) == 0, 1);
		/* the owner's own rewrite repairs it; a claimer's does not touch it */
		corrupt(&t, cases[i].text);
		cr_assert_eq(keel_owner_claim(t.disk, &b, t.err, sizeof(t.err)), -EBADMSG);
		after = snapshot(dir);
		cr_assert_str_eq(before, after, "case %zu: the directory changed", i);
		free(before);
		free(after);
		if (i == 0)
			cr_log_info("example: %s", t.err);
	}
	cr_log_info(
		"checked: %zu corruptions: read and claim -> EBADMSG naming the file and field, directory unchanged",
		sizeof(cases) / sizeof(cases[0]));
	tdir_rm(&t);
}

static void write_key(const char *path, const char *bytes, size_t n, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, bytes, n), (ssize_t)n);
	fchmod(fd, mode);
	close(fd);
}

Test(vdisk_owner, messages_are_signed_and_checked)
{
	struct keel_owner_key *k, *k2;
	struct keel_owner_nonces *seen;
	char path[160], why[512], err[512];
	struct tdir t;
	json_t *m, *copy;
	int64_t now;

	tdir_make(&t);
	snprintf(path, sizeof(path), "%s/key", t.dir);
	write_key(path, "0123456789abcdef0123456789abcdef", 32, 0644);
	cr_assert_eq(keel_owner_key_load(path, &k, err, sizeof(err)), -EPERM);
	cr_assert(strstr(err, "chmod 600"), "%s", err);
	write_key(path, "short", 5, 0600);
	cr_assert_eq(keel_owner_key_load(path, &k, err, sizeof(err)), -EINVAL);
	write_key(path, "0123456789abcdef0123456789abcdef", 32, 0600);
	cr_assert_eq(keel_owner_key_load(path, &k, err, sizeof(err)), 0, "%s", err);
	write_key(path, "fedcba9876543210fedcba9876543210", 32, 0600);
	cr_assert_eq(keel_owner_key_load(path, &k2, err, sizeof(err)), 0, "%s", err);

	m = json_pack("{s:s, s:s, s:i, s:s}", "op", "release", "disk", "d.vmdk", "generation", 4,
		      "from", "hostB");
	cr_assert_eq(keel_owner_sign(k, m), 0);
	cr_assert_eq(keel_owner_verify(k, m, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(keel_owner_verify(k2, m, why, sizeof(why)), -EKEYREJECTED);
	copy = json_deep_copy(m);
	json_object_set_new(copy, "generation", json_integer(5));
	cr_assert_eq(keel_owner_verify(k, copy, why, sizeof(why)), -EKEYREJECTED);
	json_decref(copy);
	copy = json_deep_copy(m);
	json_object_del(copy, "nonce");
	cr_assert_eq(keel_owner_verify(k, copy, why, sizeof(why)), -EBADMSG);
	json_decref(copy);
	/* signed an hour ago: stale (a recorded request sent again later) */
	copy = json_pack("{s:s}", "op", "release");
	cr_assert_eq(keel_owner_sign_at(k, copy, keel_owner_now_ms() - 3600000), 0);
	cr_assert_eq(keel_owner_verify(k, copy, why, sizeof(why)), -ETIME);
	cr_assert(strstr(why, "replayed, or the clocks differ"), "%s", why);
	json_decref(copy);
	seen = keel_owner_nonces_new();
	now = keel_owner_now_ms();
	cr_assert_eq(keel_owner_nonce_seen(seen, json_string_value(json_object_get(m, "nonce")),
					   now),
		     0);
	cr_assert_eq(keel_owner_nonce_seen(seen, json_string_value(json_object_get(m, "nonce")),
					   now + 1000),
		     -EALREADY);
	cr_log_info(
		"checked: key mode 0644 and 5-byte key refused; good mac verifies; other key, changed field -> EKEYREJECTED; no nonce -> EBADMSG; an hour old -> ETIME; a nonce twice -> EALREADY");
	keel_owner_nonces_free(seen);
	json_decref(m);
	keel_owner_key_free(k);
	keel_owner_key_free(k2);
	tdir_rm(&t);
}
