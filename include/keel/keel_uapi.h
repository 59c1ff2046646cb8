/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * keel.ko's user ABI: the ioctls of /dev/keel.
 * Structs use only fixed-width types with explicit padding; a flags field
 * must be 0 today; unknown ioctls fail with ENOTTY.
 */
#ifndef KEEL_UAPI_H
#define KEEL_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped on every incompatible change; keeld refuses a mismatch. */
#define KEEL_ABI_VERSION 1

struct keel_version {
	__u32 abi;		/* KEEL_ABI_VERSION of the module */
	__u32 flags;		/* 0 */
	char version[32];	/* MODULE_VERSION, NUL-terminated */
};

#define KEEL_IOC_MAGIC 'k'
#define KEEL_IOC_VERSION _IOR(KEEL_IOC_MAGIC, 0, struct keel_version)

#endif /* KEEL_UAPI_H */
