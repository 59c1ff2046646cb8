/* SPDX-License-Identifier: GPL-2.0-only */
/* vdisk internals shared by the chain's files (not for filters). */
#ifndef KEEL_VDISK_PRIV_H
#define KEEL_VDISK_PRIV_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>

#include "keel/vdisk.h"
#include "vmdk/vmdk.h"

#define VDISK_MAX_KEYS	32   /* parameters in one [filter.NAME] */
#define VDISK_MAX_VALUE 4096 /* bytes in one parameter value */

struct keel_vfilter_conf {
	char where[PATH_MAX + 64]; /* "FILE [filter.NAME]" */
	char dir[PATH_MAX];	   /* the metadata file's directory */
	unsigned int n;
	struct {
		char *key, *value;
		bool used;
	} kv[VDISK_MAX_KEYS];
};

struct keel_vfilter {
	const struct keel_vfilter_ops *ops;
	struct keel_vdisk *disk;
	struct keel_vfilter *below;
	void *priv;
	bool opened;
	int handles;			/* [filter.NAME] handles = true|false */
	json_t *params;			/* its [filter.NAME] keys as read at open */
	struct keel_vfilter_counters c; /* updated with __atomic_* */
};

struct keel_vdisk {
	char path[PATH_MAX];
	char id[256];
	uint64_t id64;
	uint64_t size;
	unsigned int flags;
	struct keel_vmdk *vmdk;
	keel_vdisk_event_fn event;
	void *event_ctx;
	int (*gate)(void *ctx);
	void *gate_ctx;
	unsigned int n; /* filters, "vmdk" included */
	struct keel_vfilter f[KEEL_VDISK_MAX_FILTERS + 1];
};

/* The metadata file, parsed: the filter names top to bottom and their sections. */
struct vdisk_metadata {
	unsigned int n;
	char *names[KEEL_VDISK_MAX_FILTERS];
	struct keel_vfilter_conf conf[KEEL_VDISK_MAX_FILTERS];
};

int vdisk_metadata_read(const char *file, struct vdisk_metadata *ret, char *err, size_t errlen);
void vdisk_metadata_free(struct vdisk_metadata *m);
/* after a filter's open: a key it did not read is an error */
int vdisk_conf_check_used(const struct keel_vfilter_conf *c, char *err, size_t errlen);

const struct keel_vfilter_ops *vdisk_registry_find(const char *name);
extern const struct keel_vfilter_ops vdisk_bottom_ops; /* "vmdk" */

#endif /* KEEL_VDISK_PRIV_H */
