// SPDX-License-Identifier: GPL-2.0-only
/* A filter's parameters ([filter.NAME] of IMAGE.keel), read by its open(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vdisk/vdisk_priv.h"

static const char *lookup(struct keel_vfilter_conf *c, const char *key)
{
	for (unsigned int i = 0; i < c->n; i++)
		if (!strcmp(c->kv[i].key, key)) {
			c->kv[i].used = true;
			return c->kv[i].value;
		}
	return NULL;
}

const char *keel_vfilter_conf_where(const struct keel_vfilter_conf *c)
{
	return c->where;
}

int keel_vfilter_conf_str(struct keel_vfilter_conf *c, const char *key, const char *def,
			  const char **ret)
{
	const char *v = lookup(c, key);

	*ret = v ? v : def;
	return 0;
}

int keel_vfilter_conf_path(struct keel_vfilter_conf *c, const char *key, const char *def, char *ret,
			   size_t retlen, char *err, size_t errlen)
{
	const char *v = lookup(c, key);
	int n;

	if (!v)
		v = def;
	if (!v) {
		ret[0] = '\0';
		return 0;
	}
	if (!*v) {
		snprintf(err, errlen, "%s %s: empty path", c->where, key);
		return -EINVAL;
	}
	n = v[0] == '/' ? snprintf(ret, retlen, "%s", v) :
			  snprintf(ret, retlen, "%s/%s", c->dir, v);
	if (n < 0 || (size_t)n >= retlen) {
		snprintf(err, errlen, "%s %s: path too long", c->where, key);
		return -ENAMETOOLONG;
	}
	return 0;
}

int keel_vfilter_conf_u64(struct keel_vfilter_conf *c, const char *key, uint64_t def, uint64_t min,
			  uint64_t max, uint64_t *ret, char *err, size_t errlen)
{
	const char *v = lookup(c, key);
	uint64_t n;

	if (!v) {
		*ret = def;
		return 0;
	}
	if (keel_vdisk_parse_size(v, &n)) {
		snprintf(err, errlen, "%s %s: \"%s\" is not a number (digits, optional K/M/G/T)",
			 c->where, key, v);
		return -EINVAL;
	}
	if (n < min || n > max) {
		snprintf(err, errlen, "%s %s: %llu is out of range %llu..%llu", c->where, key,
			 (unsigned long long)n, (unsigned long long)min, (unsigned long long)max);
		return -ERANGE;
	}
	*ret = n;
	return 0;
}

int keel_vfilter_conf_bool(struct keel_vfilter_conf *c, const char *key, int def, int *ret,
			   char *err, size_t errlen)
{
	const char *v = lookup(c, key);

	if (!v)
		*ret = def;
	else if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1"))
		*ret = 1;
	else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0"))
		*ret = 0;
	else {
		snprintf(err, errlen, "%s %s: \"%s\" is not true or false", c->where, key, v);
		return -EINVAL;
	}
	return 0;
}

int vdisk_conf_check_used(const struct keel_vfilter_conf *c, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < c->n; i++)
		if (!c->kv[i].used) {
			snprintf(err, errlen, "%s %s: unknown parameter", c->where, c->kv[i].key);
			return -EINVAL;
		}
	return 0;
}
