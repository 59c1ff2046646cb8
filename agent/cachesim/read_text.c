// SPDX-License-Identifier: GPL-2.0-only
/*
 * One key per line (the LIRS traces), gzip or plain.  Lines that are not a
 * number, such as the `*` separators of some LIRS files, are skipped, as
 * the traces' README says; CRLF line ends are accepted.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cachesim/sim.h"

int keel_sim_read_text(const char *path, struct keel_sim_trace *t, struct keel_sim_err *err)
{
	char line[256];
	gzFile gz = gzopen(path, "rb");
	__u64 lineno = 0;
	int r = 0, zerr;

	if (!gz) {
		r = errno ? -errno : -ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-r));
		return r;
	}
	while (gzgets(gz, line, sizeof(line))) {
		struct keel_sim_req q = { 0 };
		char *p = line, *end;

		lineno++;
		if (!strchr(line, '\n') && !gzeof(gz)) {
			snprintf(err->msg, sizeof(err->msg),
				 "%s:%llu: line longer than 255 bytes; is this "
				 "a one-key-per-line trace?",
				 path, (unsigned long long)lineno);
			r = -EBADMSG;
			goto out;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (!isdigit((unsigned char)*p))
			continue;
		errno = 0;
		q.addr = strtoull(p, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (errno || *end)
			continue;
		r = keel_sim_trace_push(t, &q);
		if (r) {
			snprintf(err->msg, sizeof(err->msg), "%s:%llu: out of memory", path,
				 (unsigned long long)lineno);
			goto out;
		}
	}
	/* A stream cut short reads as a normal end but leaves an error
	 * (Z_BUF_ERROR, "unexpected end of file") behind. */
	if (gzerror(gz, &zerr), zerr != Z_OK || !gzeof(gz)) {
		snprintf(err->msg, sizeof(err->msg), "%s:%llu: %s (truncated or corrupt gzip?)",
			 path, (unsigned long long)lineno + 1, gzerror(gz, &zerr));
		r = -EBADMSG;
	}
out:
	gzclose(gz);
	return r;
}
