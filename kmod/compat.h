/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel interfaces that changed between the kernels keel.ko builds for.
 * Each KEEL_HAVE_* / KEEL_*_HAS_* comes from kmod/Kbuild, which looks for
 * the interface in the headers being built against (no version numbers).
 */
#ifndef KEEL_KMOD_COMPAT_H
#define KEEL_KMOD_COMPAT_H

#include <linux/mm.h>
#include <linux/uio.h>

/* One page of another mm; 6.5 dropped the vmas argument. */
static inline long keel_gup_remote_one(struct mm_struct *mm, unsigned long addr,
				       unsigned int gup_flags, struct page **page)
{
#ifdef KEEL_GUP_REMOTE_HAS_VMAS
	return get_user_pages_remote(mm, addr, 1, gup_flags, page, NULL, NULL);
#else
	return get_user_pages_remote(mm, addr, 1, gup_flags, page, NULL);
#endif
}

/* 6.3 made vma->vm_flags read-only behind vm_flags_set()/vm_flags_clear(). */
static inline void keel_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
#ifdef KEEL_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void keel_vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
#ifdef KEEL_HAVE_VM_FLAGS_SET
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/* An iov_iter over one user buffer; 6.7 removed import_single_range(). */
static inline int keel_import_ubuf(int rw, void __user *buf, size_t len, struct iovec *iov,
				   struct iov_iter *iter)
{
#ifdef KEEL_HAVE_IMPORT_UBUF
	return import_ubuf(rw, buf, len, iter);
#else
	return import_single_range(rw, buf, len, iov, iter);
#endif
}

#endif /* KEEL_KMOD_COMPAT_H */
