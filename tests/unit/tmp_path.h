/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where unit tests make their scratch files: under $TMPDIR (tests/unit/run
 * sets a private one and removes it afterwards, so nothing is left behind
 * even by a test that crashed), or /tmp when a test binary runs alone.
 */
#ifndef KEEL_TESTS_TMP_PATH_H
#define KEEL_TESTS_TMP_PATH_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

/* buf = "$TMPDIR/<name>XXXXXX", ready for mkstemp() or mkdtemp() */
static inline char *keel_test_tmp_template(char *buf, size_t size, const char *name)
{
	const char *dir = getenv("TMPDIR");
	int n;

	if (!dir || !*dir)
		dir = "/tmp";
	n = snprintf(buf, size, "%s/%sXXXXXX", dir, name);
	cr_assert(n > 0 && (size_t)n < size, "TMPDIR too long: %s", dir);
	return buf;
}

#endif
