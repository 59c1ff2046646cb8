// SPDX-License-Identifier: GPL-2.0-only
/* libCacheSim "oracleGeneral" reader: 24-byte little-endian records. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cachesim/sim.h"

#define ORACLE_REC 24

int keel_sim_read_oracle(const char *path, struct keel_sim_trace *t, struct keel_sim_err *err)
{
	unsigned char b[ORACLE_REC * 1024];
	FILE *f = fopen(path, "rbe");
	__u64 rec = 0;
	size_t n;
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(errno));
		return r;
	}
	while ((n = fread(b, 1, sizeof(b), f)) > 0) {
		for (size_t off = 0; off + ORACLE_REC <= n; off += ORACLE_REC) {
			struct keel_sim_req q = { 0 };
			__u64 id;
			__u32 sz;

			memcpy(&id, b + off + 4, 8);
			memcpy(&sz, b + off + 12, 4);
			/* The object id is the request's starting LBN. */
			q.addr = le64toh(id) * 512;
			q.size = le32toh(sz);
			r = keel_sim_trace_push(t, &q);
			if (r)
				goto out;
			rec++;
		}
		if (n % ORACLE_REC) {
			/* fread returns short only at the end of file. */
			snprintf(err->msg, sizeof(err->msg),
				 "%s: record %llu is truncated: the file ends "
				 "%zu bytes into a 24-byte oracleGeneral record",
				 path, (unsigned long long)rec + 1, n % ORACLE_REC);
			r = -EBADMSG;
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err->msg, sizeof(err->msg), "%s: read error", path);
		r = -EIO;
	}
out:
	fclose(f);
	return r;
}
