/* SPDX-License-Identifier: GPL-2.0-only */
/* The [blk] section of keel.conf: blk_config.c declares each key. */
#ifndef KEEL_BLK_CONFIG_H
#define KEEL_BLK_CONFIG_H

#include "keeld/config.h"

struct blk_config {
	struct keel_subsys_config subsys; /* enabled, required: first */
	unsigned int stats_interval_ms;
	unsigned int cache_mib;
	unsigned int block_size;
	unsigned int max_disks;
	char devices[256];
	char cgroups[1024];
	unsigned int ring_kib;
	char mrc_mode[16];
	unsigned int mrc_rate_ppm;
	unsigned int mrc_max_samples;
	unsigned int mrc_bins;
	unsigned int mrc_keel_points;
	unsigned int mrc_keel_max_entries;
	unsigned int max_recordings;
	unsigned int record_max_s;
	unsigned int record_max_mib;
};

extern const struct keel_opt blk_options[];

#endif /* KEEL_BLK_CONFIG_H */
