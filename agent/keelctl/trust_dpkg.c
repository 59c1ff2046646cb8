// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl trust import-dpkg: the baseline.  For every installed package
 * (its <admindir>/info/PKG.md5sums, or PKG:ARCH.md5sums), each file whose
 * content still has dpkg's recorded md5 is trusted; keelctl reads each
 * file once for both its md5 and its SHA-256 (libcrypto's EVP) and asks
 * keeld to trust it only with that SHA-256, which keeld checks again when
 * it hashes the file itself: a file changed in between is not trusted.
 * Mismatched and missing files are reported, never trusted; symbolic
 * links and other non-regular files are skipped (they are not executed
 * themselves).  keeld does the trusting, one short request per file, so
 * its loop is never held for longer than one file's hash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/hash.h"
#include "keelctl/keelctl.h"
#include "keelctl/trust_dpkg.h"

struct import {
	const struct dpkg_import_opts *o;
	struct keel_client c;
	bool tty;
	long total, done;
	long trusted, mismatched, missing, skipped, failed;
	json_t *problems; /* one object per mismatched, missing or failed file */
};

static bool wanted(const struct dpkg_import_opts *o, const char *name)
{
	size_t n = strcspn(name, ":."); /* PKG.md5sums or PKG:ARCH.md5sums */

	if (!o->n_packages)
		return true;
	for (int i = 0; i < o->n_packages; i++)
		if (strlen(o->packages[i]) == n && !strncmp(o->packages[i], name, n))
			return true;
	return false;
}

static int md5sums_files(const struct dpkg_import_opts *o, struct dirent ***ret)
{
	char dir[PATH_MAX];
	struct dirent **ents;
	int n, kept = 0;

	snprintf(dir, sizeof(dir), "%s/info", o->admindir);
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(ents[i]->d_name);

		if (len > 8 && !strcmp(ents[i]->d_name + len - 8, ".md5sums") &&
		    wanted(o, ents[i]->d_name))
			ents[kept++] = ents[i];
		else
			free(ents[i]);
	}
	*ret = ents;
	return kept;
}

static void progress(struct import *im, bool last)
{
	int width = 40, fill;

	if (!im->tty || !im->total)
		return;
	fill = (int)(width * im->done / im->total);
	fprintf(stderr, "\r[%.*s%*s] %ld/%ld files, %ld trusted", fill,
		"########################################", width - fill, "", im->done, im->total,
		im->trusted);
	if (last)
		fputc('\n', stderr);
}

static void problem(struct import *im, const char *pkg, const char *path, const char *what,
		    const char *detail)
{
	json_array_append_new(im->problems,
			      json_pack("{s:s, s:s, s:s, s:s}", "package", pkg, "path", path,
					"problem", what, "detail", detail));
	if (im->o->json)
		return;
	if (im->tty)
		fputs("\r\033[K", stderr); /* over the progress bar */
	fprintf(stderr, "%s: %s (%s): %s\n", what, path, pkg, detail);
}

static void one_file(struct import *im, const char *pkg, const char *md5, const char *rel)
{
	char path[PATH_MAX], got_md5[33], sha[65], why[512];
	const char *root = strcmp(im->o->root, "/") ? im->o->root : "";
	json_t *req, *rep;
	struct stat st;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (lstat(path, &st)) {
		im->missing++;
		problem(im, pkg, path, "missing", strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		im->skipped++;
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		im->failed++;
		problem(im, pkg, path, "failed", strerror(errno));
		return;
	}
	err = keel_hash_fd2(fd, "md5", got_md5, sizeof(got_md5), "sha256", sha, sizeof(sha));
	close(fd);
	if (err) {
		im->failed++;
		problem(im, pkg, path, "failed", strerror(-err));
		return;
	}
	if (strcasecmp(got_md5, md5)) {
		im->mismatched++;
		snprintf(why, sizeof(why), "md5 %s, dpkg recorded %s; not trusted", got_md5, md5);
		problem(im, pkg, path, "mismatch", why);
		return;
	}
	req = json_pack("{s:s, s:s, s:s, s:s}", "cmd", "exec.trust_add", "path", path, "sha256",
			sha, "source", "dpkg");
	rep = keel_client_call(&im->c, req, why, sizeof(why));
	json_decref(req);
	if (!rep) {
		im->failed++;
		problem(im, pkg, path, "failed", why);
		return;
	}
	json_decref(rep);
	im->trusted++;
}

/* Count lines first, for the progress bar. */
static long count_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	long n = 0;
	int ch;

	if (!f)
		return 0;
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static int one_package(struct import *im, const char *file)
{
	char path[PATH_MAX], pkg[256], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	snprintf(pkg, sizeof(pkg), "%.*s", (int)(strlen(file) - 8), file);
	snprintf(path, sizeof(path), "%s/info/%s", im->o->admindir, file);
	f = fopen(path, "re");
	if (!f) {
		problem(im, pkg, path, "failed", strerror(errno));
		im->failed++;
		return 0;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = 0;
		/* "<32 hex digits>  <path relative to the root>" */
		if (n < 35 || line[32] != ' ' || line[33] != ' ') {
			problem(im, pkg, path, "failed", "a line that is not '<md5>  <path>'");
			im->failed++;
			im->done++;
			continue;
		}
		line[32] = 0;
		one_file(im, pkg, line, line + 34);
		im->done++;
		if (im->done % 16 == 0)
			progress(im, false);
	}
	free(line);
	fclose(f);
	return 0;
}

int keelctl_trust_import_dpkg(const struct keelctl *ctl, const struct dpkg_import_opts *o)
{
	struct import im = { .o = o, .tty = isatty(STDERR_FILENO) && !o->json };
	struct dirent **ents = NULL;
	char path[PATH_MAX];
	int n, ret;

	n = md5sums_files(o, &ents);
	if (n < 0) {
		fprintf(stderr, "keelctl: reading %s/info: %s (is --admindir dpkg's database?)\n",
			o->admindir, strerror(-n));
		return KEELCTL_EXIT_FAIL;
	}
	if (!n) {
		fprintf(stderr, "keelctl: no package's md5sums in %s/info%s\n", o->admindir,
			o->n_packages ? " for the packages named" : "");
		free(ents);
		return KEELCTL_EXIT_FAIL;
	}
	if (keelctl_connect(ctl, &im.c) < 0) {
		for (int i = 0; i < n; i++)
			free(ents[i]);
		free(ents);
		return KEELCTL_EXIT_FAIL;
	}
	for (int i = 0; im.tty && i < n; i++) {
		snprintf(path, sizeof(path), "%s/info/%s", o->admindir, ents[i]->d_name);
		im.total += count_lines(path);
	}
	im.problems = json_array();
	for (int i = 0; i < n; i++) {
		one_package(&im, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	progress(&im, true);
	keel_client_close(&im.c);
	if (o->json) {
		json_t *sum = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:o}", "packages", n,
					"trusted", (json_int_t)im.trusted, "mismatched",
					(json_int_t)im.mismatched, "missing",
					(json_int_t)im.missing, "skipped", (json_int_t)im.skipped,
					"failed", (json_int_t)im.failed, "problems", im.problems);

		keelctl_print_json(sum);
		json_decref(sum);
	} else {
		printf("%d packages: %ld files trusted, %ld mismatched, %ld missing, %ld skipped (not regular files), %ld failed\n",
		       n, im.trusted, im.mismatched, im.missing, im.skipped, im.failed);
		json_decref(im.problems);
	}
	ret = im.mismatched || im.missing || im.failed ? KEELCTL_EXIT_FAIL : 0;
	return ret;
}
