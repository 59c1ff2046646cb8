// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sizes as people write them ("10G", "512", "4KiB"): one parser for
 * keelctl vdisk create --size, keel-vdisk's offsets and lengths, and the
 * filters' numeric parameters in IMAGE.keel, so they accept the same text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keel/vdisk.h"

int keel_vdisk_parse_size(const char *s, uint64_t *ret)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	unsigned int shift = 0;
	const char *u;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	u = *end ? strchr(units, *end & ~0x20) : NULL;
	if (u) {
		shift = 10 * (unsigned int)(u - units + 1);
		end++;
	}
	if (*end && strcmp(end, "iB") && strcmp(end, "B"))
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = (uint64_t)v << shift;
	return 0;
}
