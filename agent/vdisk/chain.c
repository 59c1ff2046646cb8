// SPDX-License-Identifier: GPL-2.0-only
/*
 * An open disk's filter chain: built from IMAGE.keel over the VMDK, entered
 * at any filter.  The dispatch functions check the request once per filter
 * (cheap, and a filter bug sending I/O past the end is caught at the next
 * level) and keep every filter's counters, so a test or `keelctl vdisk
 * filters` sees which filters an I/O went through.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk/blk.h"
#include "vdisk/vdisk_priv.h"
#include "common/mix64.h"

#define count(f, field, n) __atomic_fetch_add(&(f)->c.field, (n), __ATOMIC_RELAXED)

static int check_range(const struct keel_vfilter *f, uint64_t len, uint64_t off)
{
	if ((off | len) % KEEL_VF_SECTOR || off > f->disk->size || len > f->disk->size - off)
		return -EINVAL;
	return 0;
}

/*
 * The disk's gate (keel_vdisk_opts.gate), asked before any I/O reaches the
 * bottom filter: ownership fences a server that lost its lease here, so
 * handles entering below the top are stopped as well as NBD.
 */
static int gated(const struct keel_vfilter *f)
{
	return !f->below && f->disk->gate ? f->disk->gate(f->disk->gate_ctx) : 0;
}

static int counted(struct keel_vfilter *f, int r)
{
	if (r < 0)
		count(f, errors, 1);
	return r;
}

int keel_vfilter_pread(struct keel_vfilter *f, void *buf, size_t len, uint64_t off)
{
	int r = check_range(f, len, off);

	if (!r)
		r = gated(f);
	if (r)
		return counted(f, r);
	count(f, reads, 1);
	count(f, read_bytes, len);
	if (!f->ops->pread)
		return counted(f, keel_vfilter_pread(f->below, buf, len, off));
	return counted(f, f->ops->pread(f, buf, len, off));
}

int keel_vfilter_pwrite(struct keel_vfilter *f, const void *buf, size_t len, uint64_t off,
			unsigned int flags)
{
	int r = check_range(f, len, off);

	if (r)
		return counted(f, r);
	if (f->disk->flags & KEEL_VDISK_RDONLY)
		return counted(f, -EROFS);
	r = gated(f);
	if (r)
		return counted(f, r);
	count(f, writes, 1);
	count(f, write_bytes, len);
	if (!f->ops->pwrite)
		return counted(f, keel_vfilter_pwrite(f->below, buf, len, off, flags));
	return counted(f, f->ops->pwrite(f, buf, len, off, flags));
}

int keel_vfilter_flush(struct keel_vfilter *f)
{
	count(f, flushes, 1);
	if (!f->ops->flush)
		return counted(f, keel_vfilter_flush(f->below));
	return counted(f, f->ops->flush(f));
}

int keel_vfilter_discard(struct keel_vfilter *f, uint64_t off, uint64_t len, unsigned int flags)
{
	int r = check_range(f, len, off);

	if (r)
		return counted(f, r);
	if (f->disk->flags & KEEL_VDISK_RDONLY)
		return counted(f, -EROFS);
	r = gated(f);
	if (r)
		return counted(f, r);
	count(f, discards, 1);
	if (!f->ops->discard)
		return counted(f, keel_vfilter_discard(f->below, off, len, flags));
	return counted(f, f->ops->discard(f, off, len, flags));
}

int keel_vfilter_control(struct keel_vfilter *f, const char *op, json_t *args, json_t **ret,
			 char *err, size_t errlen)
{
	*ret = NULL;
	if (!f->ops->control) {
		snprintf(err, errlen, "filter %s has no operation \"%s\"", f->ops->name, op);
		return -EOPNOTSUPP;
	}
	return f->ops->control(f, op, args, ret, err, errlen);
}

struct keel_vfilter *keel_vfilter_below(const struct keel_vfilter *f)
{
	return f->below;
}

const char *keel_vfilter_name(const struct keel_vfilter *f)
{
	return f->ops->name;
}

void *keel_vfilter_priv(const struct keel_vfilter *f)
{
	return f->priv;
}

void keel_vfilter_set_priv(struct keel_vfilter *f, void *priv)
{
	f->priv = priv;
}

uint64_t keel_vfilter_disk_size(const struct keel_vfilter *f)
{
	return f->disk->size;
}

const char *keel_vfilter_disk_path(const struct keel_vfilter *f)
{
	return f->disk->path;
}

const char *keel_vfilter_disk_id(const struct keel_vfilter *f)
{
	return f->disk->id;
}

uint64_t keel_vfilter_disk_id64(const struct keel_vfilter *f)
{
	return f->disk->id64;
}

int keel_vfilter_disk_readonly(const struct keel_vfilter *f)
{
	return !!(f->disk->flags & KEEL_VDISK_RDONLY);
}

int keel_vfilter_disk_layer(const struct keel_vfilter *f, uint64_t off, unsigned int *ret_depth,
			    uint64_t *ret_layer_id, uint32_t *ret_cid)
{
	struct keel_vmdk *v = f->disk->vmdk;
	uint64_t dev, ino;
	int r = 0;

	if (off == KEEL_VF_TOP_LAYER) {
		*ret_depth = 0;
		*ret_cid = keel_vmdk_cid(v);
	} else {
		r = keel_vmdk_layer_of(v, off, ret_depth, ret_cid);
	}
	if (!r)
		r = keel_vmdk_layer_file(v, *ret_depth, &dev, &ino);
	if (!r)
		*ret_layer_id = keel_mix64(keel_mix64(dev) ^ ino);
	return r;
}

void keel_vfilter_counters(const struct keel_vfilter *f, struct keel_vfilter_counters *ret)
{
	ret->reads = __atomic_load_n(&f->c.reads, __ATOMIC_RELAXED);
	ret->writes = __atomic_load_n(&f->c.writes, __ATOMIC_RELAXED);
	ret->flushes = __atomic_load_n(&f->c.flushes, __ATOMIC_RELAXED);
	ret->discards = __atomic_load_n(&f->c.discards, __ATOMIC_RELAXED);
	ret->read_bytes = __atomic_load_n(&f->c.read_bytes, __ATOMIC_RELAXED);
	ret->write_bytes = __atomic_load_n(&f->c.write_bytes, __ATOMIC_RELAXED);
	ret->errors = __atomic_load_n(&f->c.errors, __ATOMIC_RELAXED);
}

void keel_vfilter_event(struct keel_vfilter *f, const char *type, json_t *fields)
{
	struct keel_vdisk *d = f->disk;
	json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "type", type, "disk", d->path, "disk_id",
			      d->id, "filter", f->ops->name);

	if (e && fields)
		json_object_update(e, fields);
	json_decref(fields);
	if (e && d->event)
		d->event(d->event_ctx, e);
	json_decref(e);
}

/* ---- the disk ---- */

uint64_t keel_vdisk_size(const struct keel_vdisk *d)
{
	return d->size;
}

const char *keel_vdisk_id(const struct keel_vdisk *d)
{
	return d->id;
}

uint64_t keel_vdisk_id64(const struct keel_vdisk *d)
{
	return d->id64;
}

int keel_vdisk_readonly(const struct keel_vdisk *d)
{
	return !!(d->flags & KEEL_VDISK_RDONLY);
}

unsigned int keel_vdisk_nfilters(const struct keel_vdisk *d)
{
	return d->n;
}

struct keel_vfilter *keel_vdisk_filter(const struct keel_vdisk *d, unsigned int i)
{
	return i < d->n ? (struct keel_vfilter *)&d->f[i] : NULL;
}

struct keel_vfilter *keel_vdisk_find(const struct keel_vdisk *d, const char *name)
{
	for (unsigned int i = 0; i < d->n; i++)
		if (!strcmp(d->f[i].ops->name, name))
			return (struct keel_vfilter *)&d->f[i];
	return NULL;
}

int keel_vdisk_attach(struct keel_vdisk *d, const char *name, struct keel_vfilter **ret,
		      char *reason, size_t reasonlen)
{
	struct keel_vfilter *f = keel_vdisk_find(d, name);
	int r;

	if (!f) {
		int n = snprintf(reason, reasonlen,
				 "no filter \"%s\" in the chain of %s (chain:", name, d->path);

		for (unsigned int i = 0; i < d->n && n > 0 && (size_t)n < reasonlen; i++)
			n += snprintf(reason + n, reasonlen - n, " %s", d->f[i].ops->name);
		if (n > 0 && (size_t)n < reasonlen)
			snprintf(reason + n, reasonlen - n, ")");
		return -ENOENT;
	}
	if (!f->handles) {
		snprintf(reason, reasonlen,
			 "filter %s refuses handles: handles = false in its [filter.%s] section",
			 name, name);
		return -EPERM;
	}
	if (f->ops->attach) {
		r = f->ops->attach(f, reason, reasonlen);
		if (r)
			return r;
	}
	*ret = f;
	return 0;
}

json_t *keel_vdisk_info(struct keel_vdisk *d)
{
	json_t *filters = json_array(), *info;

	for (unsigned int i = 0; i < d->n; i++) {
		struct keel_vfilter *f = &d->f[i];
		struct keel_vfilter_counters c;
		json_t *o, *stats = NULL;
		char err[256];

		keel_vfilter_counters(f, &c);
		o = json_pack("{s:s, s:s, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "name",
			      f->ops->name, "summary", f->ops->summary ? f->ops->summary : "",
			      "handles", f->handles, "counters", "reads", (json_int_t)c.reads,
			      "writes", (json_int_t)c.writes, "flushes", (json_int_t)c.flushes,
			      "discards", (json_int_t)c.discards, "read_bytes",
			      (json_int_t)c.read_bytes, "write_bytes", (json_int_t)c.write_bytes,
			      "errors", (json_int_t)c.errors);
		if (o && f->params)
			json_object_set(o, "params", f->params);
		else if (o)
			json_object_set_new(o, "params", json_object());
		if (o && f->ops->control &&
		    !f->ops->control(f, "stats", NULL, &stats, err, sizeof(err)) && stats)
			json_object_set_new(o, "stats", stats);
		json_array_append_new(filters, o);
	}
	info = json_pack("{s:s, s:s, s:I, s:b, s:o}", "path", d->path, "disk_id", d->id, "size",
			 (json_int_t)d->size, "readonly", !!(d->flags & KEEL_VDISK_RDONLY),
			 "filters", filters);
	return info;
}

static void close_filters(struct keel_vdisk *d)
{
	for (unsigned int i = 0; i < d->n; i++) {
		if (d->f[i].opened && d->f[i].ops->close)
			d->f[i].ops->close(&d->f[i]);
		json_decref(d->f[i].params);
		d->f[i].params = NULL;
	}
}

/* the parameters as the metadata gave them, for `keelctl vdisk filters` */
static json_t *params_json(const struct keel_vfilter_conf *c)
{
	json_t *o = json_object();

	for (unsigned int k = 0; c && k < c->n; k++)
		json_object_set_new(o, c->kv[k].key, json_string(c->kv[k].value));
	return o;
}

void keel_vdisk_close(struct keel_vdisk *d)
{
	if (!d)
		return;
	close_filters(d);
	if (d->vmdk && !(d->flags & KEEL_VDISK_RDONLY))
		keel_vmdk_flush(d->vmdk);
	keel_vmdk_close(d->vmdk);
	free(d);
}

static int disk_identity(struct keel_vdisk *d, char *err, size_t errlen)
{
	char source[32];
	int r = keel_blk_image_id(d->path, d->id, sizeof(d->id), source, sizeof(source));

	if (r) {
		snprintf(err, errlen,
			 "%s: cannot name the disk (VMDK descriptor ID or %s.keel disk_id): %s",
			 d->path, d->path, strerror(-r));
		return r;
	}
	return keel_blk_id64(d->id, (__u64 *)&d->id64);
}

int keel_vdisk_open(const char *path, const struct keel_vdisk_opts *opts, struct keel_vdisk **ret,
		    char *err, size_t errlen)
{
	static const struct keel_vdisk_opts none;
	struct vdisk_metadata *m = NULL;
	struct keel_vdisk *d;
	char meta[PATH_MAX + 8];
	int r;

	if (!opts)
		opts = &none;
	d = calloc(1, sizeof(*d));
	m = calloc(1, sizeof(*m));
	if (!d || !m) {
		snprintf(err, errlen, "%s: out of memory", path);
		r = -ENOMEM;
		goto fail;
	}
	if (snprintf(d->path, sizeof(d->path), "%s", path) >= (int)sizeof(d->path) ||
	    snprintf(meta, sizeof(meta), "%s.keel", path) >= (int)sizeof(meta)) {
		snprintf(err, errlen, "%.64s...: path too long", path);
		r = -ENAMETOOLONG;
		goto fail;
	}
	d->flags = opts->flags;
	d->event = opts->event;
	d->event_ctx = opts->event_ctx;
	d->gate = opts->gate;
	d->gate_ctx = opts->gate_ctx;
	r = vdisk_metadata_read(opts->metadata ? opts->metadata : meta, m, err, errlen);
	if (r)
		goto fail;
	r = keel_vmdk_open(path, d->flags & KEEL_VDISK_RDONLY ? KEEL_VMDK_RDONLY : 0, &d->vmdk, err,
			   errlen);
	if (r)
		goto fail;
	d->size = keel_vmdk_size(d->vmdk);
	r = disk_identity(d, err, errlen);
	if (r)
		goto fail;

	d->n = m->n + 1;
	for (unsigned int i = 0; i < d->n; i++) {
		d->f[i].disk = d;
		d->f[i].handles = 1;
		d->f[i].below = i + 1 < d->n ? &d->f[i + 1] : NULL;
		d->f[i].ops = i < m->n ? vdisk_registry_find(m->names[i]) : &vdisk_bottom_ops;
	}
	/* bottom first: a filter's open may already do I/O below it */
	for (unsigned int i = d->n; i-- > 0;) {
		struct keel_vfilter *f = &d->f[i];
		struct keel_vfilter_conf *c = i < m->n ? &m->conf[i] : NULL;

		f->params = params_json(c);
		if (c) {
			r = keel_vfilter_conf_bool(c, "handles", 1, &f->handles, err, errlen);
			if (r)
				goto fail;
		}
		if (f->ops->open) {
			static struct keel_vfilter_conf empty = { .where = "(no metadata)" };

			r = f->ops->open(f, c ? c : &empty, err, errlen);
			if (r)
				goto fail;
		}
		f->opened = true;
		if (c) {
			r = vdisk_conf_check_used(c, err, errlen);
			if (r)
				goto fail;
		}
	}
	vdisk_metadata_free(m);
	free(m);
	*ret = d;
	return 0;
fail:
	if (m) {
		vdisk_metadata_free(m);
		free(m);
	}
	keel_vdisk_close(d);
	return r;
}
