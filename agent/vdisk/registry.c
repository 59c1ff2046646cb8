// SPDX-License-Identifier: GPL-2.0-only
/* The built-in filters, by name.  A new filter: one file in agent/vfilters/, one line here. */
#include <string.h>

#include "vdisk/vdisk_priv.h"

extern const struct keel_vfilter_ops keel_vfilter_stats;
extern const struct keel_vfilter_ops keel_vfilter_throttle;
extern const struct keel_vfilter_ops keel_vfilter_integrity;
extern const struct keel_vfilter_ops keel_vfilter_crypt;
extern const struct keel_vfilter_ops keel_vfilter_cache;

static const struct keel_vfilter_ops *const builtin[] = {
	&keel_vfilter_stats, &keel_vfilter_throttle, &keel_vfilter_integrity,
	&keel_vfilter_crypt, &keel_vfilter_cache,
};

const struct keel_vfilter_ops *vdisk_registry_find(const char *name)
{
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcmp(builtin[i]->name, name))
			return builtin[i];
	return NULL;
}
