/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Scratch directories of the unit tests (tmp_path.h says where), removed
 * with everything in them, also by a test's .fini after a failed assertion
 * when the binary runs alone.
 */
#ifndef KEEL_TEST_TMPDIR_H
#define KEEL_TEST_TMPDIR_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmp_path.h"

/* @buf gets TMPDIR/keel-NAME.XXXXXX, made (mode 0700) */
static inline void tmpdir_make(char *buf, size_t len, const char *name)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "keel-%s.", name);
	keel_test_tmp_template(buf, len, prefix);
	cr_assert(mkdtemp(buf), "mkdtemp %s: %s", buf, strerror(errno));
}

static inline int tmpdir_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* remove @dir and everything below it (symbolic links are not followed);
 * a no-op for an empty string, so a test's fini can call it always */
static inline void tmpdir_rm(const char *dir)
{
	if (dir && dir[0])
		cr_expect_eq(nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0,
			     "removing %s: %s", dir, strerror(errno));
}

#endif
