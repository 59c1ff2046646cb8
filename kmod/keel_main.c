// SPDX-License-Identifier: GPL-2.0-only
/*
 * keel.ko - kernel side of the keel agent.
 *
 * Registers the misc device /dev/keel (mode 0600).  Its ioctls are the ABI
 * in include/keel/keel_uapi.h: KEEL_IOC_VERSION, KEEL_IOC_MEMH_CREATE
 * (memory handles, memh.c), and the upcall / I/O filter ioctls (upcall.c).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <keel/keel_uapi.h>

#include "memh.h"
#include "upcall.h"

#define KEEL_MODULE_VERSION "0.1.0"

/* Upcalls are optional: memory handles work on kernels where they cannot. */
static bool upcall_ok;
module_param_string(upcall_unavailable, keel_uc_why, sizeof(keel_uc_why), 0444);
MODULE_PARM_DESC(upcall_unavailable, "why upcalls cannot run on this kernel; empty when they can");

static bool keel_is_upcall_ioctl(unsigned int cmd)
{
	return cmd == KEEL_IOC_UPCALL_REGISTER || cmd == KEEL_IOC_FILTER_SUBMIT ||
	       cmd == KEEL_IOC_UPCALL_RETURN || cmd == KEEL_IOC_FILTER_RECV ||
	       cmd == KEEL_IOC_FILTER_ANSWER;
}

static long keel_ioctl_version(void __user *arg)
{
	struct keel_version v;

	memset(&v, 0, sizeof(v));
	v.abi = KEEL_ABI_VERSION;
	strscpy(v.version, KEEL_MODULE_VERSION, sizeof(v.version));
	if (copy_to_user(arg, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static long keel_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case KEEL_IOC_VERSION:
		return keel_ioctl_version((void __user *)arg);
	case KEEL_IOC_MEMH_CREATE:
		return keel_memh_create((void __user *)arg);
	default:
		if (!upcall_ok)
			return keel_is_upcall_ioctl(cmd) ? -EOPNOTSUPP : -ENOTTY;
		return keel_upcall_ioctl(file, cmd, arg);
	}
}

static int keel_open(struct inode *inode, struct file *file)
{
	/* misc_open left the miscdevice here; upcall state goes here. */
	file->private_data = NULL;
	return nonseekable_open(inode, file);
}

static int keel_release(struct inode *inode, struct file *file)
{
	if (upcall_ok)
		keel_upcall_release(file);
	return 0;
}

static const struct file_operations keel_fops = {
	.owner = THIS_MODULE,
	.open = keel_open,
	.release = keel_release,
	.unlocked_ioctl = keel_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice keel_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "keel",
	.fops = &keel_fops,
	.mode = 0600,
};

static int __init keel_init(void)
{
	int ret;

	ret = keel_upcall_init();
	if (ret == -ENOEXEC)
		upcall_ok = false; /* keel_uc_why says why */
	else if (ret)
		return ret;
	else
		upcall_ok = true;
	ret = keel_memh_init();
	if (ret) {
		pr_err("cannot set up memory handles: %d\n", ret);
		if (upcall_ok)
			keel_upcall_exit();
		return ret;
	}
	ret = misc_register(&keel_misc);
	if (ret) {
		pr_err("cannot register /dev/keel: %d\n", ret);
		keel_memh_exit();
		if (upcall_ok)
			keel_upcall_exit();
		return ret;
	}
	pr_info("loaded, version %s, abi %u, /dev/keel%s\n", KEEL_MODULE_VERSION, KEEL_ABI_VERSION,
		upcall_ok ? "" : ", without upcalls");
	return 0;
}

static void __exit keel_exit(void)
{
	misc_deregister(&keel_misc);
	keel_memh_exit();
	if (upcall_ok)
		keel_upcall_exit();
	pr_info("unloaded\n");
}

module_init(keel_init);
module_exit(keel_exit);

MODULE_DESCRIPTION("keel agent kernel module (/dev/keel)");
MODULE_AUTHOR("keel developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(KEEL_MODULE_VERSION);
