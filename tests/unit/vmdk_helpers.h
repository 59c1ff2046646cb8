/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the VMDK unit tests: scratch directories, patterns, whole files. */
#ifndef KEEL_TEST_VMDK_HELPERS_H
#define KEEL_TEST_VMDK_HELPERS_H

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits.h>

#include "tmpdir.h"
#include "vmdk/vmdk.h"

static inline char *scratch_dir(void)
{
	char *d = malloc(PATH_MAX);

	cr_assert(d);
	tmpdir_make(d, PATH_MAX, "vmdk");
	return d;
}

static inline void scratch_rm(char *d)
{
	tmpdir_rm(d);
	free(d);
}

static inline char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *pathf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	cr_assert(vasprintf(&p, fmt, ap) >= 0);
	va_end(ap);
	return p;
}

static inline int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int shell(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int r;

	va_start(ap, fmt);
	cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	r = system(cmd);
	free(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* deterministic bytes: xorshift from @seed */
static inline void pattern(void *buf, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	unsigned char *p = buf;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

static inline void *slurp(const char *path, size_t *ret_len)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0, "open %s", path);
	cr_assert(!fstat(fd, &st));
	buf = malloc((size_t)st.st_size + 1);
	cr_assert(buf);
	cr_assert(pread(fd, buf, (size_t)st.st_size, 0) == st.st_size);
	close(fd);
	*ret_len = (size_t)st.st_size;
	return buf;
}

static inline void spit(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "open %s", path);
	cr_assert(write(fd, buf, len) == (ssize_t)len);
	close(fd);
}

/* the whole virtual disk through keel */
static inline void *read_disk(const char *path, size_t *ret_len)
{
	char err[512];
	struct keel_vmdk *d;
	void *buf;
	int r = keel_vmdk_open(path, KEEL_VMDK_RDONLY, &d, err, sizeof(err));

	cr_assert_eq(r, 0, "open %s: %s", path, err);
	*ret_len = keel_vmdk_size(d);
	buf = malloc(*ret_len);
	cr_assert(buf);
	r = keel_vmdk_pread(d, buf, *ret_len, 0);
	keel_vmdk_last_error(d, err, sizeof(err));
	cr_assert_eq(r, 0, "read %s: %s", path, err);
	keel_vmdk_close(d);
	return buf;
}

#endif
