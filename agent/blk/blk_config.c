// SPDX-License-Identifier: GPL-2.0-only
/* The [blk] keys: type, range, default and the help --print-config shows. */
#include "blk/blk_config.h"

#define T struct blk_config

const struct keel_opt blk_options[] = {
	KEEL_OPT_ENABLED(T, "observe block requests through block tracepoints"),
	KEEL_OPT_REQUIRED(T, "exit with an error when blk cannot run"),
	KEEL_OPT_UINT(T, "stats_interval_ms", stats_interval_ms, 100, 3600000, "10000",
		      "period of blk.stats events"),
	KEEL_OPT_UINT(T, "cache_mib", cache_mib, 1, 16777216, "256",
		      "size of each disk's three-queue cache model, in MiB"),
	KEEL_OPT_UINT(
		T, "block_size", block_size, 512, 1048576, "4096",
		"the model's block in bytes, a power of two: a read touching N blocks is N accesses"),
	KEEL_OPT_UINT(T, "max_disks", max_disks, 1, 4096, "64",
		      "disks modelled at once; reads of further disks are counted, not modelled"),
	KEEL_OPT_STRING(
		T, "devices", devices, "",
		"only these disks (names or fnmatch patterns, comma-separated: loop*,vda); empty: all"),
	KEEL_OPT_STRING(
		T, "cgroups", cgroups, "",
		"only reads issued by tasks under these cgroup v2 paths (comma-separated, at most 8); empty: all"),
	KEEL_OPT_UINT(
		T, "ring_kib", ring_kib, 64, 1048576, "4096",
		"ring buffer from the kernel, in KiB, a power of two (about 48 bytes per read)"),
	KEEL_OPT_STRING(T, "mrc_mode", mrc_mode, "fixed-rate",
			"miss-ratio curve sampling: fixed-rate or fixed-size (SHARDS)"),
	KEEL_OPT_UINT(T, "mrc_rate_ppm", mrc_rate_ppm, 1, 1000000, "10000",
		      "SHARDS sampling rate in parts per million (fixed-size: the starting rate)"),
	KEEL_OPT_UINT(
		T, "mrc_max_samples", mrc_max_samples, 16, 16777216, "65536",
		"sampled blocks kept per disk (about 50 bytes each); fixed-rate lowers its rate past it"),
	KEEL_OPT_UINT(T, "mrc_bins", mrc_bins, 1, 65536, "200", "points on each miss-ratio curve"),
	KEEL_OPT_UINT(
		T, "mrc_keel_points", mrc_keel_points, 0, 1024, "16",
		"points on the three-queue model's own curve (miniature simulation over 4 x cache_mib; 0: off)"),
	KEEL_OPT_UINT(
		T, "mrc_keel_max_entries", mrc_keel_max_entries, 16, 268435456, "262144",
		"cache entries of all miniature caches per disk (about 100 bytes each with the sample counting them); the rate is lowered to fit"),
	KEEL_OPT_UINT(T, "max_recordings", max_recordings, 1, 64, "4",
		      "'keelctl blk record' sessions at once"),
	KEEL_OPT_UINT(T, "record_max_s", record_max_s, 1, 86400, "3600",
		      "a recording stops after this long"),
	KEEL_OPT_UINT(T, "record_max_mib", record_max_mib, 1, 1048576, "1024",
		      "a recording stops at this size (32 bytes per read)"),
	KEEL_OPT_END
};
