// SPDX-License-Identifier: GPL-2.0-only
/* The bottom of every chain: the VMDK library, as the filter "vmdk". */
#include "vdisk/vdisk_priv.h"

static struct keel_vmdk *vmdk_of(struct keel_vfilter *f)
{
	return f->disk->vmdk;
}

static int bottom_pread(struct keel_vfilter *f, void *buf, size_t len, uint64_t off)
{
	return keel_vmdk_pread(vmdk_of(f), buf, len, off);
}

static int bottom_pwrite(struct keel_vfilter *f, const void *buf, size_t len, uint64_t off,
			 unsigned int flags)
{
	int r = keel_vmdk_pwrite(vmdk_of(f), buf, len, off);

	if (!r && (flags & KEEL_VF_FUA))
		r = keel_vmdk_flush(vmdk_of(f));
	return r;
}

static int bottom_flush(struct keel_vfilter *f)
{
	return keel_vmdk_flush(vmdk_of(f));
}

/* The library has one operation for both: zeroing is a valid discard. */
static int bottom_discard(struct keel_vfilter *f, uint64_t off, uint64_t len, unsigned int flags)
{
	int r = keel_vmdk_zero(vmdk_of(f), off, len);

	if (!r && (flags & KEEL_VF_FUA))
		r = keel_vmdk_flush(vmdk_of(f));
	return r;
}

const struct keel_vfilter_ops vdisk_bottom_ops = {
	.name = "vmdk",
	.summary = "the disk itself (VMDK library): extents, grains, deltas",
	.pread = bottom_pread,
	.pwrite = bottom_pwrite,
	.flush = bottom_flush,
	.discard = bottom_discard,
};
