// SPDX-License-Identifier: GPL-2.0-only
/*
 * The chain's half of IMAGE.keel: [vdisk] filters (top to bottom) and one
 * [filter.NAME] section of parameters per filter.  The top-level disk_id
 * is blk's; other sections belong to other parts of keel and are left alone.
 */
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vdisk/vdisk_priv.h"

struct parse {
	const char *file;
	struct vdisk_metadata *m;
	bool have_filters;
	/* sections seen before [vdisk] filters named their filter */
	unsigned int npending;
	struct {
		char *section, *key, *value;
	} pending[KEEL_VDISK_MAX_FILTERS * VDISK_MAX_KEYS];
	char *err;
	size_t errlen;
	int r;
};

static int fail(struct parse *p, int r, const char *fmt, const char *a, const char *b)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, a, b);
	snprintf(p->err, p->errlen, "%s: %s", p->file, msg);
	p->r = r;
	return 0; /* stops ini_parse */
}

static int set_filters(struct parse *p, const char *value)
{
	char *copy = strdup(value), *save, *tok;

	if (!copy)
		return fail(p, -ENOMEM, "%s%s", "out of memory", "");
	for (tok = strtok_r(copy, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		struct vdisk_metadata *m = p->m;

		if (!vdisk_registry_find(tok)) {
			fail(p, -EINVAL,
			     "[vdisk] filters: unknown filter \"%s\"%s (built in: stats, throttle, integrity, crypt, cache)",
			     tok, "");
			break;
		}
		for (unsigned int i = 0; i < m->n; i++)
			if (!strcmp(m->names[i], tok)) {
				fail(p, -EINVAL, "[vdisk] filters: \"%s\" is named twice%s", tok,
				     "");
				goto out;
			}
		if (m->n == KEEL_VDISK_MAX_FILTERS) {
			fail(p, -E2BIG, "[vdisk] filters: more than %s filters%s", "16", "");
			break;
		}
		m->names[m->n] = strdup(tok);
		if (!m->names[m->n]) {
			fail(p, -ENOMEM, "%s%s", "out of memory", "");
			break;
		}
		m->n++;
	}
out:
	free(copy);
	p->have_filters = true;
	return p->r ? 0 : 1;
}

static int add_param(struct parse *p, const char *fname, const char *key, const char *value)
{
	struct vdisk_metadata *m = p->m;
	struct keel_vfilter_conf *c;
	unsigned int i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->names[i], fname))
			break;
	if (i == m->n) {
		if (!vdisk_registry_find(fname))
			return fail(p, -EINVAL, "[filter.%s]: no filter is called \"%s\"", fname,
				    fname);
		return 1; /* configured but not in the chain: kept for later */
	}
	c = &m->conf[i];
	if (strlen(value) >= VDISK_MAX_VALUE)
		return fail(p, -EINVAL, "[filter.%s] %s: value longer than 4095 bytes", fname, key);
	for (unsigned int k = 0; k < c->n; k++)
		if (!strcmp(c->kv[k].key, key))
			return fail(p, -EINVAL, "[filter.%s] %s: set twice", fname, key);
	if (c->n == VDISK_MAX_KEYS)
		return fail(p, -E2BIG, "[filter.%s]: more than 32 parameters%s", fname, "");
	c->kv[c->n].key = strdup(key);
	c->kv[c->n].value = strdup(value);
	if (!c->kv[c->n].key || !c->kv[c->n].value)
		return fail(p, -ENOMEM, "%s%s", "out of memory", "");
	c->n++;
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;

	if (!strcmp(section, "vdisk")) {
		if (strcmp(name, "filters"))
			return fail(p, -EINVAL, "[vdisk] %s: unknown key (known: filters)%s", name,
				    "");
		if (p->have_filters)
			return fail(p, -EINVAL, "[vdisk] filters: set twice%s%s", "", "");
		return set_filters(p, value);
	}
	if (strncmp(section, "filter.", 7))
		return 1;
	if (!p->have_filters) {
		/* a section before [vdisk]: remember it until the list is known */
		if (p->npending == sizeof(p->pending) / sizeof(p->pending[0]))
			return fail(p, -E2BIG, "too many [filter.*] parameters%s%s", "", "");
		p->pending[p->npending].section = strdup(section + 7);
		p->pending[p->npending].key = strdup(name);
		p->pending[p->npending].value = strdup(value);
		p->npending++;
		return 1;
	}
	return add_param(p, section + 7, name, value);
}

int vdisk_metadata_read(const char *file, struct vdisk_metadata *m, char *err, size_t errlen)
{
	struct parse *p = calloc(1, sizeof(*p));
	char dir[PATH_MAX];
	int r;

	memset(m, 0, sizeof(*m));
	if (!p)
		return -ENOMEM;
	p->file = file;
	p->m = m;
	p->err = err;
	p->errlen = errlen;
	r = ini_parse(file, handler, p);
	for (unsigned int i = 0; i < p->npending; i++) {
		if (!p->r && p->pending[i].section && p->pending[i].key && p->pending[i].value)
			add_param(p, p->pending[i].section, p->pending[i].key, p->pending[i].value);
		free(p->pending[i].section);
		free(p->pending[i].key);
		free(p->pending[i].value);
	}
	if (p->r) {
		r = p->r;
	} else if (r == -1) {
		r = 0; /* no file: the VMDK alone */
	} else if (r > 0) {
		snprintf(err, errlen, "%s:%d: not an INI line", file, r);
		r = -EINVAL;
	} else if (r < 0) {
		snprintf(err, errlen, "%s: out of memory", file);
		r = -ENOMEM;
	}
	free(p);
	if (r) {
		vdisk_metadata_free(m);
		return r;
	}
	snprintf(dir, sizeof(dir), "%s", file);
	for (unsigned int i = 0; i < m->n; i++) {
		snprintf(m->conf[i].where, sizeof(m->conf[i].where), "%s [filter.%s]", file,
			 m->names[i]);
		snprintf(m->conf[i].dir, sizeof(m->conf[i].dir), "%s", dirname(dir));
		snprintf(dir, sizeof(dir), "%s", file);
	}
	return 0;
}

void vdisk_metadata_free(struct vdisk_metadata *m)
{
	for (unsigned int i = 0; i < m->n; i++) {
		free(m->names[i]);
		for (unsigned int k = 0; k < m->conf[i].n; k++) {
			free(m->conf[i].kv[k].key);
			free(m->conf[i].kv[k].value);
		}
	}
	memset(m, 0, sizeof(*m));
}
