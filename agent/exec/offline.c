// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec's requests while exec does not run (no BPF LSM, disabled, stopped):
 * exec.install_unverified, sent by keelctl install, records an installed
 * file in the trust store as unverified, with the SHA-256 of what keelctl
 * wrote; exec checks that digest against the file before trusting it when
 * it starts.  keeld writes the store so that it stays its one writer.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exec/exec_priv.h"

static bool is_sha256_hex(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static json_t *install_unverified(struct keel_subsys *s, json_t *req, bool privileged, char *why,
				  size_t len)
{
	const char *path = json_string_value(json_object_get(req, "path"));
	const char *sha = json_string_value(json_object_get(req, "sha256"));
	const char *db = json_string_value(json_object_get(req, "db"));
	const char *store_path = exec_cfg(s)->trust_db;
	struct keel_trust_rec rec = { 0 };
	struct keel_trust *t;
	char canon[PATH_MAX];
	struct stat st;
	int err;

	if (!privileged) {
		snprintf(why, len, "recording an install needs root or the [control] group");
		return NULL;
	}
	if (!path || path[0] != '/' || !is_sha256_hex(sha)) {
		snprintf(
			why, len,
			"exec.install_unverified needs an absolute \"path\" and a \"sha256\" of 64 lower-case hex digits");
		return NULL;
	}
	if (db && strcmp(db, store_path)) {
		snprintf(why, len, "keeld records installs in its [exec] trust_db %s, not %s",
			 store_path, db);
		return NULL;
	}
	if (!realpath(path, canon) || stat(canon, &st)) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return NULL;
	}
	err = keel_trust_open(store_path, &t, why, len);
	if (err)
		return NULL;
	snprintf(rec.path, sizeof(rec.path), "%s", canon);
	snprintf(rec.sha256, sizeof(rec.sha256), "%s", sha);
	rec.ino = st.st_ino;
	rec.state = KEEL_TRUST_UNVERIFIED;
	snprintf(rec.source, sizeof(rec.source), "install");
	snprintf(rec.note, sizeof(rec.note), "recorded without keeld's exec");
	err = keel_trust_put(t, &rec);
	keel_trust_close(t);
	if (err) {
		snprintf(why, len, "recording %s in %s: %s", canon, store_path, strerror(-err));
		return NULL;
	}
	return json_pack("{s:o, s:s}", "record", exec_rec_json(&rec), "db", store_path);
}

json_t *exec_offline_command(struct keel_subsys *s, const char *verb, json_t *req, bool privileged,
			     char *why, size_t len)
{
	if (!strcmp(verb, "install_unverified"))
		return install_unverified(s, req, privileged, why, len);
	return NULL; /* @why empty: the caller says exec is not running */
}
