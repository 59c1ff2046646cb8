/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keeld's configuration: an embedded default, overridden key by key by an
 * INI file (parsed with libinih).  Every key is declared once, in a table of
 * struct keel_opt rows with its type, range, default and help text: the
 * frame's own sections ([keeld], [control], [events], [bpf]) in config.c,
 * and each subsystem's [<name>] section in the subsystem's folder, named by
 * its ops (.options, .config_size).  The parser, the validation and
 * `keeld --print-config` all read those tables; docs/architecture.md says
 * how to add a subsystem and its keys.
 */
#ifndef KEEL_CONFIG_H
#define KEEL_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/un.h>

#define KEEL_DEFAULT_CONFIG_PATH "/etc/keel/keel.conf"

enum keel_opt_type { KEEL_OPT_BOOL, KEEL_OPT_UINT, KEEL_OPT_STRING };

/* One key of a section: where its value goes in the section's struct. */
struct keel_opt {
	const char *name;
	enum keel_opt_type type;
	size_t offset;		/* in the section's struct */
	size_t size;		/* KEEL_OPT_STRING: buffer size */
	unsigned long min, max; /* KEEL_OPT_UINT: inclusive range */
	const char *def;	/* the embedded default, as text */
	const char *help;	/* one line for --print-config and the docs */
};

/* Rows of a table filling struct @T; a table ends with KEEL_OPT_END. */
#define KEEL_OPT_BOOL(T, key, field, d, h)                            \
	{                                                             \
		key, KEEL_OPT_BOOL, offsetof(T, field), 0, 0, 0, d, h \
	}
#define KEEL_OPT_UINT(T, key, field, lo, hi, d, h)                      \
	{                                                               \
		key, KEEL_OPT_UINT, offsetof(T, field), 0, lo, hi, d, h \
	}
#define KEEL_OPT_STRING(T, key, field, d, h)                                                  \
	{                                                                                     \
		key, KEEL_OPT_STRING, offsetof(T, field), sizeof(((T *)0)->field), 0, 0, d, h \
	}
#define KEEL_OPT_END                                        \
	{                                                   \
		NULL, KEEL_OPT_BOOL, 0, 0, 0, 0, NULL, NULL \
	}

/*
 * The keys every subsystem has.  A subsystem's config struct starts with
 * this member, named subsys, and its table with the two rows below, so that
 * the frame finds them without knowing the struct.
 */
struct keel_subsys_config {
	bool enabled;  /* start it when its kernel features are there */
	bool required; /* keeld refuses to run without it */
};

#define KEEL_OPT_ENABLED(T, h)	KEEL_OPT_BOOL(T, "enabled", subsys.enabled, "true", h)
#define KEEL_OPT_REQUIRED(T, h) KEEL_OPT_BOOL(T, "required", subsys.required, "false", h)

/* Room for every subsystem's config struct; keel_config_defaults() checks it. */
#define KEEL_CONFIG_SUBSYS_BYTES (64 * 1024)

struct keel_config {
	char host[64];
	char control_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char control_group[64];
	unsigned int control_max_clients;
	bool events_stdout;
	unsigned int events_backlog;
	unsigned int events_queue_bytes;
	/* the durable record (agent/keeld/sinks.c) */
	bool events_journal;
	char events_journal_exclude[256];
	char events_file[256];
	unsigned int events_file_max_bytes;
	unsigned int events_file_backups;
	unsigned int events_sink_queue;
	char metrics_listen[128];
	unsigned int metrics_max_clients;
	char pin_dir[128];
	/*
	 * Each subsystem's config struct, in registry order (see
	 * keel_config_subsys()).  Kept inside, so that a configuration is a
	 * value: copied whole, a file applies all or nothing.
	 */
	_Alignas(max_align_t) unsigned char subsys[KEEL_CONFIG_SUBSYS_BYTES];
};

/* What went wrong in a configuration file, for one clear message. */
struct keel_config_error {
	char file[PATH_MAX];
	int line;     /* 0 when the error is not on a line */
	char key[96]; /* "[section] name", empty when none */
	char msg[256];
};

/* Fill @cfg with the embedded defaults. */
void keel_config_defaults(struct keel_config *cfg);

/*
 * Apply the file at @path on top of what @cfg holds.  On error @cfg is left
 * exactly as it was, @err says where and why, and a negative errno returns:
 * -ENOENT/-EACCES for an unreadable file, -EINVAL for bad content.
 */
int keel_config_load_file(struct keel_config *cfg, const char *path, struct keel_config_error *err);

/* Same, from a string (named @name in errors); used by tests. */
int keel_config_load_string(struct keel_config *cfg, const char *text, const char *name,
			    struct keel_config_error *err);

/*
 * Checks that need the system or several keys: does [control] group exist,
 * and each subsystem's own check_config.
 */
int keel_config_validate(const struct keel_config *cfg, struct keel_config_error *err);

/* "FILE:LINE: [section] key: message" */
void keel_config_error_format(const struct keel_config_error *err, char *buf, size_t len);

/* Write the effective configuration as a commented INI file. */
void keel_config_print(const struct keel_config *cfg, FILE *out);

/*
 * Call @cb for every key whose value differs between @a and @b: its
 * section, its row, and where its value lies in struct keel_config
 * (@cfg_offset, @size bytes), so that a caller can copy it from one to the
 * other.  Used by reload (keeld/reload.c).
 */
void keel_config_diff(const struct keel_config *a, const struct keel_config *b,
		      void (*cb)(const char *section, const struct keel_opt *o, size_t cfg_offset,
				 size_t size, void *ctx),
		      void *ctx);

struct keel_subsys_ops;

/*
 * The config struct of the subsystem @ops (of ops->config_size bytes,
 * starting with struct keel_subsys_config) inside @cfg; NULL when @ops is
 * not in the registry.
 */
const void *keel_config_subsys(const struct keel_config *cfg, const struct keel_subsys_ops *ops);

#endif /* KEEL_CONFIG_H */
