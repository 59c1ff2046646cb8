/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel's internal dev_t, as BPF programs read it (struct super_block,
 * struct gendisk): 12-bit major, 20-bit minor, not glibc's encoding.
 */
#ifndef KEEL_KDEV_H
#define KEEL_KDEV_H

#include <stddef.h>
#include <stdio.h>

#define KEEL_KDEV_MINORBITS 20

/* "MAJ:MIN" of kernel dev_t @dev into @buf */
static inline void keel_kdev_format(unsigned int dev, char *buf, size_t len)
{
	snprintf(buf, len, "%u:%u", dev >> KEEL_KDEV_MINORBITS,
		 dev & ((1U << KEEL_KDEV_MINORBITS) - 1));
}

#endif /* KEEL_KDEV_H */
