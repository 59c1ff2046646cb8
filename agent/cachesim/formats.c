// SPDX-License-Identifier: GPL-2.0-only
/* Trace container, format names and detection for keel-cachesim. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cachesim/sim.h"
#include "keel/trace.h"

static const char *const fmt_names[] = {
	[KEEL_SIM_FMT_AUTO] = "auto",	    [KEEL_SIM_FMT_ORACLE] = "oracle",
	[KEEL_SIM_FMT_CPHY] = "csv",	    [KEEL_SIM_FMT_MSR] = "msr",
	[KEEL_SIM_FMT_TENCENT] = "tencent", [KEEL_SIM_FMT_TEXT] = "text",
	[KEEL_SIM_FMT_KEEL] = "keel",
};

const char *keel_sim_format_name(enum keel_sim_format f)
{
	return fmt_names[f];
}

int keel_sim_format_parse(const char *s, enum keel_sim_format *ret)
{
	for (size_t i = 0; i < sizeof(fmt_names) / sizeof(fmt_names[0]); i++) {
		if (!strcmp(s, fmt_names[i])) {
			*ret = (enum keel_sim_format)i;
			return 0;
		}
	}
	if (!strcmp(s, "oracleGeneral")) {
		*ret = KEEL_SIM_FMT_ORACLE;
		return 0;
	}
	return -EINVAL;
}

int keel_sim_trace_push(struct keel_sim_trace *t, const struct keel_sim_req *r)
{
	if (t->n == t->alloc) {
		size_t na = t->alloc ? t->alloc * 2 : 4096;
		struct keel_sim_req *nr = realloc(t->reqs, na * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		t->reqs = nr;
		t->alloc = na;
	}
	t->reqs[t->n++] = *r;
	return 0;
}

void keel_sim_trace_free(struct keel_sim_trace *t)
{
	free(t->reqs);
	memset(t, 0, sizeof(*t));
}

static int count_fields(const char *line)
{
	int n = 1;

	for (; *line && *line != '\n' && *line != '\r'; line++)
		n += *line == ',';
	return n;
}

/* Field i (0-based) of a comma-separated line, copied into buf. */
static void field(const char *line, int i, char *buf, size_t len)
{
	size_t k = 0;

	for (; i > 0 && *line; line++)
		i -= *line == ',';
	while (*line && *line != ',' && *line != '\n' && *line != '\r' && k + 1 < len)
		buf[k++] = *line++;
	buf[k] = 0;
}

static enum keel_sim_format guess_text(const char *line)
{
	char f[64];
	int n = count_fields(line);
	const char *p = line;

	if (!strncmp(line, "version,", 8))
		return KEEL_SIM_FMT_CPHY;
	while (isspace((unsigned char)*p))
		p++;
	if (n == 1)
		return KEEL_SIM_FMT_TEXT;
	if (n == 7) {
		field(line, 3, f, sizeof(f));
		if (!strcasecmp(f, "read") || !strcasecmp(f, "write"))
			return KEEL_SIM_FMT_MSR;
	}
	if (n == 5) {
		/* Tencent's type is 0 or 1; cloudPhysics has a byte count
		 * there, never 0 or 1. */
		field(line, 3, f, sizeof(f));
		if (!strcmp(f, "0") || !strcmp(f, "1"))
			return KEEL_SIM_FMT_TENCENT;
		field(line, 2, f, sizeof(f));
		/* cloudPhysics ops are SCSI opcodes in hex (28, 2a, ...). */
		if (strlen(f) == 2 && isxdigit((unsigned char)f[0]) &&
		    isxdigit((unsigned char)f[1]))
			return KEEL_SIM_FMT_CPHY;
	}
	return KEEL_SIM_FMT_AUTO;
}

int keel_sim_trace_detect(const char *path, enum keel_sim_format *ret, struct keel_sim_err *err)
{
	unsigned char head[512];
	char line[512];
	size_t n;
	bool text = true;
	FILE *f = fopen(path, "rbe");
	gzFile gz;

	if (!f) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(errno));
		return -errno;
	}
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	if (n >= 8 && !memcmp(head, KEEL_TRACE_MAGIC, 8)) {
		*ret = KEEL_SIM_FMT_KEEL;
		return 0;
	}
	if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
		text = true; /* gzip: look at what it holds */
	} else {
		for (size_t i = 0; i < n; i++)
			if (!isprint(head[i]) && !isspace(head[i]))
				text = false;
		if (!text) {
			*ret = KEEL_SIM_FMT_ORACLE;
			return 0;
		}
	}
	gz = gzopen(path, "rb");
	if (!gz || !gzgets(gz, line, sizeof(line))) {
		if (gz)
			gzclose(gz);
		snprintf(err->msg, sizeof(err->msg), "%s: empty or unreadable; give --format",
			 path);
		return -EBADMSG;
	}
	gzclose(gz);
	*ret = guess_text(line);
	if (*ret == KEEL_SIM_FMT_AUTO) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s:1: cannot tell the trace format from this line; "
			 "give --format (oracle, csv, msr, tencent, text, keel)",
			 path);
		return -EBADMSG;
	}
	return 0;
}

int keel_sim_trace_load(const char *path, enum keel_sim_format fmt, struct keel_sim_trace *t,
			struct keel_sim_err *err)
{
	int r;

	memset(t, 0, sizeof(*t));
	if (fmt == KEEL_SIM_FMT_AUTO) {
		r = keel_sim_trace_detect(path, &fmt, err);
		if (r)
			return r;
	}
	t->format = fmt;
	switch (fmt) {
	case KEEL_SIM_FMT_ORACLE:
		r = keel_sim_read_oracle(path, t, err);
		break;
	case KEEL_SIM_FMT_TEXT:
		t->keys_only = true;
		r = keel_sim_read_text(path, t, err);
		break;
	case KEEL_SIM_FMT_KEEL:
		r = keel_sim_read_keel(path, t, err);
		break;
	default:
		r = keel_sim_read_csv(path, fmt, t, err);
		break;
	}
	if (!r && t->n == 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: no requests in trace", path);
		r = -ENODATA;
	}
	if (r)
		keel_sim_trace_free(t);
	return r;
}
