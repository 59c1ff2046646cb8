// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl requests for exec: exec.mode, exec.trust_add, exec.trust_remove,
 * exec.trust_list, exec.trust_verify, exec.installer_mark and
 * exec.installer_sync (installer.c).  Lists come in pages so that a
 * store of any size never makes one reply larger than a client's queue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_priv.h"

#define PAGE_MAX	500
#define VERIFY_PAGE_MAX 100 /* each one is hashed: keep a request short */

static json_t *cmd_mode(struct keel_subsys *s, json_t *req, bool privileged, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	const char *mode = json_string_value(json_object_get(req, "mode"));
	__u32 m;
	int err;

	if (mode) {
		if (!privileged) {
			snprintf(why, len,
				 "changing the exec mode needs root or the [control] group");
			return NULL;
		}
		if (!strcmp(mode, "audit")) {
			m = KEEL_EXEC_MODE_AUDIT;
		} else if (!strcmp(mode, "enforce")) {
			m = KEEL_EXEC_MODE_ENFORCE;
			if (exec_fs_enforce_check(s, why, len))
				return NULL;
		} else {
			snprintf(why, len, "unknown mode '%s': use audit or enforce", mode);
			return NULL;
		}
		err = exec_set_mode(s, m);
		if (err) {
			snprintf(why, len, "setting mode %s: %s", mode, strerror(-err));
			return NULL;
		}
		keel_emit(s->d, "exec", "exec.mode", json_pack("{s:s}", "mode", mode));
	}
	return json_pack("{s:s, s:s}", "mode", exec_mode_name(p->mode), "trust_db",
			 exec_cfg(s)->trust_db);
}

static json_t *cmd_add(struct keel_subsys *s, json_t *req, bool privileged, char *why, size_t len)
{
	const char *path = json_string_value(json_object_get(req, "path"));
	const char *sha = json_string_value(json_object_get(req, "sha256"));
	const char *source = json_string_value(json_object_get(req, "source"));
	struct keel_trust_rec *rec;
	json_t *out = NULL;

	if (!privileged) {
		snprintf(why, len, "trusting a file needs root or the [control] group");
		return NULL;
	}
	if (!path || !*path) {
		snprintf(why, len, "exec.trust_add needs \"path\"");
		return NULL;
	}
	if (!source || (strcmp(source, "install") && strcmp(source, "add") &&
			strcmp(source, "dpkg") && strcmp(source, "installer")))
		source = "add";
	rec = malloc(sizeof(*rec));
	if (!rec)
		return NULL;
	if (!exec_trust_file(s, path, sha, NULL, source, rec, why, len)) {
		exec_emit_trust(s, "exec.trust", rec, source);
		out = json_pack("{s:o}", "record", exec_rec_json(rec));
	}
	free(rec);
	return out;
}

static json_t *cmd_remove(struct keel_subsys *s, json_t *req, bool privileged, char *why,
			  size_t len)
{
	const char *path = json_string_value(json_object_get(req, "path"));

	if (!privileged) {
		snprintf(why, len, "removing trust needs root or the [control] group");
		return NULL;
	}
	if (!path || !*path) {
		snprintf(why, len, "exec.trust_remove needs \"path\"");
		return NULL;
	}
	if (exec_trust_forget(s, path, why, len))
		return NULL;
	keel_emit(s->d, "exec", "exec.untrust", json_pack("{s:s}", "path", path));
	return json_pack("{s:s}", "removed", path);
}

struct page {
	struct keel_subsys *s;
	json_t *items;
	long skip, limit, seen;
	bool verify, rehash;
	const char *only;
};

static int page_one(const struct keel_trust_rec *rec, void *data)
{
	struct page *pg = data;
	json_t *o;
	char why[512];
	int err;

	if (pg->only && strcmp(pg->only, rec->path))
		return 0;
	if (pg->seen++ < pg->skip)
		return 0;
	if ((long)json_array_size(pg->items) >= pg->limit)
		return 1; /* more to come: the caller asks for the next page */
	o = exec_rec_json(rec);
	if (pg->verify) {
		err = exec_trust_check(pg->s, rec, pg->rehash, why, sizeof(why));
		json_object_set_new(o, "ok", json_boolean(!err));
		json_object_set_new(o, "detail", json_string(why));
	}
	json_array_append_new(pg->items, o);
	return 0;
}

static json_t *cmd_page(struct keel_subsys *s, json_t *req, bool verify, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	json_t *jrehash = json_object_get(req, "rehash");
	struct page pg = {
		.s = s,
		.skip = json_integer_value(json_object_get(req, "offset")),
		.limit = json_integer_value(json_object_get(req, "limit")),
		.verify = verify,
		.rehash = jrehash ? json_is_true(jrehash) : true,
		.only = json_string_value(json_object_get(req, "path")),
	};
	char canon[PATH_MAX];
	long max = verify ? VERIFY_PAGE_MAX : PAGE_MAX;
	int err;

	if (pg.only && realpath(pg.only, canon))
		pg.only = canon;
	if (pg.skip < 0)
		pg.skip = 0;
	if (pg.limit <= 0 || pg.limit > max)
		pg.limit = max;
	pg.items = json_array();
	err = keel_trust_foreach(p->store, page_one, &pg);
	if (err < 0) {
		json_decref(pg.items);
		snprintf(why, len, "reading the trust store: %s", strerror(-err));
		return NULL;
	}
	if (pg.only && !json_array_size(pg.items)) {
		json_decref(pg.items);
		snprintf(why, len, "%s is not in the trust store", pg.only);
		return NULL;
	}
	return json_pack("{s:o, s:b, s:I}", "records", pg.items, "more", err > 0, "next",
			 (json_int_t)(pg.skip + (long)json_array_size(pg.items)));
}

json_t *exec_command(struct keel_subsys *s, const char *verb, json_t *req, bool privileged,
		     char *why, size_t len)
{
	if (!strcmp(verb, "mode"))
		return cmd_mode(s, req, privileged, why, len);
	if (!strcmp(verb, "trust_add"))
		return cmd_add(s, req, privileged, why, len);
	if (!strcmp(verb, "trust_remove"))
		return cmd_remove(s, req, privileged, why, len);
	if (!strcmp(verb, "trust_list"))
		return cmd_page(s, req, false, why, len);
	if (!strcmp(verb, "trust_verify"))
		return cmd_page(s, req, true, why, len);
	if (!strcmp(verb, "installer_mark"))
		return exec_cmd_installer_mark(s, req, privileged, why, len);
	if (!strcmp(verb, "installer_sync"))
		return exec_cmd_installer_sync(s, req, why, len);
	snprintf(
		why, len,
		"unknown command 'exec.%s': use mode, trust_add, trust_remove, trust_list, trust_verify, installer_mark or installer_sync",
		verb);
	return NULL;
}
