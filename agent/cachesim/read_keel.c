// SPDX-License-Identifier: GPL-2.0-only
/* keel's own KEELTRC1 block trace (see keel/trace.h) into the simulator. */
#include <errno.h>
#include <string.h>

#include "cachesim/sim.h"
#include "keel/trace.h"

int keel_sim_read_keel(const char *path, struct keel_sim_trace *t, struct keel_sim_err *err)
{
	struct keel_trace_reader *rd;
	struct keel_trace_record rec;
	int r = keel_trace_reader_open(path, &rd);

	if (r) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path,
			 r == -EBADMSG ? "not a KEELTRC1 trace (bad magic, "
					 "version or record size in the header)" :
					 strerror(-r));
		return r;
	}
	while ((r = keel_trace_reader_next(rd, &rec)) == 1) {
		struct keel_sim_req q = {
			.volume = rec.disk_id,
			.addr = rec.lba * 512,
			.size = rec.len_bytes,
			.write = rec.flags & KEEL_TRACE_WRITE,
		};

		r = keel_sim_trace_push(t, &q);
		if (r)
			break;
	}
	if (r == -EBADMSG)
		snprintf(err->msg, sizeof(err->msg),
			 "%s: record %llu is truncated (the file ends inside "
			 "a 32-byte record)",
			 path, (unsigned long long)keel_trace_reader_index(rd) + 1);
	else if (r < 0)
		snprintf(err->msg, sizeof(err->msg), "%s: record %llu: %s", path,
			 (unsigned long long)keel_trace_reader_index(rd) + 1, strerror(-r));
	keel_trace_reader_close(rd);
	return r < 0 ? r : 0;
}
