// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VMDK descriptor: "key = value" lines (version, CID, parentCID,
 * createType, parentFileNameHint, ddb.*) and extent lines
 * (ACCESS SECTORS TYPE "FILE" [OFFSET]).  Parsing is strict: any line that is
 * neither, any number that does not parse whole, any control character is an
 * error naming the line and the field, because a disk whose descriptor keel
 * half-understood must never be written.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdk/vmdk_int.h"

static const char *const type_names[] = {
	[KEEL_VMDK_MONOLITHIC_SPARSE] = "monolithicSparse",
	[KEEL_VMDK_MONOLITHIC_FLAT] = "monolithicFlat",
	[KEEL_VMDK_TWOGB_SPARSE] = "twoGbMaxExtentSparse",
	[KEEL_VMDK_TWOGB_FLAT] = "twoGbMaxExtentFlat",
	[KEEL_VMDK_STREAM_OPTIMIZED] = "streamOptimized",
};

const char *keel_vmdk_type_name(enum keel_vmdk_type type)
{
	if ((unsigned int)type >= sizeof(type_names) / sizeof(type_names[0]))
		return "unknown";
	return type_names[type];
}

int vmdk_type_parse(const char *s, enum keel_vmdk_type *ret)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (!strcmp(s, type_names[i])) {
			*ret = (enum keel_vmdk_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_u64(const char *s, int base, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!*s || !(isxdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static bool key_ok(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && !strchr("._-", *k))
			return false;
	return true;
}

const char *vmdk_desc_get(const struct vmdk_desc *d, const char *key)
{
	for (size_t i = 0; i < d->nkv; i++)
		if (!strcmp(d->kv[i].key, key))
			return d->kv[i].value;
	return NULL;
}

int vmdk_desc_set(struct vmdk_desc *d, const char *key, const char *value, bool quoted)
{
	struct vmdk_desc_kv *kv;
	char *v;

	for (size_t i = 0; i < d->nkv; i++) {
		if (strcmp(d->kv[i].key, key))
			continue;
		v = strdup(value);
		if (!v)
			return -ENOMEM;
		free(d->kv[i].value);
		d->kv[i].value = v;
		d->kv[i].quoted = quoted;
		return 0;
	}
	if (d->nkv >= VMDK_MAX_KEYS)
		return -E2BIG;
	kv = realloc(d->kv, (d->nkv + 1) * sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	d->kv = kv;
	kv = &d->kv[d->nkv];
	memset(kv, 0, sizeof(*kv));
	kv->key = strdup(key);
	kv->value = strdup(value);
	if (!kv->key || !kv->value) {
		free(kv->key);
		free(kv->value);
		return -ENOMEM;
	}
	kv->quoted = quoted;
	kv->ddb = !strncmp(key, "ddb.", 4);
	d->nkv++;
	return 0;
}

int vmdk_desc_add_extent(struct vmdk_desc *d, enum vmdk_access access, uint64_t sectors,
			 enum vmdk_ext_kind kind, const char *file, uint64_t offset)
{
	struct vmdk_desc_extent *e;

	if (d->next >= KEEL_VMDK_MAX_EXTENTS)
		return -E2BIG;
	e = realloc(d->ext, (d->next + 1) * sizeof(*e));
	if (!e)
		return -ENOMEM;
	d->ext = e;
	e = &d->ext[d->next];
	memset(e, 0, sizeof(*e));
	e->access = access;
	e->sectors = sectors;
	e->kind = kind;
	e->offset = offset;
	if (file && !(e->file = strdup(file)))
		return -ENOMEM;
	d->next++;
	return 0;
}

void vmdk_desc_free(struct vmdk_desc *d)
{
	for (size_t i = 0; i < d->nkv; i++) {
		free(d->kv[i].key);
		free(d->kv[i].value);
	}
	for (size_t i = 0; i < d->next; i++)
		free(d->ext[i].file);
	free(d->kv);
	free(d->ext);
	memset(d, 0, sizeof(*d));
}

#define LINE_ERR(field, fmt, ...)                                                               \
	vmdk_err(err, errlen, -EINVAL, "%s: descriptor line %u: %s: " fmt, name, lineno, field, \
		 ##__VA_ARGS__)

static int parse_extent(struct vmdk_desc *d, char *line, const char *name, unsigned int lineno,
			char *err, size_t errlen)
{
	char *save = NULL, *tok, *file = NULL, *rest;
	enum vmdk_access access;
	enum vmdk_ext_kind kind;
	uint64_t sectors, offset = 0;
	int r;

	tok = strtok_r(line, " \t", &save);
	access = !strcmp(tok, "RW")	? VMDK_RW :
		 !strcmp(tok, "RDONLY") ? VMDK_RDONLY :
					  VMDK_NOACCESS;
	tok = strtok_r(NULL, " \t", &save);
	if (!tok || parse_u64(tok, 10, &sectors) || !sectors)
		return LINE_ERR("extent size", "'%s' is not a positive number of sectors",
				tok ? tok : "");
	if (sectors > KEEL_VMDK_MAX_SIZE / VMDK_SECTOR)
		return LINE_ERR("extent size",
				"%" PRIu64 " sectors is more than keel's limit of %llu bytes",
				sectors, KEEL_VMDK_MAX_SIZE);
	tok = strtok_r(NULL, " \t", &save);
	if (!tok)
		return LINE_ERR("extent type", "missing");
	if (!strcmp(tok, "FLAT"))
		kind = VMDK_EXT_FLAT;
	else if (!strcmp(tok, "SPARSE"))
		kind = VMDK_EXT_SPARSE;
	else if (!strcmp(tok, "ZERO"))
		kind = VMDK_EXT_ZERO;
	else if (!strcmp(tok, "VMFS"))
		kind = VMDK_EXT_VMFS;
	else
		return LINE_ERR("extent type", "'%s' is not supported (FLAT, SPARSE, ZERO, VMFS)",
				tok);
	rest = trim(save ? save : (char *)"");
	if (kind != VMDK_EXT_ZERO) {
		char *q;

		if (rest[0] != '"' || !(q = strchr(rest + 1, '"')) || q == rest + 1)
			return LINE_ERR("extent file", "expected a quoted file name");
		*q = '\0';
		file = rest + 1;
		rest = trim(q + 1);
	}
	if (*rest) {
		if (kind != VMDK_EXT_FLAT && kind != VMDK_EXT_VMFS)
			return LINE_ERR("extent offset", "unexpected '%s' after the file name",
					rest);
		if (parse_u64(rest, 10, &offset) || offset > KEEL_VMDK_MAX_SIZE / VMDK_SECTOR)
			return LINE_ERR("extent offset", "'%s' is not a number of sectors", rest);
	}
	r = vmdk_desc_add_extent(d, access, sectors, kind, file, offset);
	if (r == -E2BIG)
		return LINE_ERR("extent", "more than %d extents", KEEL_VMDK_MAX_EXTENTS);
	if (r)
		return vmdk_err(err, errlen, r, "%s: out of memory", name);
	d->ext[d->next - 1].line = lineno;
	return 0;
}

static int parse_kv(struct vmdk_desc *d, char *line, char *eq, const char *name,
		    unsigned int lineno, char *err, size_t errlen)
{
	char *key, *value;
	bool quoted = false;
	size_t n;
	int r;

	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (!key_ok(key))
		return LINE_ERR("key", "'%s' is not a descriptor key", key);
	n = strlen(value);
	if (n && value[0] == '"') {
		if (n < 2 || value[n - 1] != '"')
			return LINE_ERR(key, "unterminated quoted value");
		value[n - 1] = '\0';
		value++;
		quoted = true;
	}
	if (vmdk_desc_get(d, key))
		return LINE_ERR(key, "given twice");
	r = vmdk_desc_set(d, key, value, quoted);
	if (r == -E2BIG)
		return LINE_ERR(key, "more than %d keys", VMDK_MAX_KEYS);
	if (r)
		return vmdk_err(err, errlen, r, "%s: out of memory", name);
	d->kv[d->nkv - 1].line = lineno;
	return 0;
}

static unsigned int key_line(const struct vmdk_desc *d, const char *key)
{
	for (size_t i = 0; i < d->nkv; i++)
		if (!strcmp(d->kv[i].key, key))
			return d->kv[i].line;
	return 0;
}

static int parse_cid(const struct vmdk_desc *d, const char *key, uint32_t *ret, const char *name,
		     char *err, size_t errlen)
{
	const char *v = vmdk_desc_get(d, key);
	unsigned int lineno = key_line(d, key);
	uint64_t x;

	*ret = VMDK_CID_NONE;
	if (!v)
		return 0;
	if (strlen(v) > 8 || parse_u64(v, 16, &x))
		return LINE_ERR(key, "'%s' is not a 32-bit hexadecimal content ID", v);
	*ret = (uint32_t)x;
	return 0;
}

/* The header keys: what they mean for the disk, checked once all lines are in. */
static int check_keys(struct vmdk_desc *d, const char *name, char *err, size_t errlen)
{
	const char *v;
	unsigned int lineno;
	int r;

	v = vmdk_desc_get(d, "version");
	lineno = key_line(d, "version");
	if (v && strcmp(v, "1") && strcmp(v, "2") && strcmp(v, "3"))
		return LINE_ERR("version", "descriptor version '%s' is not 1, 2 or 3", v);
	v = vmdk_desc_get(d, "createType");
	lineno = key_line(d, "createType");
	if (!v)
		return vmdk_err(err, errlen, -EINVAL, "%s: descriptor: createType: missing", name);
	if (!strcmp(v, "vmfs")) {
		d->vmfs = true;
		d->type = KEEL_VMDK_MONOLITHIC_FLAT;
	} else if (vmdk_type_parse(v, &d->type)) {
		return LINE_ERR("createType",
				"'%s' is not supported (monolithicSparse, "
				"monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat, "
				"streamOptimized, vmfs)",
				v);
	}
	r = parse_cid(d, "CID", &d->cid, name, err, errlen);
	if (!r)
		r = parse_cid(d, "parentCID", &d->parent_cid, name, err, errlen);
	if (r)
		return r;
	d->parent_hint = vmdk_desc_get(d, "parentFileNameHint");
	if (d->parent_hint && !d->parent_hint[0])
		d->parent_hint = NULL;
	if (d->parent_cid != VMDK_CID_NONE && !d->parent_hint)
		return vmdk_err(err, errlen, -EINVAL,
				"%s: descriptor: parentFileNameHint: missing, though parentCID "
				"%08x says this is a delta disk",
				name, d->parent_cid);
	if (!d->next)
		return vmdk_err(err, errlen, -EINVAL, "%s: descriptor: no extent lines", name);
	return 0;
}

int vmdk_desc_parse(const char *text, size_t len, const char *name, struct vmdk_desc *d, char *err,
		    size_t errlen)
{
	char line[VMDK_MAX_LINE + 1];
	unsigned int lineno = 0;
	uint64_t total = 0;
	size_t pos = 0;
	int r = 0;

	memset(d, 0, sizeof(*d));
	if (len > KEEL_VMDK_MAX_DESCRIPTOR)
		return vmdk_err(err, errlen, -EFBIG,
				"%s: descriptor: %zu bytes, more than the limit of %u", name, len,
				KEEL_VMDK_MAX_DESCRIPTOR);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *s, *eq;

		lineno++;
		if (n > VMDK_MAX_LINE) {
			r = LINE_ERR("line", "longer than %d bytes", VMDK_MAX_LINE);
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)line[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				r = LINE_ERR("text", "control character 0x%02x at column %zu", c,
					     i + 1);
				goto fail;
			}
		}
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		if (!strncmp(s, "RW ", 3) || !strncmp(s, "RDONLY ", 7) ||
		    !strncmp(s, "NOACCESS ", 9) || !strncmp(s, "RW\t", 3) ||
		    !strncmp(s, "RDONLY\t", 7) || !strncmp(s, "NOACCESS\t", 9)) {
			r = parse_extent(d, s, name, lineno, err, errlen);
			if (r)
				goto fail;
			total += d->ext[d->next - 1].sectors;
			if (total > KEEL_VMDK_MAX_SIZE / VMDK_SECTOR) {
				r = LINE_ERR("extent size",
					     "the extents add up to more than keel's "
					     "limit of %llu bytes",
					     KEEL_VMDK_MAX_SIZE);
				goto fail;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			r = LINE_ERR("line", "'%.40s' is neither 'key = value' nor an extent", s);
			goto fail;
		}
		r = parse_kv(d, s, eq, name, lineno, err, errlen);
		if (r)
			goto fail;
	}
	r = check_keys(d, name, err, errlen);
	if (r)
		goto fail;
	return 0;
fail:
	vmdk_desc_free(d);
	return r;
}

static const char *access_name(enum vmdk_access a)
{
	return a == VMDK_RW ? "RW" : a == VMDK_RDONLY ? "RDONLY" : "NOACCESS";
}

static const char *kind_name(enum vmdk_ext_kind k)
{
	return k == VMDK_EXT_FLAT   ? "FLAT" :
	       k == VMDK_EXT_SPARSE ? "SPARSE" :
	       k == VMDK_EXT_ZERO   ? "ZERO" :
				      "VMFS";
}

static void put_kv(FILE *f, const struct vmdk_desc_kv *kv)
{
	const char *sep = kv->ddb ? " = " : "=";

	if (kv->quoted)
		fprintf(f, "%s%s\"%s\"\n", kv->key, sep, kv->value);
	else
		fprintf(f, "%s%s%s\n", kv->key, sep, kv->value);
}

char *vmdk_desc_format(const struct vmdk_desc *d)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fputs("# Disk DescriptorFile\n", f);
	for (size_t i = 0; i < d->nkv; i++)
		if (!d->kv[i].ddb)
			put_kv(f, &d->kv[i]);
	fputs("\n# Extent description\n", f);
	for (size_t i = 0; i < d->next; i++) {
		const struct vmdk_desc_extent *e = &d->ext[i];

		fprintf(f, "%s %" PRIu64 " %s", access_name(e->access), e->sectors,
			kind_name(e->kind));
		if (e->file)
			fprintf(f, " \"%s\"", e->file);
		if (e->kind == VMDK_EXT_FLAT || e->kind == VMDK_EXT_VMFS)
			fprintf(f, " %" PRIu64, e->offset);
		fputc('\n', f);
	}
	fputs("\n# The Disk Data Base\n#DDB\n\n", f);
	for (size_t i = 0; i < d->nkv; i++)
		if (d->kv[i].ddb)
			put_kv(f, &d->kv[i]);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
