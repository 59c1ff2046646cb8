/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Upcalls into user-space I/O filters: see upcall.c and docs/upcall.md.
 */
#ifndef KEEL_KMOD_UPCALL_H
#define KEEL_KMOD_UPCALL_H

#include <linux/fs.h>

int keel_upcall_init(void);
void keel_upcall_exit(void);
/* -ENOTTY for a command that is not an upcall ioctl. */
long keel_upcall_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
void keel_upcall_release(struct file *file);

#endif /* KEEL_KMOD_UPCALL_H */
