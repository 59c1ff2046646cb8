/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the vdisk unit tests: a fresh VMDK and its IMAGE.keel in a temp dir. */
#ifndef KEEL_TEST_VDISK_UTIL_H
#define KEEL_TEST_VDISK_UTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keel/vdisk.h"
#include "tmpdir.h"
#include "vmdk/vmdk.h"

struct tdisk {
	char dir[96];
	char path[128]; /* DIR/disk.vmdk */
	char meta[140]; /* DIR/disk.vmdk.keel */
	char err[1024];
	struct keel_vdisk *d;
	json_t *events; /* every event the chain reported */
};

static void tdisk_event(void *ctx, json_t *e)
{
	struct tdisk *t = ctx;

	json_array_append(t->events, e);
}

/* A monolithicFlat VMDK of @size bytes; @meta (may be NULL) is IMAGE.keel. */
static inline void tdisk_make(struct tdisk *t, uint64_t size, const char *meta)
{
	struct keel_vmdk_create_opts o = { .size = size, .type = KEEL_VMDK_MONOLITHIC_FLAT };

	memset(t, 0, sizeof(*t));
	tmpdir_make(t->dir, sizeof(t->dir), "vdisk-test");
	snprintf(t->path, sizeof(t->path), "%s/disk.vmdk", t->dir);
	snprintf(t->meta, sizeof(t->meta), "%s.keel", t->path);
	cr_assert_eq(keel_vmdk_create(t->path, &o, t->err, sizeof(t->err)), 0, "%s", t->err);
	if (meta) {
		FILE *f = fopen(t->meta, "w");

		cr_assert(f);
		/* blk's disk ID, used when the image is not a VMDK blk can name */
		fputs("disk_id = test-disk\n", f);
		fputs(meta, f);
		fclose(f);
	}
	t->events = json_array();
}

static inline void tdisk_write_file(struct tdisk *t, const char *name, const void *data, size_t len,
				    mode_t mode)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", t->dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	fchmod(fd, mode);
	close(fd);
}

static inline int tdisk_open(struct tdisk *t, unsigned int flags)
{
	struct keel_vdisk_opts o = { .flags = flags, .event = tdisk_event, .event_ctx = t };

	t->err[0] = '\0';
	return keel_vdisk_open(t->path, &o, &t->d, t->err, sizeof(t->err));
}

static inline void tdisk_close(struct tdisk *t)
{
	keel_vdisk_close(t->d);
	t->d = NULL;
}

static inline void tdisk_cleanup(struct tdisk *t)
{
	tdisk_close(t);
	json_decref(t->events);
	tmpdir_rm(t->dir);
}

static inline struct keel_vfilter *tdisk_at(struct tdisk *t, const char *name)
{
	struct keel_vfilter *f = keel_vdisk_find(t->d, name);

	cr_assert(f, "no filter %s in the chain", name);
	return f;
}

static inline void fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 9));
}

#endif
