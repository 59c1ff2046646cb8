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

enum opt_type { OPT_BOOL, OPT_UINT, OPT_STRING };

struct opt {
	const char *section;
	const char *name;
	enum opt_type type;
	size_t offset;
	size_t size;		/* OPT_STRING: buffer size */
	unsigned long min, max;	/* OPT_UINT: inclusive range */
	const char *def;	/* the embedded default, as text */
	const char *help;
};

#define BOOL(sec, key, field, d, h) \
	{ sec, key, OPT_BOOL, offsetof(struct keel_config, field), 0, 0, 0, d, h }
#define UINT(sec, key, field, lo, hi, d, h) \
	{ sec, key, OPT_UINT, offsetof(struct keel_config, field), 0, lo, hi, d, h }
#define STRING(sec, key, field, d, h)                                        \
	{ sec, key, OPT_STRING, offsetof(struct keel_config, field),         \
	  sizeof(((struct keel_config *)0)->field), 0, 0, d, h }

static const struct opt opts[] = {
	STRING("keeld", "host", host, "",
	       "host name put in every event; empty: the system's host name"),
	STRING("control", "socket", control_socket, "/run/keel/keel.sock",
	       "Unix socket keelctl talks to"),
	STRING("control", "group", control_group, "root",
	       "group whose members may use the socket and change things (root always may)"),
	UINT("control", "max_clients", control_max_clients, 1, 1024, "64",
	     "connections at once, event subscribers included"),
	BOOL("events", "stdout", events_stdout, "true",
	     "write the event stream (NDJSON) to standard output"),
	UINT("events", "backlog", events_backlog, 0, 65536, "256",
	     "recent events kept for 'keelctl events' without --follow"),
	UINT("events", "queue_bytes", events_queue_bytes, 4096, 64 << 20, "1048576",
	     "bytes queued per slow subscriber before its events are dropped (and counted)"),
	STRING("bpf", "pin_dir", pin_dir, "/sys/fs/bpf/keel",
	       "where maps and links are pinned, on a bpffs"),
	BOOL("exec", "enabled", exec.enabled, "true",
	     "observe program execution through BPF LSM"),
	BOOL("exec", "required", exec.required, "false",
	     "exit with an error when exec cannot run"),
	STRING("exec", "mode", exec_mode, "audit",
	       "audit: allow untrusted code and report it; enforce: refuse it (EPERM); "
	       "used until 'keelctl exec mode' stores another in the trust store"),
	STRING("exec", "trust_db", exec_trust_db, "/var/lib/keel/trust.db",
	       "the trust store (SQLite): every file the approved installer trusted"),
	UINT("exec", "max_trusted", exec_max_trusted, 1024, 16777216, "1048576",
	     "trusted files the kernel map holds"),
	STRING("exec", "installers", exec_installers, "/usr/bin/dpkg",
	       "approved installers, full paths separated by commas (at most 16): while one "
	       "runs, what its process tree writes becomes trusted when closed; empty: none"),
	UINT("exec", "max_installing", exec_max_installing, 16, 1048576, "4096",
	     "files installers may have open for writing at once; beyond, they stay untrusted"),
	BOOL("blk", "enabled", blk.enabled, "true",
	     "observe block requests through block tracepoints"),
	BOOL("blk", "required", blk.required, "false",
	     "exit with an error when blk cannot run"),
	UINT("blk", "stats_interval_ms", blk_stats_interval_ms, 100, 3600000, "10000",
	     "period of blk.stats events"),
	UINT("blk", "cache_mib", blk_cache_mib, 1, 16777216, "256",
	     "size of each disk's three-queue cache model, in MiB"),
	UINT("blk", "block_size", blk_block_size, 512, 1048576, "4096",
	     "the model's block in bytes, a power of two: a read touching N blocks is N accesses"),
	UINT("blk", "max_disks", blk_max_disks, 1, 4096, "64",
	     "disks modelled at once; reads of further disks are counted, not modelled"),
	STRING("blk", "devices", blk_devices, "",
	       "only these disks (names or fnmatch patterns, comma-separated: loop*,vda); empty: all"),
	STRING("blk", "cgroups", blk_cgroups, "",
	       "only reads issued by tasks under these cgroup v2 paths (comma-separated, at most 8); empty: all"),
	UINT("blk", "ring_kib", blk_ring_kib, 64, 1048576, "4096",
	     "ring buffer from the kernel, in KiB, a power of two (about 48 bytes per read)"),
	STRING("blk", "mrc_mode", blk_mrc_mode, "fixed-rate",
	       "miss-ratio curve sampling: fixed-rate or fixed-size (SHARDS)"),
	UINT("blk", "mrc_rate_ppm", blk_mrc_rate_ppm, 1, 1000000, "10000",
	     "SHARDS sampling rate in parts per million (fixed-size: the starting rate)"),
	UINT("blk", "mrc_max_samples", blk_mrc_max_samples, 16, 16777216, "65536",
	     "sampled blocks kept per disk (about 50 bytes each); fixed-rate lowers its rate past it"),
	UINT("blk", "mrc_bins", blk_mrc_bins, 1, 65536, "200",
	     "points on each miss-ratio curve"),
	UINT("blk", "mrc_keel_points", blk_mrc_keel_points, 0, 1024, "16",
	     "points on the three-queue model's own curve (miniature simulation over 4 x cache_mib; 0: off)"),
	UINT("blk", "mrc_keel_max_entries", blk_mrc_keel_max_entries, 16, 268435456, "262144",
	     "cache entries of all miniature caches per disk (about 100 bytes each with the sample counting them); the rate is lowered to fit"),
	UINT("blk", "max_recordings", blk_max_recordings, 1, 64, "4",
	     "'keelctl blk record' sessions at once"),
	UINT("blk", "record_max_s", blk_record_max_s, 1, 86400, "3600",
	     "a recording stops after this long"),
	UINT("blk", "record_max_mib", blk_record_max_mib, 1, 1048576, "1024",
	     "a recording stops at this size (32 bytes per read)"),
	BOOL("kmod", "enabled", kmod.enabled, "true",
	     "use keel.ko when it is loaded"),
	BOOL("kmod", "required", kmod.required, "false",
	     "exit with an error when keel.ko is not usable"),
	STRING("kmod", "module", kmod_module, "",
	       "path of keel.ko to load at start when it is not loaded; empty: do not load"),
	BOOL("vmnet", "enabled", vmnet.enabled, "true",
	     "detect VMs arriving and leaving (TC on VM ports) and keep the ENI whitelist"),
	BOOL("vmnet", "required", vmnet.required, "false",
	     "exit with an error when vmnet cannot run"),
	STRING("vmnet", "uplink", vmnet_uplink, "",
	       "the ENI's interface: only whitelisted IPs pass it; empty: enforcement off (observe only)"),
	STRING("vmnet", "ports", vmnet_ports, "tap*,vnet*,macvtap*",
	       "VM port name patterns (fnmatch, comma-separated)"),
	STRING("vmnet", "inventory_dir", vmnet_inventory_dir, "/etc/keel/vmnet.d",
	       "files of lines 'VM MAC IP [IP...]'; reloaded on change; missing: none"),
	STRING("vmnet", "state_file", vmnet_state_file, "/run/keel/vmnet.state",
	       "IPs the provider confirmed, kept across restarts; empty: not kept"),
	UINT("vmnet", "grace_ms", vmnet_grace_ms, 0, 3600000, "2000",
	     "a departed VM's IPs leave the whitelist after this long"),
	STRING("vmnet", "learn", vmnet_learn, "inventory",
	       "addresses a NIC may learn from frames on its port: inventory (none), first "
	       "(its first one, if it has none) or any (any no other NIC owns)"),
	UINT("vmnet", "port_max_macs", vmnet_port_max_macs, 1, 4096, "4",
	     "NICs (MACs) here at once on one VM port; further MACs on it do not arrive"),
	UINT("vmnet", "port_max_ips", vmnet_port_max_ips, 1, 4096, "8",
	     "addresses learned (not from the inventory) by the NICs of one VM port"),
	STRING("vmnet", "provider_command", vmnet_provider_command, "",
	       "run on each whitelist change: {action} {ip} {mac} {vm} {port} {host} are replaced; empty: none"),
	UINT("vmnet", "provider_timeout_ms", vmnet_provider_timeout_ms, 100, 3600000, "10000",
	     "a provider command still running after this long is killed and retried"),
	UINT("vmnet", "provider_retries", vmnet_provider_retries, 0, 1000000, "10",
	     "attempts per change at a doubling backoff; then it is reported failed and retried "
	     "at the longest backoff until the provider confirms (0: never reported failed)"),
	UINT("vmnet", "provider_backoff_ms", vmnet_provider_backoff_ms, 10, 3600000, "500",
	     "first retry delay; it doubles up to 64 times this"),
	UINT("vmnet", "provider_max_running", vmnet_provider_max_running, 1, 256, "4",
	     "provider commands running at once"),
	UINT("vmnet", "provider_queue", vmnet_provider_queue, 1, 1024, "64",
	     "provider commands waiting for the spawner thread; when full, changes wait"),
	UINT("vmnet", "provider_nice", vmnet_provider_nice, 0, 19, "10",
	     "nice value of provider commands, so that they never slow detection"),
	UINT("vmnet", "max_vms", vmnet_max_vms, 1, 65536, "1024",
	     "VM NICs tracked (inventory and seen)"),
	UINT("vmnet", "max_ips", vmnet_max_ips, 1, 65536, "4096",
	     "whitelist entries (VM and host addresses)"),
	UINT("vmnet", "max_ports", vmnet_max_ports, 1, 65536, "1024",
	     "VM ports with TC programs attached"),
	BOOL("memh", "enabled", memh.enabled, "true",
	     "serve file reads into clients' memory handles (keel.ko, else pidfd fallback)"),
	BOOL("memh", "required", memh.required, "false",
	     "exit with an error when the memh read service cannot run"),
	STRING("memh", "socket", memh_socket, "",
	       "the read service's Unix socket (mode 0660, [control] group); empty: memh.sock beside [control] socket"),
	STRING("memh", "allowed_dirs", memh_allowed_dirs, "",
	       "colon-separated directories whose files clients may read; empty: none"),
	UINT("memh", "max_clients", memh_max_clients, 1, 4096, "64",
	     "client connections at once; more are refused with a message"),
	UINT("memh", "max_inflight", memh_max_inflight, 1, 1024, "16",
	     "requests one client may have queued or running"),
	UINT("memh", "max_read_bytes", memh_max_read_bytes, 4096, 1U << 30, "67108864",
	     "bytes one request may read"),
	UINT("memh", "workers", memh_workers, 1, 64, "2",
	     "threads doing the reads, so that a slow file never stalls keeld's loop"),
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct parse_ctx {
	struct keel_config *cfg;
	struct keel_config_error *err;
	int line;			/* line the reader gave last */
	int set_on[N_OPTS];		/* line each key was set on, 0: not set */
	const char *text;		/* string source, NULL for files */
	FILE *file;
};

static const struct opt *opt_find(const char *section, const char *name)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (!strcmp(opts[i].section, section) && !strcmp(opts[i].name, name))
			return &opts[i];
	return NULL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (!strcmp(opts[i].section, section))
			return true;
	return false;
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

/* Write @value into @cfg per @o; on failure fill @msg and leave @cfg alone. */
static int opt_set(const struct opt *o, struct keel_config *cfg,
		   const char *value, char *msg, size_t msglen)
{
	char *field = (char *)cfg + o->offset;
	unsigned long long n;
	char *end;
	bool b;

	switch (o->type) {
	case OPT_BOOL:
		if (parse_bool(value, &b) < 0) {
			snprintf(msg, msglen, "'%s' is not a boolean (use true or false)", value);
			return -EINVAL;
		}
		*(bool *)field = b;
		return 0;
	case OPT_UINT:
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
	case OPT_STRING:
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

static void set_error(struct parse_ctx *ctx, const char *section,
		      const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_error(struct parse_ctx *ctx, const char *section,
		      const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ctx->err->msg[0])
		return;		/* keep the first error: it is the one to fix */
	ctx->err->line = ctx->line;
	if (section && name)
		snprintf(ctx->err->key, sizeof(ctx->err->key), "[%s] %s", section, name);
	va_start(ap, fmt);
	vsnprintf(ctx->err->msg, sizeof(ctx->err->msg), fmt, ap);
	va_end(ap);
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_ctx *ctx = user;
	const struct opt *o = opt_find(section, name);
	char msg[200];
	size_t i;

	if (!o) {
		if (!section_known(section))
			set_error(ctx, section, name, "unknown section [%s]", section);
		else
			set_error(ctx, section, name, "unknown key '%s' in section [%s]",
				  name, section);
		return 0;
	}
	i = (size_t)(o - opts);
	if (ctx->set_on[i]) {
		set_error(ctx, section, name, "set twice (first on line %d)", ctx->set_on[i]);
		return 0;
	}
	ctx->set_on[i] = ctx->line;
	if (opt_set(o, ctx->cfg, value, msg, sizeof(msg)) < 0) {
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
		rc = ctx->err->line;	/* the reader stopped early */
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
	*cfg = work;	/* all or nothing */
	return 0;
}

static void error_init(struct keel_config_error *err, const char *name)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", name);
}

int keel_config_load_string(struct keel_config *cfg, const char *text,
			    const char *name, struct keel_config_error *err)
{
	struct parse_ctx ctx = { .err = err, .text = text };

	error_init(err, name);
	return parse(cfg, &ctx);
}

int keel_config_load_file(struct keel_config *cfg, const char *path,
			  struct keel_config_error *err)
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

void keel_config_defaults(struct keel_config *cfg)
{
	char msg[200];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_OPTS; i++)
		if (opt_set(&opts[i], cfg, opts[i].def, msg, sizeof(msg)) < 0)
			abort();	/* a bad default is a programming error */
}

void keel_config_error_format(const struct keel_config_error *err, char *buf,
			      size_t len)
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
	const char *section = "";

	fprintf(out, "# keeld effective configuration\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];
		const char *field = (const char *)cfg + o->offset;

		if (strcmp(section, o->section)) {
			section = o->section;
			fprintf(out, "\n[%s]\n", section);
		}
		fprintf(out, "; %s", o->help);
		if (o->type == OPT_UINT)
			fprintf(out, " (%lu..%lu)", o->min, o->max);
		fprintf(out, "\n%s = ", o->name);
		switch (o->type) {
		case OPT_BOOL:
			fprintf(out, "%s\n", *(const bool *)field ? "true" : "false");
			break;
		case OPT_UINT:
			fprintf(out, "%u\n", *(const unsigned int *)field);
			break;
		case OPT_STRING:
			fprintf(out, "%s\n", field);
			break;
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
	if (strcmp(cfg->vmnet_learn, "inventory") && strcmp(cfg->vmnet_learn, "first") &&
	    strcmp(cfg->vmnet_learn, "any")) {
		snprintf(err->key, sizeof(err->key), "[vmnet] learn");
		snprintf(err->msg, sizeof(err->msg),
			 "'%s' is not a learning policy (use inventory, first or any)",
			 cfg->vmnet_learn);
		return -EINVAL;
	}
	if (cfg->pin_dir[0] != '/' || cfg->control_socket[0] != '/') {
		snprintf(err->key, sizeof(err->key), cfg->pin_dir[0] != '/' ?
			 "[bpf] pin_dir" : "[control] socket");
		snprintf(err->msg, sizeof(err->msg), "must be an absolute path");
		return -EINVAL;
	}
	return 0;
}
