// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reload (SIGHUP, `systemctl reload keeld`): read the configuration file
 * again, whole, into a new value.  A file that does not parse or check is
 * refused whole and the running configuration stays (keel.reload_refused,
 * naming the file, line and key).  Otherwise each changed key is either
 * applied now (the keys of the event record, which keeld can swap without
 * stopping anything) or reported as needing a restart: a subsystem's maps,
 * programs and limits were sized by its keys at start, and changing them
 * under it would leave the kernel and keeld disagreeing.  Those keys keep
 * their running value until keeld restarts (keel.reload lists them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/log.h"
#include "keeld/reload.h"
#include "keeld/sinks.h"

/* The keys a reload applies; every other changed key needs a restart. */
static const struct {
	const char *section, *name;
} live_keys[] = {
	{ "events", "journal" },	{ "events", "journal_exclude" }, { "events", "file" },
	{ "events", "file_max_bytes" }, { "events", "file_backups" },	 { "events", "sink_queue" },
};

struct diff {
	struct keel_config *next;	/* the running value plus the live keys */
	const struct keel_config *file; /* what the file says */
	json_t *applied, *restart;
};

static bool is_live(const char *section, const char *name)
{
	for (size_t i = 0; i < sizeof(live_keys) / sizeof(live_keys[0]); i++)
		if (!strcmp(live_keys[i].section, section) && !strcmp(live_keys[i].name, name))
			return true;
	return false;
}

static void on_changed(const char *section, const struct keel_opt *o, size_t off, size_t size,
		       void *ctx)
{
	struct diff *df = ctx;
	char key[128];

	snprintf(key, sizeof(key), "[%s] %s", section, o->name);
	if (is_live(section, o->name)) {
		memcpy((char *)df->next + off, (const char *)df->file + off, size);
		json_array_append_new(df->applied, json_string(key));
	} else {
		json_array_append_new(df->restart, json_string(key));
	}
}

static void refuse(struct keel_daemon *d, const char *path, const char *msg)
{
	pr_warn("reload refused, the running configuration stays: %s", msg);
	keel_emit(d, "keel", "keel.reload_refused",
		  json_pack("{s:s, s:s}", "file", path, "error", msg));
}

/* The file a reload reads: the one given at start, else the default one. */
static const char *config_path(const struct keel_daemon *d)
{
	if (d->config_path[0])
		return d->config_path;
	return access(KEEL_DEFAULT_CONFIG_PATH, F_OK) == 0 ? KEEL_DEFAULT_CONFIG_PATH : NULL;
}

void keel_reload(struct keel_daemon *d)
{
	/* 64 KiB each: not on the stack */
	struct keel_config *file = malloc(sizeof(*file)), *next = malloc(sizeof(*next));
	const char *path = config_path(d);
	struct keel_config_error err;
	char msg[PATH_MAX + 512];
	struct diff df = { next, file, json_array(), json_array() };

	sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
	if (!file || !next) {
		refuse(d, path ? path : "(defaults)", "out of memory");
		goto out;
	}
	keel_config_defaults(file);
	if (path &&
	    (keel_config_load_file(file, path, &err) < 0 || keel_config_validate(file, &err) < 0)) {
		keel_config_error_format(&err, msg, sizeof(msg));
		refuse(d, path, msg);
		goto out;
	}
	*next = d->cfg;
	keel_config_diff(&d->cfg, file, on_changed, &df);
	if (json_array_size(df.applied) && keel_sinks_reconfigure(d, next, msg, sizeof(msg)) < 0) {
		refuse(d, path ? path : "(defaults)", msg);
		goto out;
	}
	d->cfg = *next;
	pr_info("configuration reloaded from %s: %zu keys applied, %zu need a restart",
		path ? path : "the embedded defaults", json_array_size(df.applied),
		json_array_size(df.restart));
	for (size_t i = 0; i < json_array_size(df.restart); i++)
		pr_warn("reload: %s changed: it takes effect when keeld restarts",
			json_string_value(json_array_get(df.restart, i)));
	keel_emit(d, "keel", "keel.reload",
		  json_pack("{s:s, s:O, s:O}", "file", path ? path : "", "applied", df.applied,
			    "restart_needed", df.restart));
out:
	free(file);
	free(next);
	json_decref(df.applied);
	json_decref(df.restart);
	sd_notify(0, "READY=1\nSTATUS=running");
}
