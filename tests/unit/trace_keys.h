/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The block keys of a shared trace (../shared/traces), in memory: what the
 * SHARDS and miniature-simulation tests replay.  oracleGeneral binary
 * (24-byte records, the object id at offset 4) or LIRS text (one block
 * number per line, gzip or plain; other lines skipped).
 */
#ifndef KEEL_TESTS_TRACE_KEYS_H
#define KEEL_TESTS_TRACE_KEYS_H

#include <criterion/criterion.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define TRACES "../shared/traces"

struct keys {
	__u64 *k;
	size_t n, cap;
	__u64 unique;
};

static inline void push(struct keys *t, __u64 k)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 65536;
		t->k = realloc(t->k, t->cap * sizeof(*t->k));
		cr_assert_not_null(t->k);
	}
	t->k[t->n++] = k;
}

static inline const char *trace_path(const char *name)
{
	static char path[512];
	const char *top = getenv("KEEL_TOP");

	snprintf(path, sizeof(path), "%s/%s/%s", top ? top : ".", TRACES, name);
	if (access(path, R_OK))
		cr_assert_fail("%s is missing: these tests need the shared traces folder "
			       "beside the checkout (../shared/traces)",
			       path);
	return path;
}

static inline void load_trace_keys(const char *name, struct keys *t)
{
	if (strstr(name, ".oracleGeneral.bin")) {
		FILE *f = fopen(trace_path(name), "rb");
		unsigned char r[24];

		cr_assert_not_null(f);
		while (fread(r, sizeof(r), 1, f) == 1) {
			__u64 id;

			memcpy(&id, r + 4, sizeof(id));
			push(t, id);
		}
		fclose(f);
	} else {
		gzFile f = gzopen(trace_path(name), "rb");
		char line[128];

		cr_assert_not_null(f);
		while (gzgets(f, line, sizeof(line))) {
			char *end;
			unsigned long long v = strtoull(line, &end, 10);

			if (end != line && (*end == '\n' || *end == '\r' || !*end))
				push(t, v);
		}
		gzclose(f);
	}
}

#endif /* KEEL_TESTS_TRACE_KEYS_H */
