// SPDX-License-Identifier: GPL-2.0-only
/*
 * CSV block traces: cloudPhysics (version,time,op,size,lbn), MSR Cambridge
 * (ts,host,disk,type,offset,size,resp) and Tencent CBS
 * (ts,offset,size,type,volume; offset and size in 512-byte sectors, type 0
 * read, 1 write).  gzip or plain.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "cachesim/sim.h"

#define MAX_FIELDS   8
#define LINE_MAX_LEN 4096

/* Split line in place; returns the number of fields. */
static int split(char *line, char **f)
{
	int n = 0;
	char *p = line;

	line[strcspn(line, "\r\n")] = 0;
	f[n++] = p;
	while ((p = strchr(p, ',')) && n < MAX_FIELDS) {
		*p++ = 0;
		f[n++] = p;
	}
	return p ? MAX_FIELDS + 1 : n;
}

static int num(const char *s, int base, __u64 *ret)
{
	char *end;

	while (*s == ' ')
		s++;
	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*ret = strtoull(s, &end, base);
	while (*end == ' ')
		end++;
	return errno || *end ? -EINVAL : 0;
}

static const char *parse_cphy(char **f, struct keel_sim_req *q)
{
	__u64 op, size, lbn;

	if (num(f[2], 16, &op))
		return "op (field 3) is not a hex SCSI opcode";
	if (num(f[3], 10, &size) || size > 0xffffffffull)
		return "size (field 4) is not a byte count";
	if (num(f[4], 10, &lbn) || lbn > (~0ull >> 9))
		return "lbn (field 5) is not a sector number";
	/* WRITE(6), WRITE(10), WRITE(16), WRITE(12) */
	q->write = op == 0x0a || op == 0x2a || op == 0x8a || op == 0xaa;
	q->addr = lbn * 512;
	q->size = (__u32)size;
	return NULL;
}

static const char *parse_msr(char **f, struct keel_sim_req *q)
{
	__u64 disk, off, size;

	if (num(f[2], 10, &disk))
		return "disk number (field 3) is not a number";
	if (!strcasecmp(f[3], "write"))
		q->write = true;
	else if (strcasecmp(f[3], "read"))
		return "type (field 4) is neither Read nor Write";
	if (num(f[4], 10, &off))
		return "offset (field 5) is not a byte offset";
	if (num(f[5], 10, &size) || size > 0xffffffffull)
		return "size (field 6) is not a byte count";
	/* Hosts share disk numbers; fold the host name into the volume. */
	q->volume = disk;
	for (const char *h = f[1]; *h; h++)
		q->volume = q->volume * 131 + (unsigned char)*h;
	q->addr = off;
	q->size = (__u32)size;
	return NULL;
}

static const char *parse_tencent(char **f, struct keel_sim_req *q)
{
	__u64 off, size, type, vol;

	if (num(f[1], 10, &off) || off > (~0ull >> 9))
		return "offset (field 2) is not a sector number";
	if (num(f[2], 10, &size) || size > (0xffffffffull >> 9))
		return "size (field 3) is not a sector count";
	if (num(f[3], 10, &type) || type > 1)
		return "type (field 4) is neither 0 (read) nor 1 (write)";
	if (num(f[4], 10, &vol))
		return "volume (field 5) is not a number";
	q->addr = off * 512;
	q->size = (__u32)(size * 512);
	q->write = type == 1;
	q->volume = vol;
	return NULL;
}

int keel_sim_read_csv(const char *path, enum keel_sim_format fmt, struct keel_sim_trace *t,
		      struct keel_sim_err *err)
{
	static const int want[] = {
		[KEEL_SIM_FMT_CPHY] = 5, [KEEL_SIM_FMT_MSR] = 7, [KEEL_SIM_FMT_TENCENT] = 5
	};
	char line[LINE_MAX_LEN], *f[MAX_FIELDS];
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
		const char *why;
		int n;

		lineno++;
		if (!strchr(line, '\n') && !gzeof(gz)) {
			why = "line longer than 4096 bytes";
			goto bad;
		}
		if (line[strspn(line, " \t\r\n")] == 0)
			continue;
		/* A header line starts with a letter where a number goes. */
		if (lineno == 1 &&
		    ((line[0] >= 'a' && line[0] <= 'z') || (line[0] >= 'A' && line[0] <= 'Z')))
			continue;
		n = split(line, f);
		if (n != want[fmt]) {
			snprintf(err->msg, sizeof(err->msg),
				 "%s:%llu: expected %d comma-separated fields "
				 "for --format %s, got %d",
				 path, (unsigned long long)lineno, want[fmt],
				 keel_sim_format_name(fmt), n);
			r = -EBADMSG;
			goto out;
		}
		why = fmt == KEEL_SIM_FMT_CPHY ? parse_cphy(f, &q) :
		      fmt == KEEL_SIM_FMT_MSR  ? parse_msr(f, &q) :
						 parse_tencent(f, &q);
		if (why)
			goto bad;
		r = keel_sim_trace_push(t, &q);
		if (r) {
			snprintf(err->msg, sizeof(err->msg), "%s:%llu: out of memory", path,
				 (unsigned long long)lineno);
			goto out;
		}
		continue;
bad:
		snprintf(err->msg, sizeof(err->msg), "%s:%llu: %s", path,
			 (unsigned long long)lineno, why);
		r = -EBADMSG;
		goto out;
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
