// SPDX-License-Identifier: GPL-2.0-only
/*
 * keel_vmdk_check: open a disk read only (which checks the descriptor, the
 * headers, the directories and the chain) and then walk every grain table of
 * every layer: each entry must point inside the file, past the metadata, at
 * a grain no other entry uses; the redundant tables must agree with the
 * primary ones, except where one copy maps something the other does not
 * yet: an allocation cut short, which is a warning (the redundant copy is
 * written first, but a power loss may keep either of the two writes that
 * follow one fdatasync).  Nothing is written.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdk/vmdk_int.h"

#define MAX_REPORTED 100 /* errors listed in a report; the count goes on */

struct check {
	json_t *errors, *warnings;
	unsigned long count;
	char first[512];
};

static void problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct check *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c->count)
		snprintf(c->first, sizeof(c->first), "%s", msg);
	if (c->count < MAX_REPORTED)
		json_array_append_new(c->errors, json_string(msg));
	c->count++;
}

/* what an allocation cut short leaves: the redundant copy one step ahead */
static void warning(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warning(struct check *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_array_size(c->warnings) < MAX_REPORTED)
		json_array_append_new(c->warnings, json_string(msg));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* read one table straight from the file (not the cache), raw entries */
static int read_table(struct vmdk_sparse *s, uint32_t sector, uint32_t *gt)
{
	size_t bytes = (size_t)s->h.gtes_per_gt * 4;
	ssize_t n = vmdk_pread_full(s->fd, gt, bytes, (uint64_t)sector * VMDK_SECTOR);

	if (n != (ssize_t)bytes)
		return -EIO;
	for (uint32_t i = 0; i < s->h.gtes_per_gt; i++) {
		const uint8_t *p = (const uint8_t *)&gt[i];

		gt[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			(uint32_t)p[3] << 24;
	}
	return 0;
}

static void check_sparse(struct vmdk_sparse *s, json_t *ext, struct check *c)
{
	uint64_t gb = vmdk_sparse_grain_bytes(s),
		 ngrains = (s->h.capacity + s->h.grain - 1) / s->h.grain;
	uint32_t *gt = malloc((size_t)s->h.gtes_per_gt * 4),
		 *rgt = malloc((size_t)s->h.gtes_per_gt * 4);
	uint32_t *used = NULL;
	size_t nused = 0, cap = 0;
	uint64_t allocated = 0;

	if (!gt || !rgt) {
		problem(c, "%s: out of memory", s->path);
		goto out;
	}
	for (uint32_t t = 0; t < s->ngts; t++) {
		if (s->rgd && !s->rgd[t] != !s->gd[t])
			warning(c,
				"%s: grain directory entry %u: %u, the redundant copy %u (an "
				"allocation was cut short)",
				s->path, t, s->gd[t], s->rgd[t]);
		if (!s->gd[t])
			continue;
		if (read_table(s, s->gd[t], gt)) {
			problem(c, "%s: grain table %u at sector %u: cannot be read", s->path, t,
				s->gd[t]);
			continue;
		}
		if (s->rgd && s->rgd[t] && !read_table(s, s->rgd[t], rgt)) {
			for (uint32_t i = 0; i < s->h.gtes_per_gt; i++) {
				if (gt[i] == rgt[i])
					continue;
				if (!gt[i] || !rgt[i])
					warning(c,
						"%s: grain table %u entry %u maps sector %u, the "
						"redundant copy %u (an allocation was cut short)",
						s->path, t, i, gt[i], rgt[i]);
				else
					problem(c,
						"%s: redundant grain table %u entry %u: %u, the "
						"primary (sector %u) has %u",
						s->path, t, i, rgt[i], s->gd[t], gt[i]);
			}
		}
		for (uint32_t i = 0; i < s->h.gtes_per_gt; i++) {
			uint64_t e = gt[i], g = (uint64_t)t * s->h.gtes_per_gt + i;

			if (!e || (e == 1 && s->zero_grain))
				continue;
			if (g >= ngrains) {
				problem(c,
					"%s: grain table %u entry %u: maps grain %" PRIu64
					" past the capacity",
					s->path, t, i, g);
				continue;
			}
			if (e * VMDK_SECTOR >= s->file_end) {
				problem(c,
					"%s: grain table %u entry %u: grain at sector %" PRIu64
					" is past the end of the file (%" PRIu64 " bytes)",
					s->path, t, i, e, s->file_end);
				continue;
			}
			if (!s->compressed && e < s->h.overhead) {
				problem(c,
					"%s: grain table %u entry %u: grain at sector %" PRIu64
					" lies in the metadata (overHead %" PRIu64 ")",
					s->path, t, i, e, s->h.overhead);
				continue;
			}
			if (nused == cap) {
				uint32_t *n = realloc(used, (cap ? cap * 2 : 1024) * sizeof(*used));

				if (!n) {
					problem(c, "%s: out of memory", s->path);
					goto out;
				}
				used = n;
				cap = cap ? cap * 2 : 1024;
			}
			used[nused++] = (uint32_t)e;
			allocated++;
		}
	}
	if (nused)
		qsort(used, nused, sizeof(*used), cmp_u32);
	for (size_t i = 1; i < nused; i++)
		if (used[i] == used[i - 1])
			problem(c, "%s: grain at sector %u is mapped twice", s->path, used[i]);
	json_object_set_new(ext, "grain_bytes", json_integer((json_int_t)gb));
	json_object_set_new(ext, "allocated_grains", json_integer((json_int_t)allocated));
	json_object_set_new(ext, "compressed", json_boolean(s->compressed));
out:
	free(used);
	free(gt);
	free(rgt);
}

static const char *kind_str(enum vmdk_ext_kind k)
{
	return k == VMDK_EXT_FLAT   ? "flat" :
	       k == VMDK_EXT_SPARSE ? "sparse" :
	       k == VMDK_EXT_ZERO   ? "zero" :
				      "vmfs";
}

int keel_vmdk_check(const char *path, json_t *report, char *err, size_t errlen)
{
	struct check c = { .errors = json_array(), .warnings = json_array() };
	struct keel_vmdk *disk;
	json_t *layers = json_array();
	int r;

	if (!c.errors || !c.warnings || !layers) {
		json_decref(c.errors);
		json_decref(c.warnings);
		json_decref(layers);
		return vmdk_err(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	json_object_set_new(report, "path", json_string(path));
	r = keel_vmdk_open(path, KEEL_VMDK_RDONLY, &disk, err, errlen);
	if (r) {
		json_array_append_new(c.errors, json_string(err));
		json_object_set_new(report, "errors", c.errors);
		json_decref(c.warnings);
		json_decref(layers);
		return r;
	}
	json_object_set_new(report, "type", json_string(keel_vmdk_type_name(disk->desc.type)));
	json_object_set_new(report, "size", json_integer((json_int_t)disk->size));
	json_object_set_new(report, "cid", json_sprintf("%08x", disk->desc.cid));
	for (struct keel_vmdk *l = disk; l; l = l->parent) {
		json_t *layer = json_object(), *exts = json_array();

		json_object_set_new(layer, "path", json_string(l->path));
		json_object_set_new(layer, "cid", json_sprintf("%08x", l->desc.cid));
		if (l->desc.parent_cid != VMDK_CID_NONE)
			json_object_set_new(layer, "parent_cid",
					    json_sprintf("%08x", l->desc.parent_cid));
		for (size_t i = 0; i < l->next; i++) {
			struct vmdk_extent *e = &l->ext[i];
			json_t *ext = json_object();

			json_object_set_new(ext, "kind", json_string(kind_str(e->kind)));
			if (e->path)
				json_object_set_new(ext, "file", json_string(e->path));
			json_object_set_new(ext, "bytes", json_integer((json_int_t)e->len));
			if (e->sparse)
				check_sparse(e->sparse, ext, &c);
			json_array_append_new(exts, ext);
		}
		json_object_set_new(layer, "extents", exts);
		json_array_append_new(layers, layer);
	}
	keel_vmdk_close(disk);
	json_object_set_new(report, "layers", layers);
	json_object_set_new(report, "error_count", json_integer((json_int_t)c.count));
	json_object_set_new(report, "errors", c.errors);
	json_object_set_new(report, "warnings", c.warnings);
	if (c.count)
		return vmdk_err(err, errlen, -EUCLEAN, "%s", c.first);
	return 0;
}
