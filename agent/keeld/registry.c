// SPDX-License-Identifier: GPL-2.0-only
/*
 * The registry of subsystems: one line each, in the order keeld starts them
 * (and prints their configuration sections); they stop in reverse.  A new
 * subsystem is its folder under agent/ plus one line here.
 */
#include "keeld/subsys.h"

#define KEEL_SUBSYSTEMS(X) \
	X(exec)            \
	X(blk)             \
	X(kmod)            \
	X(vmnet)           \
	X(memh)            \
	X(vdisk)

#define DECLARE(name) extern const struct keel_subsys_ops keel_##name##_ops;
#define ENTRY(name)   &keel_##name##_ops,

KEEL_SUBSYSTEMS(DECLARE)

const struct keel_subsys_ops *const keel_subsystems[] = { KEEL_SUBSYSTEMS(ENTRY) NULL };

size_t keel_subsystem_count(void)
{
	return sizeof(keel_subsystems) / sizeof(keel_subsystems[0]) - 1;
}
