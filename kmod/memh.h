/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Memory handles: see memh.c and include/keel/keel_uapi.h.
 */
#ifndef KEEL_KMOD_MEMH_H
#define KEEL_KMOD_MEMH_H

int keel_memh_init(void);
void keel_memh_exit(void);
long keel_memh_create(void __user *arg);

#endif /* KEEL_KMOD_MEMH_H */
