// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl vdisk create --filter NAME:KEY=VALUE,...: the request's "params"
 * ({"throttle": {"iops": "500"}, ...}) checked before anything is written,
 * against the parameter table each filter declares (keel/vfilter.h), then
 * rendered as the [filter.NAME] sections of IMAGE.keel.  A path parameter
 * must lie under [vdisk] dirs like the disk itself: keeld's disk servers
 * run as root, and a [control] group member must not make one read a key
 * or write a trace anywhere.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "keel/vdisk.h"
#include "keel/vfilter.h"
#include "vdisk/subsys.h"
#include "vdisk/vdisk_priv.h"

static const struct keel_vfilter_param handles_param = { "handles", KEEL_VF_PARAM_BOOL, 0, 0 };

static const struct keel_vfilter_param *find_param(const struct keel_vfilter_ops *ops,
						   const char *key)
{
	if (!strcmp(key, "handles"))
		return &handles_param;
	for (const struct keel_vfilter_param *q = ops->params; q && q->key; q++)
		if (!strcmp(q->key, key))
			return q;
	return NULL;
}

static void known_keys(const struct keel_vfilter_ops *ops, char *buf, size_t len)
{
	int off = 0;

	buf[0] = '\0';
	for (const struct keel_vfilter_param *q = ops->params; q && q->key; q++)
		off += snprintf(buf + off, len - (size_t)off, "%s, ", q->key);
	snprintf(buf + off, len - (size_t)off, "handles");
}

/*
 * INI text cannot carry every byte: a line break would start a new key, a
 * ';' a comment, and inih trims spaces at both ends.  Refuse those rather
 * than write a sidecar that reads back as something else.
 */
static const char *value_problem(const char *v)
{
	size_t n = strlen(v);

	if (!n)
		return "empty";
	if (n >= VDISK_MAX_VALUE)
		return "longer than 4095 bytes";
	if (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t')
		return "starts or ends with a space";
	for (const char *c = v; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "has a control character";
		if (*c == ';' || *c == '#')
			return "has ';' or '#' (comments in IMAGE.keel)";
	}
	return NULL;
}

/* @v (relative to the disk's directory) resolved: its directory must exist
 * and lie under [vdisk] dirs; the file itself must exist if @must_exist. */
static int check_path(struct vd_priv *p, const char *disk, const char *where, const char *v,
		      bool must_exist, char *why, size_t len)
{
	char full[PATH_MAX], dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX], path[PATH_MAX];

	if (v[0] == '/') {
		snprintf(full, sizeof(full), "%s", v);
	} else {
		snprintf(dir, sizeof(dir), "%s", disk);
		if (snprintf(full, sizeof(full), "%s/%s", dirname(dir), v) >= (int)sizeof(full)) {
			snprintf(why, len, "%s: path too long", where);
			return -ENAMETOOLONG;
		}
	}
	snprintf(dir, sizeof(dir), "%s", full);
	snprintf(base, sizeof(base), "%s", full);
	if (!realpath(dirname(dir), real)) {
		int r = -errno;

		snprintf(why, len, "%s: %.300s: its directory: %s", where, full, strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "%.2048s/%.1024s", strcmp(real, "/") ? real : "",
		 basename(base));
	if (!vd_path_allowed(p, path)) {
		p->refused++;
		snprintf(why, len, "%s: %.300s is not under [vdisk] dirs (%.150s)", where, path,
			 vd_cfg(p)->dirs);
		return -EACCES;
	}
	if (must_exist && access(path, F_OK)) {
		int r = -errno;

		snprintf(why, len, "%s: %.300s: %s", where, path, strerror(-r));
		return r;
	}
	return 0;
}

static int check_value(struct vd_priv *p, const char *disk, const char *fname,
		       const struct keel_vfilter_param *q, const char *v, char *why, size_t len)
{
	char where[128];
	const char *bad = value_problem(v);
	uint64_t n;

	snprintf(where, sizeof(where), "[filter.%s] %s", fname, q->key);
	if (bad) {
		snprintf(why, len, "%s: the value %s", where, bad);
		return -EINVAL;
	}
	switch (q->kind) {
	case KEEL_VF_PARAM_U64:
		if (keel_vdisk_parse_size(v, &n)) {
			snprintf(why, len,
				 "%s: \"%.64s\" is not a number (digits, optional K/M/G/T)", where,
				 v);
			return -EINVAL;
		}
		if (n < q->min || n > q->max) {
			snprintf(why, len, "%s: %llu is out of range %llu..%llu", where,
				 (unsigned long long)n, (unsigned long long)q->min,
				 (unsigned long long)q->max);
			return -ERANGE;
		}
		return 0;
	case KEEL_VF_PARAM_BOOL:
		if (strcasecmp(v, "true") && strcasecmp(v, "false") && strcasecmp(v, "yes") &&
		    strcasecmp(v, "no") && strcmp(v, "1") && strcmp(v, "0")) {
			snprintf(why, len, "%s: \"%.64s\" is not true or false", where, v);
			return -EINVAL;
		}
		return 0;
	case KEEL_VF_PARAM_PATH:
		/* a key is read, so it must be there; other files are made */
		return check_path(p, disk, where, v, !strcmp(fname, "crypt"), why, len);
	case KEEL_VF_PARAM_STR:
		return 0;
	}
	return 0;
}

int vd_params_check(struct vd_priv *p, const char *disk, json_t *params, const char *const *names,
		    unsigned int n, bool *ret_key_given, char *why, size_t len)
{
	const char *fname, *key;
	json_t *kv, *v;

	*ret_key_given = false;
	if (!params)
		return 0;
	if (!json_is_object(params)) {
		snprintf(why, len, "\"params\" must be an object {filter: {key: value}}");
		return -EINVAL;
	}
	json_object_foreach(params, fname, kv) {
		const struct keel_vfilter_ops *ops = NULL;
		char keys[256];

		for (unsigned int i = 0; i < n; i++)
			if (!strcmp(names[i], fname))
				ops = vdisk_registry_find(fname);
		if (!ops) {
			snprintf(why, len,
				 "[filter.%.64s]: parameters for a filter that is not in the chain",
				 fname);
			return -EINVAL;
		}
		if (!json_is_object(kv) || json_object_size(kv) > VDISK_MAX_KEYS) {
			snprintf(why, len,
				 "[filter.%s]: parameters must be an object of at most %d keys",
				 fname, VDISK_MAX_KEYS);
			return -EINVAL;
		}
		json_object_foreach(kv, key, v) {
			const struct keel_vfilter_param *q = find_param(ops, key);
			int r;

			if (!json_is_string(v)) {
				snprintf(why, len, "[filter.%s] %.64s: the value must be a string",
					 fname, key);
				return -EINVAL;
			}
			/* no table: no key passes (a path key unchecked would let a
			 * [control] member aim the root disk server anywhere) */
			if (!q) {
				known_keys(ops, keys, sizeof(keys));
				snprintf(why, len,
					 "[filter.%s] %.64s: unknown parameter (known: %s)", fname,
					 key, keys);
				return -EINVAL;
			}
			r = check_value(p, disk, fname, q, json_string_value(v), why, len);
			if (r)
				return r;
			if (!strcmp(fname, "crypt") && !strcmp(key, "key_file"))
				*ret_key_given = true;
		}
	}
	return 0;
}

void vd_params_write(FILE *f, json_t *params, const char *fname, const char *key_file)
{
	json_t *kv = json_object_get(params, fname), *v;
	const char *key;

	if (!json_object_size(kv) && !key_file)
		return;
	fprintf(f, "\n[filter.%s]\n", fname);
	if (key_file)
		fprintf(f, "key_file = %s\n", key_file);
	json_object_foreach(kv, key, v)
		fprintf(f, "%s = %s\n", key, json_string_value(v));
}
