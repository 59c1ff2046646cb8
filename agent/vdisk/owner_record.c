// SPDX-License-Identifier: GPL-2.0-only
/*
 * The owner record of a disk: DISK.owner/, a directory beside the disk on
 * the shared datastore, holding one small JSON file per generation,
 * "%020llu.rec".  The current owner is the highest generation.
 *
 * Why a file per generation: a change of owner must be a compare-and-swap
 * that works on any shared POSIX directory without a lock server.  Claiming
 * generation N+1 is link(tmp, "N+1.rec"): link() fails with EEXIST when the
 * name exists, so of several requesters that read generation N exactly one
 * creates N+1.  The file is written and fsync'd under a temporary name
 * before the link, so a reader never sees half a record, and the directory
 * is fsync'd after, so the new owner survives a crash.  A renewal or a
 * release rewrites the owner's own generation (temporary file, fsync,
 * rename(), fsync of the directory); readers see the old or the new file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vdisk/owner.h"

int keel_owner_dir(const char *disk, char *ret, size_t len)
{
	return snprintf(ret, len, "%s.owner", disk) >= (int)len ? -ENAMETOOLONG : 0;
}

int keel_owner_path(const char *disk, uint64_t generation, char *ret, size_t len)
{
	return snprintf(ret, len, "%s.owner/%020" PRIu64 ".rec", disk, generation) >= (int)len ?
		       -ENAMETOOLONG :
		       0;
}

int keel_owner_host_id(char *ret, size_t len)
{
	const char *env = getenv("KEEL_HOST_ID");
	FILE *f;
	char line[128];

	if (env && *env) {
		if (strlen(env) >= len || strlen(env) >= KEEL_OWNER_HOST_MAX)
			return -ENAMETOOLONG;
		strcpy(ret, env);
		return 0;
	}
	f = fopen("/etc/machine-id", "re");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -ENODATA;
	}
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (!*line || strlen(line) >= len)
		return -ENODATA;
	strcpy(ret, line);
	return 0;
}

json_t *keel_owner_json(const struct keel_owner_rec *r)
{
	return json_pack("{s:i, s:I, s:I, s:s, s:s, s:I, s:i, s:b, s:i}", "version", 1,
			 "generation", (json_int_t)r->generation, "renewals",
			 (json_int_t)r->renewals, "host", r->host, "addr", r->addr, "expires_ms",
			 (json_int_t)r->expires_ms, "lease_ms", (int)r->lease_ms, "released",
			 r->released, "pid", r->pid);
}

static int bad(char *err, size_t errlen, const char *file, const char *what)
{
	snprintf(
		err, errlen,
		"%s: corrupted owner record: %s (remove the file to let a host claim the disk again after checking that no host still writes it)",
		file, what);
	return -EBADMSG;
}

static int get_u64(json_t *o, const char *key, uint64_t max, uint64_t *ret)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_str(json_t *o, const char *key, char *ret, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= len ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	strcpy(ret, json_string_value(v));
	return 0;
}

int keel_owner_parse(const char *text, size_t len, const char *file, struct keel_owner_rec *ret,
		     char *err, size_t errlen)
{
	struct keel_owner_rec r = { 0 };
	json_error_t je;
	json_t *o, *v = NULL;
	uint64_t u = 0, lease = 0, pid = 0;
	char what[256];
	const char *field = NULL;

	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		snprintf(what, sizeof(what), "offset %d: %s", je.position, je.text);
		return bad(err, errlen, file, what);
	}
	if (!json_is_object(o))
		field = "the record is not a JSON object";
	else if (get_u64(o, "version", 1, &u) || u != 1)
		field = "version: not 1";
	else if (get_u64(o, "generation", INT64_MAX, &r.generation) || !r.generation)
		field = "generation: not a positive integer";
	else if (get_u64(o, "renewals", INT64_MAX, &r.renewals))
		field = "renewals: not a non-negative integer";
	else if (get_str(o, "host", r.host, sizeof(r.host)))
		field = "host: not a string of 1 to 63 bytes";
	else if (get_str(o, "addr", r.addr, sizeof(r.addr)) ||
		 (strncmp(r.addr, "tcp:", 4) && strncmp(r.addr, "unix:", 5)))
		field = "addr: not \"tcp:ADDR:PORT\" or \"unix:PATH\"";
	else if (get_u64(o, "expires_ms", INT64_MAX, &u))
		field = "expires_ms: not a time in ms";
	else if (get_u64(o, "lease_ms", 3600000, &lease) || lease < 100)
		field = "lease_ms: not 100 to 3600000";
	else if (!json_is_boolean(v = json_object_get(o, "released")))
		field = "released: not true or false";
	else if (get_u64(o, "pid", INT32_MAX, &pid))
		field = "pid: not a process id";
	r.expires_ms = (int64_t)u;
	r.lease_ms = (uint32_t)lease;
	r.released = json_is_true(v);
	r.pid = (int)pid;
	json_decref(o);
	if (field)
		return bad(err, errlen, file, field);
	*ret = r;
	return 0;
}

/* The highest generation in @dir (0: none), and how many records exist. */
static int scan(const char *dir, uint64_t *ret_max, uint64_t *ret_min)
{
	struct dirent *de;
	uint64_t max = 0, min = UINT64_MAX;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		uint64_t g;

		if (strlen(de->d_name) != 24 || strcmp(de->d_name + 20, ".rec"))
			continue;
		errno = 0;
		g = strtoull(de->d_name, &end, 10);
		if (errno || end != de->d_name + 20 || !g)
			continue;
		if (g > max)
			max = g;
		if (g < min)
			min = g;
	}
	closedir(d);
	*ret_max = max;
	if (ret_min)
		*ret_min = min;
	return 0;
}

static int read_gen(const char *disk, uint64_t g, struct keel_owner_rec *ret, char *err,
		    size_t errlen)
{
	char path[PATH_MAX], buf[KEEL_OWNER_RECORD_MAX + 1];
	ssize_t n;
	int fd, r;

	r = keel_owner_path(disk, g, path, sizeof(path));
	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	n = read(fd, buf, sizeof(buf));
	r = -errno;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (n > KEEL_OWNER_RECORD_MAX)
		return bad(err, errlen, path, "longer than 4096 bytes");
	r = keel_owner_parse(buf, (size_t)n, path, ret, err, errlen);
	if (!r && ret->generation != g)
		return bad(err, errlen, path, "generation: not the one its file name says");
	return r;
}

int keel_owner_read(const char *disk, struct keel_owner_rec *ret, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	uint64_t max;
	int r, tries;

	r = keel_owner_dir(disk, dir, sizeof(dir));
	if (r)
		return r;
	/* a record pruned between the scan and the open: scan again */
	for (tries = 0; tries < 5; tries++) {
		r = scan(dir, &max, NULL);
		if (r == -ENOENT || (!r && !max)) {
			snprintf(err, errlen, "%s: no owner record: nobody owns the disk", dir);
			return -ENOENT;
		}
		if (r) {
			snprintf(err, errlen, "%s: %s", dir, strerror(-r));
			return r;
		}
		r = read_gen(disk, max, ret, err, errlen);
		if (r != -ENOENT)
			return r;
	}
	return r;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		r = -errno;
	close(fd);
	return r;
}

/* Write @rec to a new temporary file in @dir, fsync'd; its name in @tmp. */
static int write_tmp(const char *dir, const struct keel_owner_rec *rec, char *tmp, size_t len)
{
	json_t *o = keel_owner_json(rec);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	uint64_t rnd = 0;
	size_t n, done = 0;
	int fd, r = 0;

	json_decref(o);
	if (!text)
		return -ENOMEM;
	n = strlen(text);
	text[n] = '\n'; /* json_dumps leaves room for the NUL */
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd ^= (uint64_t)keel_owner_mono_ms();
	if (snprintf(tmp, len, "%s/.tmp-%d-%016" PRIx64, dir, getpid(), rnd) >= (int)len) {
		free(text);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	while (done <= n) {
		ssize_t w = write(fd, text + done, n + 1 - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)w;
	}
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	free(text);
	if (r)
		unlink(tmp);
	return r;
}

int keel_owner_claim(const char *disk, const struct keel_owner_rec *rec, char *err, size_t errlen)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 64], path[PATH_MAX];
	struct keel_owner_rec cur;
	uint64_t max, min;
	int r;

	r = keel_owner_dir(disk, dir, sizeof(dir));
	if (!r)
		r = keel_owner_path(disk, rec->generation, path, sizeof(path));
	if (r) {
		snprintf(err, errlen, "%s: path too long", disk);
		return r;
	}
	if (mkdir(dir, 0755) && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot create the owner directory: %s", dir,
			 strerror(-r));
		return r;
	}
	/* the current record must parse: a corrupted one stops every claim */
	r = keel_owner_read(disk, &cur, err, errlen);
	if (r && r != -ENOENT)
		return r;
	if (r == -ENOENT)
		cur.generation = 0;
	if (cur.generation + 1 != rec->generation) {
		snprintf(err, errlen,
			 "%s: the owner changed: generation %" PRIu64
			 " (host %s) is current, this claim was for %" PRIu64,
			 dir, cur.generation, r ? "none" : cur.host, rec->generation);
		return -ESTALE;
	}
	r = write_tmp(dir, rec, tmp, sizeof(tmp));
	if (r) {
		snprintf(err, errlen, "%s: cannot write the owner record: %s", dir, strerror(-r));
		return r;
	}
	/* the compare-and-swap: only one link() of this name succeeds */
	if (link(tmp, path)) {
		r = -errno;
		unlink(tmp);
		if (r == -EEXIST && !read_gen(disk, rec->generation, &cur, err, errlen))
			snprintf(err, errlen,
				 "%s: host %s became the owner first (generation %" PRIu64 ")", dir,
				 cur.host, rec->generation);
		else if (r == -EEXIST)
			snprintf(err, errlen,
				 "%s: another host claimed generation %" PRIu64 " first", dir,
				 rec->generation);
		else
			snprintf(err, errlen, "%s: link: %s", path, strerror(-r));
		return r;
	}
	unlink(tmp);
	r = fsync_dir(dir);
	if (r) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(-r));
		return r;
	}
	/*
	 * Generations below the newest few are removed, so a requester that
	 * read a very old generation could link a name removed since: it is
	 * the owner only while its generation is the highest.
	 */
	r = scan(dir, &max, &min);
	if (!r && max != rec->generation) {
		unlink(path);
		snprintf(err, errlen, "%s: the owner changed: generation %" PRIu64 " exists", dir,
			 max);
		return -ESTALE;
	}
	for (uint64_t g = min; !r && g + KEEL_OWNER_KEEP <= max; g++) {
		if (!keel_owner_path(disk, g, tmp, sizeof(tmp)))
			unlink(tmp);
	}
	return 0;
}

int keel_owner_update(const char *disk, const struct keel_owner_rec *rec, char *err, size_t errlen)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 64], path[PATH_MAX], next[PATH_MAX];
	int r;

	r = keel_owner_dir(disk, dir, sizeof(dir));
	if (!r)
		r = keel_owner_path(disk, rec->generation, path, sizeof(path));
	if (!r)
		r = keel_owner_path(disk, rec->generation + 1, next, sizeof(next));
	if (r) {
		snprintf(err, errlen, "%s: path too long", disk);
		return r;
	}
	r = write_tmp(dir, rec, tmp, sizeof(tmp));
	if (r) {
		snprintf(err, errlen, "%s: cannot write the owner record: %s", dir, strerror(-r));
		return r;
	}
	if (!access(next, F_OK)) {
		unlink(tmp);
		snprintf(err, errlen,
			 "%s: generation %" PRIu64 " exists: another host took the disk over", dir,
			 rec->generation + 1);
		return -ESTALE;
	}
	if (rename(tmp, path)) {
		r = -errno;
		unlink(tmp);
		snprintf(err, errlen, "%s: rename: %s", path, strerror(-r));
		return r;
	}
	r = fsync_dir(dir);
	if (r)
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(-r));
	return r;
}
