// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keeld/config.h"
#include "keeld/subsys.h"

/* The frame's own sections; each subsystem's is in its folder. */
#define FRAME_STRING(key, field, d, h) KEEL_OPT_STRING(struct keel_config, key, field, d, h)
#define FRAME_UINT(key, field, lo, hi, d, h) \
	KEEL_OPT_UINT(struct keel_config, key, field, lo, hi, d, h)
#define FRAME_BOOL(key, field, d, h) KEEL_OPT_BOOL(struct keel_config, key, field, d, h)

static const struct keel_opt keeld_opts[] = {
	FRAME_STRING("host", host, "",
		     "host name put in every event; empty: the system's host name"),
	KEEL_OPT_END
};

static const struct keel_opt control_opts[] = {
	FRAME_STRING("socket", control_socket, "/run/keel/keel.sock",
		     "Unix socket keelctl talks to"),
	FRAME_STRING("group", control_group, "root",
		     "group whose members may use the socket and change things (root always may)"),
	FRAME_UINT("max_clients", control_max_clients, 1, 1024, "64",
		   "connections at once, event subscribers included"),
	KEEL_OPT_END
};

static const struct keel_opt events_opts[] = {
	FRAME_BOOL("stdout", events_stdout, "true",
		   "write the event stream (NDJSON) to standard output"),
	FRAME_UINT("backlog", events_backlog, 0, 65536, "256",
		   "recent events kept for 'keelctl events' without --follow"),
	FRAME_UINT("queue_bytes", events_queue_bytes, 4096, 64 << 20, "1048576",
		   "bytes queued per slow subscriber before its events are dropped (and counted)"),
	FRAME_BOOL("journal", events_journal, "true",
		   "send every event to the systemd journal (KEEL_* fields) when journald runs"),
	FRAME_STRING(
		"journal_exclude", events_journal_exclude, "",
		"event types not sent to the journal, comma-separated ('blk.stats', or 'exec' for exec.*)"),
	FRAME_STRING("file", events_file, "",
		     "also append every event as a JSON line to this file; empty: no file"),
	FRAME_UINT("file_max_bytes", events_file_max_bytes, 4096, 1U << 30, "104857600",
		   "rotate the events file when it would grow past this size"),
	FRAME_UINT("file_backups", events_file_backups, 0, 100, "5",
		   "rotated events files kept, gzip-compressed (FILE.1.gz is the newest)"),
	FRAME_UINT(
		"sink_queue", events_sink_queue, 16, 1048576, "8192",
		"events queued for the journal and for the file each; when full, new ones are dropped, counted and reported (keel.dropped)"),
	KEEL_OPT_END
};

static const struct keel_opt metrics_opts[] = {
	FRAME_STRING(
		"listen", metrics_listen, "",
		"serve Prometheus metrics on GET /metrics at HOST:PORT ([::1]:9477, :9477 for all); empty: off"),
	FRAME_UINT("max_clients", metrics_max_clients, 1, 64, "8", "metrics connections at once"),
	KEEL_OPT_END
};

static const struct keel_opt bpf_opts[] = { FRAME_STRING(
						    "pin_dir", pin_dir, "/sys/fs/bpf/keel",
						    "where maps and links are pinned, on a bpffs"),
					    KEEL_OPT_END };

static const struct {
	const char *name;
	const struct keel_opt *opts;
} frame_sections[] = {
	{ "keeld", keeld_opts },     { "control", control_opts }, { "events", events_opts },
	{ "metrics", metrics_opts }, { "bpf", bpf_opts },
};

#define N_FRAME_SECTIONS (sizeof(frame_sections) / sizeof(frame_sections[0]))
#define MAX_SECTIONS	 (N_FRAME_SECTIONS + KEEL_MAX_SUBSYSTEMS)
#define MAX_KEYS	 512 /* of all sections: the parser's bookkeeping */

/* A section of one configuration: its name, its keys, the struct they fill. */
struct section {
	const char *name;
	const struct keel_opt *opts;
	void *base;
};

static size_t subsys_offset_align(size_t n)
{
	return (n + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
}

const void *keel_config_subsys(const struct keel_config *cfg, const struct keel_subsys_ops *ops)
{
	size_t off = 0;

	for (size_t i = 0; keel_subsystems[i]; i++) {
		if (keel_subsystems[i] == ops)
			return cfg->subsys + off;
		off += subsys_offset_align(keel_subsystems[i]->config_size);
	}
	return NULL;
}

/* Every section of @cfg, frame first, in print order; returns the count. */
static size_t sections(const struct keel_config *cfg, struct section *ret)
{
	size_t n = 0;

	for (size_t i = 0; i < N_FRAME_SECTIONS; i++)
		ret[n++] = (struct section){ frame_sections[i].name, frame_sections[i].opts,
					     (void *)cfg };
	for (size_t i = 0; keel_subsystems[i] && n < MAX_SECTIONS; i++)
		ret[n++] = (struct section){ keel_subsystems[i]->name, keel_subsystems[i]->options,
					     (void *)keel_config_subsys(cfg, keel_subsystems[i]) };
	return n;
}

struct parse_ctx {
	struct keel_config *cfg;
	struct keel_config_error *err;
	int line;	      /* line the reader gave last */
	int set_on[MAX_KEYS]; /* line each key was set on, 0: not set */
	const char *text;     /* string source, NULL for files */
	FILE *file;
};

/*
 * Key @name of [@section] in @cfg: its row, the struct it fills in @ret_base
 * and its number among all keys in @ret_index.  NULL when unknown; then
 * *@ret_index is 0 when the section is unknown too.
 */
static const struct keel_opt *opt_find(struct keel_config *cfg, const char *section,
				       const char *name, void **ret_base, size_t *ret_index)
{
	struct section secs[MAX_SECTIONS];
	size_t n = sections(cfg, secs), index = 0;

	*ret_index = 0;
	for (size_t i = 0; i < n; i++) {
		const struct keel_opt *o = secs[i].opts;

		if (strcmp(secs[i].name, section)) {
			while (o->name)
				o++, index++;
			continue;
		}
		for (; o->name; o++, index++) {
			if (!strcmp(o->name, name)) {
				*ret_base = secs[i].base;
				*ret_index = index;
				return o;
			}
		}
		*ret_index = 1; /* the section is known */
		return NULL;
	}
	return NULL;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Write @value into @base per @o; on failure fill @msg and leave @base alone. */
static int opt_set(const struct keel_opt *o, void *base, const char *value, char *msg,
		   size_t msglen)
{
	char *field = (char *)base + o->offset;
	unsigned long long n;
	char *end;
	bool b;

	switch (o->type) {
	case KEEL_OPT_BOOL:
		if (parse_bool(value, &b) < 0) {
			snprintf(msg, msglen, "'%s' is not a boolean (use true or false)", value);
			return -EINVAL;
		}
		*(bool *)field = b;
		return 0;
	case KEEL_OPT_UINT:
		errno = 0;
		n = strtoull(value, &end, 10);
		if (!*value || *end || value[0] == '-' || errno) {
			snprintf(msg, msglen, "'%s' is not a whole number", value);
			return -EINVAL;
		}
		if (n < o->min || n > o->max) {
			snprintf(msg, msglen, "%llu is out of range %lu..%lu", n, o->min, o->max);
			return -ERANGE;
		}
		*(unsigned int *)field = (unsigned int)n;
		return 0;
	case KEEL_OPT_STRING:
		if (strlen(value) >= o->size) {
			snprintf(msg, msglen, "value is %zu characters long, at most %zu allowed",
				 strlen(value), o->size - 1);
			return -ENAMETOOLONG;
		}
		strcpy(field, value);
		return 0;
	}
	return -EINVAL;
}

static void set_error(struct parse_ctx *ctx, const char *section, const char *name, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));

static void set_error(struct parse_ctx *ctx, const char *section, const char *name, const char *fmt,
		      ...)
{
	va_list ap;

	if (ctx->err->msg[0])
		return; /* keep the first error: it is the one to fix */
	ctx->err->line = ctx->line;
	if (section && name)
		snprintf(ctx->err->key, sizeof(ctx->err->key), "[%s] %s", section, name);
	va_start(ap, fmt);
	vsnprintf(ctx->err->msg, sizeof(ctx->err->msg), fmt, ap);
	va_end(ap);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	void *base = NULL;
	size_t i;
	const struct keel_opt *o = opt_find(ctx->cfg, section, name, &base, &i);
	char msg[200];

	if (!o) {
		if (!i)
			set_error(ctx, section, name, "unknown section [%s]", section);
		else
			set_error(ctx, section, name, "unknown key '%s' in section [%s]", name,
				  section);
		return 0;
	}
	if (ctx->set_on[i]) {
		set_error(ctx, section, name, "set twice (first on line %d)", ctx->set_on[i]);
		return 0;
	}
	ctx->set_on[i] = ctx->line;
	if (opt_set(o, base, value, msg, sizeof(msg)) < 0) {
		set_error(ctx, section, name, "%s", msg);
		return 0;
	}
	return 1;
}

/*
 * Our own line reader, so that the handler knows the line it is called for
 * (libinih 55 does not pass it) and over-long lines are refused instead of
 * being split in two by fgets.
 */
static char *read_line(char *buf, int size, void *stream)
{
	struct parse_ctx *ctx = stream;
	size_t len;

	if (ctx->file) {
		if (!fgets(buf, size, ctx->file))
			return NULL;
	} else {
		const char *nl;

		if (!*ctx->text)
			return NULL;
		nl = strchr(ctx->text, '\n');
		len = nl ? (size_t)(nl - ctx->text) + 1 : strlen(ctx->text);
		if (len > (size_t)size - 1)
			len = (size_t)size - 1;
		memcpy(buf, ctx->text, len);
		buf[len] = '\0';
		ctx->text += len;
	}
	ctx->line++;
	len = strlen(buf);
	if (len == (size_t)size - 1 && buf[len - 1] != '\n') {
		set_error(ctx, NULL, NULL, "line longer than %d characters", size - 2);
		return NULL;
	}
	return buf;
}

static int parse(struct keel_config *cfg, struct parse_ctx *ctx)
{
	struct keel_config work = *cfg;
	int rc;

	ctx->cfg = &work;
	rc = ini_parse_stream(read_line, ctx, handler, ctx);
	if (rc == 0 && ctx->err->msg[0])
		rc = ctx->err->line; /* the reader stopped early */
	if (rc < 0) {
		snprintf(ctx->err->msg, sizeof(ctx->err->msg), "out of memory");
		return -ENOMEM;
	}
	if (rc > 0) {
		if (!ctx->err->msg[0] || ctx->err->line > rc) {
			/* inih found a bad line before any key error */
			ctx->err->line = rc;
			ctx->err->key[0] = '\0';
			snprintf(ctx->err->msg, sizeof(ctx->err->msg),
				 "syntax error: expected '[section]', 'key = value' or a comment");
		}
		return -EINVAL;
	}
	*cfg = work; /* all or nothing */
	return 0;
}

static void error_init(struct keel_config_error *err, const char *name)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", name);
}

int keel_config_load_string(struct keel_config *cfg, const char *text, const char *name,
			    struct keel_config_error *err)
{
	struct parse_ctx ctx = { .err = err, .text = text };

	error_init(err, name);
	return parse(cfg, &ctx);
}

int keel_config_load_file(struct keel_config *cfg, const char *path, struct keel_config_error *err)
{
	struct parse_ctx ctx = { .err = err };
	int rc;

	error_init(err, path);
	ctx.file = fopen(path, "re");
	if (!ctx.file) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "cannot open: %s", strerror(-rc));
		return rc;
	}
	rc = parse(cfg, &ctx);
	if (rc == 0 && ferror(ctx.file)) {
		rc = -EIO;
		snprintf(err->msg, sizeof(err->msg), "read error");
	}
	fclose(ctx.file);
	return rc;
}

/*
 * A subsystem whose ops break the frame's rules is a programming error:
 * say which and stop, at every start and in the unit tests.
 */
static void check_subsys_ops(const struct keel_subsys_ops *ops, size_t *used)
{
	const struct keel_opt *o = ops->options;
	bool enabled = false, required = false;

	if (!o || ops->config_size < sizeof(struct keel_subsys_config)) {
		fprintf(stderr, "subsystem %s: no options table or config_size\n", ops->name);
		abort();
	}
	for (; o->name; o++) {
		if (o->offset + (o->type == KEEL_OPT_STRING ? o->size :
				 o->type == KEEL_OPT_UINT   ? sizeof(unsigned int) :
							      sizeof(bool)) >
		    ops->config_size) {
			fprintf(stderr, "subsystem %s: key %s lies beyond config_size\n", ops->name,
				o->name);
			abort();
		}
		enabled |= !strcmp(o->name, "enabled") &&
			   o->offset == offsetof(struct keel_subsys_config, enabled);
		required |= !strcmp(o->name, "required") &&
			    o->offset == offsetof(struct keel_subsys_config, required);
	}
	*used += subsys_offset_align(ops->config_size);
	if (!enabled || !required || *used > KEEL_CONFIG_SUBSYS_BYTES) {
		fprintf(stderr, "subsystem %s: %s\n", ops->name,
			*used > KEEL_CONFIG_SUBSYS_BYTES ?
				"raise KEEL_CONFIG_SUBSYS_BYTES in keeld/config.h" :
				"its table lacks KEEL_OPT_ENABLED or KEEL_OPT_REQUIRED on its subsys member");
		abort();
	}
}

void keel_config_defaults(struct keel_config *cfg)
{
	struct section secs[MAX_SECTIONS];
	size_t n, used = 0, keys = 0;
	char msg[200];

	if (sizeof(frame_sections) / sizeof(frame_sections[0]) + keel_subsystem_count() >
	    MAX_SECTIONS)
		abort(); /* raise KEEL_MAX_SUBSYSTEMS */
	for (size_t i = 0; keel_subsystems[i]; i++)
		check_subsys_ops(keel_subsystems[i], &used);
	memset(cfg, 0, sizeof(*cfg));
	n = sections(cfg, secs);
	for (size_t i = 0; i < n; i++)
		for (const struct keel_opt *o = secs[i].opts; o->name; o++, keys++)
			if (keys >= MAX_KEYS ||
			    opt_set(o, secs[i].base, o->def, msg, sizeof(msg)) < 0)
				abort(); /* a bad default is a programming error */
}

void keel_config_error_format(const struct keel_config_error *err, char *buf, size_t len)
{
	char where[PATH_MAX + 16];

	if (err->line > 0)
		snprintf(where, sizeof(where), "%s:%d", err->file, err->line);
	else
		snprintf(where, sizeof(where), "%s", err->file);
	if (err->key[0])
		snprintf(buf, len, "%s: %s: %s", where, err->key, err->msg);
	else
		snprintf(buf, len, "%s: %s", where, err->msg);
}

void keel_config_print(const struct keel_config *cfg, FILE *out)
{
	struct section secs[MAX_SECTIONS];
	size_t n = sections(cfg, secs);

	fprintf(out, "# keeld effective configuration\n");
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "\n[%s]\n", secs[i].name);
		for (const struct keel_opt *o = secs[i].opts; o->name; o++) {
			const char *field = (const char *)secs[i].base + o->offset;

			fprintf(out, "; %s", o->help);
			if (o->type == KEEL_OPT_UINT)
				fprintf(out, " (%lu..%lu)", o->min, o->max);
			fprintf(out, "\n%s = ", o->name);
			switch (o->type) {
			case KEEL_OPT_BOOL:
				fprintf(out, "%s\n", *(const bool *)field ? "true" : "false");
				break;
			case KEEL_OPT_UINT:
				fprintf(out, "%u\n", *(const unsigned int *)field);
				break;
			case KEEL_OPT_STRING:
				fprintf(out, "%s\n", field);
				break;
			}
		}
	}
}

int keel_config_validate(const struct keel_config *cfg, struct keel_config_error *err)
{
	if (!getgrnam(cfg->control_group)) {
		snprintf(err->key, sizeof(err->key), "[control] group");
		snprintf(err->msg, sizeof(err->msg), "no group named '%s' on this system",
			 cfg->control_group);
		return -EINVAL;
	}
	if (cfg->pin_dir[0] != '/' || cfg->control_socket[0] != '/') {
		snprintf(err->key, sizeof(err->key),
			 cfg->pin_dir[0] != '/' ? "[bpf] pin_dir" : "[control] socket");
		snprintf(err->msg, sizeof(err->msg), "must be an absolute path");
		return -EINVAL;
	}
	if (cfg->events_file[0] && cfg->events_file[0] != '/') {
		snprintf(err->key, sizeof(err->key), "[events] file");
		snprintf(err->msg, sizeof(err->msg),
			 "must be an absolute path (or empty: no file)");
		return -EINVAL;
	}
	for (size_t i = 0; keel_subsystems[i]; i++) {
		const struct keel_subsys_ops *ops = keel_subsystems[i];
		char name[64] = "";
		int rc;

		if (!ops->check_config)
			continue;
		rc = ops->check_config(keel_config_subsys(cfg, ops), name, sizeof(name), err->msg,
				       sizeof(err->msg));
		if (rc) {
			snprintf(err->key, sizeof(err->key), "[%s] %s", ops->name, name);
			return rc;
		}
	}
	return 0;
}

static size_t opt_size(const struct keel_opt *o)
{
	return o->type == KEEL_OPT_STRING ? o->size :
	       o->type == KEEL_OPT_UINT	  ? sizeof(unsigned int) :
					    sizeof(bool);
}

void keel_config_diff(const struct keel_config *a, const struct keel_config *b,
		      void (*cb)(const char *section, const struct keel_opt *o, size_t cfg_offset,
				 size_t size, void *ctx),
		      void *ctx)
{
	struct section secs[MAX_SECTIONS];
	size_t n = sections(a, secs);

	for (size_t i = 0; i < n; i++) {
		size_t base = (size_t)((const char *)secs[i].base - (const char *)a);

		for (const struct keel_opt *o = secs[i].opts; o->name; o++) {
			size_t off = base + o->offset, size = opt_size(o);
			const char *va = (const char *)a + off, *vb = (const char *)b + off;
			bool same = o->type == KEEL_OPT_STRING ? !strcmp(va, vb) :
								 !memcmp(va, vb, size);

			if (!same)
				cb(secs[i].name, o, off, size, ctx);
		}
	}
}
