// SPDX-License-Identifier: GPL-2.0-only
/*
 * keel.ko memory handles.
 *
 * A handle is a file on a private pseudo file system, one inode per handle,
 * so that unmap_mapping_range() on the inode's mapping tears down exactly
 * the mappings of that handle, in every holder, without keeping a list of
 * VMAs (a VMA list could not be walked safely against munmap).
 *
 * The handle holds the creator's mm_struct with mmgrab() only: the address
 * space is never pinned, so the creator exits normally.  A holder maps a
 * section; its faults look the creator's page up with
 * get_user_pages_remote() under mmget_not_zero() and insert the pfn
 * (VM_PFNMAP, no page reference kept).  That is safe because an interval
 * notifier on the creator's range zaps the holder's PTEs before the
 * creator's PTE changes (munmap, COW after fork, swap-out, migration), and
 * the fault re-checks the notifier sequence under h->lock before inserting,
 * so a page looked up before an invalidation is never mapped after it.
 *
 * Lifetime: the file owns one reference on struct keel_memh; a queued drop
 * work owns another.  h->mm (and the notifier) go away at revocation,
 * expiry, creator exit or last close, whichever comes first.  The last
 * close waits for a queued drop work (flush_work): until that work's
 * mmu_interval_notifier_remove() has returned, an invalidation of the
 * exiting creator (exit_mmap unmaps after the release event) may still call
 * memh_invalidate(), which zaps through h->mapping, the inode the close is
 * about to free.
 *
 * Lock order (outer first; "->" means "taken while holding"):
 *
 *   holder's mmap_lock (read, the fault)
 *     -> h->mm_sem (read)
 *       -> creator's mmap_lock (read): trylock only.  Contended, the fault
 *          drops the holder's mmap_lock, waits for the creator's, and
 *          returns VM_FAULT_RETRY; otherwise two processes faulting on each
 *          other's handles, each with a writer queued on its own mmap_lock,
 *          would wait for each other for ever.
 *     -> h->lock -> holder's PTE lock (vmf_insert_pfn).  The PTE table is
 *        allocated before h->lock is taken, so nothing under h->lock
 *        allocates: an allocation may reclaim, reclaim may invalidate the
 *        creator's pages, and memh_invalidate() takes h->lock.
 *
 *   creator's mmap_lock or rmap locks (whoever invalidates)
 *     -> h->lock (only to bump the sequence; released before zapping)
 *     -> h's i_mmap_rwsem -> holder's PTE lock (unmap_mapping_range)
 *
 *   h->mm_sem (write) is taken with nothing else held and released before
 *   mmu_interval_notifier_remove(), which waits for invalidations in
 *   progress: neither is ever waited for under h->lock.  memh_all_lock is a
 *   leaf.
  */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pid.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include <keel/keel_uapi.h>

#include "compat.h"
#include "memh.h"

#define KEEL_MEMH_MAGIC 0x6b6d6568 /* "kmeh" */

static unsigned int max_handles = 65536;
module_param(max_handles, uint, 0644);
MODULE_PARM_DESC(max_handles, "Memory handles open on the machine, at most (default 65536)");

static unsigned int max_handles_per_process = 1024;
module_param(max_handles_per_process, uint, 0644);
MODULE_PARM_DESC(max_handles_per_process,
		 "Memory handles one process may have created and still open (default 1024)");

static unsigned int max_section_shift = 30;
module_param(max_section_shift, uint, 0644);
MODULE_PARM_DESC(max_section_shift, "Largest section size, as log2 bytes (default 30: 1 GiB)");

struct keel_memh {
	struct kref ref;
	struct list_head node; /* in memh_all, under memh_all_lock */
	struct mutex lock;     /* state; orders faults and invalidations */
	enum keel_memh_state state;
	struct rw_semaphore mm_sem; /* keeps mm while a fault uses it */
	struct mm_struct *mm;	    /* creator's, mmgrab()ed; NULL once dropped */
	struct mmu_interval_notifier notifier;
	struct address_space *mapping; /* of the handle's own inode */
	struct pid *creator;	       /* thread group of the creator */
	struct pid *peer_pid;	       /* KEEL_MEMH_PEER_PID */
	kuid_t peer_uid;	       /* KEEL_MEMH_PEER_UID */
	u32 peer_type;
	u32 prot;
	u32 shift;
	unsigned long start;
	unsigned long len;
	ktime_t expires; /* 0: never */
	struct delayed_work expire_work;
	struct work_struct drop_work;
};

static struct vfsmount *memh_mnt;
static struct workqueue_struct *memh_wq;
static LIST_HEAD(memh_all);
static DEFINE_MUTEX(memh_all_lock);
static unsigned int memh_count;
/* Read-only, for leak checks: handles whose file is still open. */
module_param_named(handles_open, memh_count, uint, 0444);
MODULE_PARM_DESC(handles_open, "Memory handles open now (read-only)");

static void memh_free(struct kref *ref)
{
	struct keel_memh *h = container_of(ref, struct keel_memh, ref);

	put_pid(h->creator);
	put_pid(h->peer_pid);
	kfree(h);
}

/**
 * memh_drop_mm - forget the creator's address space
 * @h: the handle
 *
 * Waits for faults that use the mm (mm_sem) and for invalidations in flight
 * (mmu_interval_notifier_remove), then drops the mmgrab() reference.
 * Idempotent; may sleep; must not run inside the notifier callback.
 */
static void memh_drop_mm(struct keel_memh *h)
{
	struct mm_struct *mm;

	down_write(&h->mm_sem);
	mm = h->mm;
	h->mm = NULL;
	up_write(&h->mm_sem);
	if (!mm)
		return;
	mmu_interval_notifier_remove(&h->notifier);
	mmdrop(mm);
}

static void memh_drop_work(struct work_struct *work)
{
	struct keel_memh *h = container_of(work, struct keel_memh, drop_work);

	memh_drop_mm(h);
	kref_put(&h->ref, memh_free);
}

/**
 * memh_kill - end a live handle: tear down every mapping of it
 * @h: the handle
 * @state: why (revoked, expired, creator exited)
 * @sync: drop the mm now; false inside the notifier, where a work does it
 *
 * After this, faults on the handle get SIGBUS and mmap() the state's errno.
 */
static void memh_kill(struct keel_memh *h, enum keel_memh_state state, bool sync)
{
	mutex_lock(&h->lock);
	if (h->state != KEEL_MEMH_LIVE) {
		mutex_unlock(&h->lock);
		return;
	}
	h->state = state;
	mutex_unlock(&h->lock);
	/* A fault that inserted before the state change is zapped here. */
	unmap_mapping_range(h->mapping, 0, 0, 1);
	if (sync) {
		memh_drop_mm(h);
		return;
	}
	kref_get(&h->ref);
	if (!queue_work(memh_wq, &h->drop_work))
		kref_put(&h->ref, memh_free);
}

static void memh_expire_work(struct work_struct *work)
{
	struct keel_memh *h = container_of(to_delayed_work(work), struct keel_memh, expire_work);

	memh_kill(h, KEEL_MEMH_EXPIRED, true);
}

static bool memh_invalidate(struct mmu_interval_notifier *sub,
			    const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct keel_memh *h = container_of(sub, struct keel_memh, notifier);
	unsigned long start = max(range->start, h->start);
	unsigned long end = min(range->end, h->start + h->len);

	if (!mmu_notifier_range_blockable(range))
		return false;
	mutex_lock(&h->lock);
	mmu_interval_set_seq(sub, cur_seq);
	mutex_unlock(&h->lock);
	if (range->event == MMU_NOTIFY_RELEASE) {
		/* The creator's address space is being torn down. */
		memh_kill(h, KEEL_MEMH_EXITED, false);
		return true;
	}
	if (start < end)
		unmap_mapping_range(h->mapping, start - h->start, end - start, 1);
	return true;
}

static const struct mmu_interval_notifier_ops memh_notifier_ops = {
	.invalidate = memh_invalidate,
};

static bool memh_expired(struct keel_memh *h)
{
	return h->expires && ktime_after(ktime_get(), h->expires);
}

/* The errno for using @h now, whoever the caller is. */
static int memh_state_errno(struct keel_memh *h)
{
	switch (READ_ONCE(h->state)) {
	case KEEL_MEMH_REVOKED:
		return -EKEYREVOKED;
	case KEEL_MEMH_EXITED:
		return -ESRCH;
	case KEEL_MEMH_EXPIRED:
		return -ETIME;
	default:
		return memh_expired(h) ? -ETIME : 0;
	}
}

static bool memh_is_creator(struct keel_memh *h)
{
	return task_tgid(current) == h->creator;
}

static int memh_check_peer(struct keel_memh *h)
{
	switch (h->peer_type) {
	case KEEL_MEMH_PEER_PID:
		return task_tgid(current) == h->peer_pid ? 0 : -EPERM;
	case KEEL_MEMH_PEER_UID:
		return uid_eq(current_euid(), h->peer_uid) ? 0 : -EPERM;
	default:
		return 0;
	}
}

/**
 * memh_fault_page - look up the creator's page behind @vmf
 * @h: the handle
 * @vmf: the holder's fault
 * @ret_page: the page, with a reference, on success
 * @ret_seq: the notifier sequence the lookup ran under
 * @ret_mm: the creator's mm, with an mmget() reference, on -EAGAIN
 *
 * Caller holds h->mm_sem for reading.  Returns 0, -EAGAIN when the
 * creator's mmap_lock is taken and the fault may be retried (the caller
 * waits for it without holding its own: see the lock order above), or
 * another negative errno.
 */
static int memh_fault_page(struct keel_memh *h, struct vm_fault *vmf, struct page **ret_page,
			   unsigned long *ret_seq, struct mm_struct **ret_mm)
{
	unsigned long addr = h->start + (vmf->pgoff << PAGE_SHIFT);
	unsigned int gup = (h->prot & KEEL_MEMH_WRITE) ? FOLL_WRITE : 0;
	struct mm_struct *mm = h->mm;
	long n;

	if (!mm || !mmget_not_zero(mm))
		return -ESRCH;
	*ret_seq = mmu_interval_read_begin(&h->notifier);
	if (!mmap_read_trylock(mm)) {
		if (vmf->flags & FAULT_FLAG_ALLOW_RETRY) {
			*ret_mm = mm;
			return -EAGAIN;
		}
		/* No retry possible (not a user fault): wait here. */
		mmap_read_lock(mm);
	}
	n = keel_gup_remote_one(mm, addr, gup, ret_page);
	mmap_read_unlock(mm);
	/* Not mmput(): the last reference would run exit_mmap in this fault. */
	mmput_async(mm);
	return n == 1 ? 0 : -EFAULT;
}

/*
 * The creator's mmap_lock is contended: let go of the holder's, wait for
 * the creator's (so that the retry is likely to get it), and have the
 * fault retried.  @vmf's VMA, file and handle must not be touched after
 * the holder's mmap_lock is released.
 */
static vm_fault_t memh_fault_retry(struct vm_fault *vmf, struct mm_struct *mm)
{
	if (!(vmf->flags & FAULT_FLAG_RETRY_NOWAIT)) {
		mmap_read_unlock(vmf->vma->vm_mm);
		if (!mmap_read_lock_killable(mm))
			mmap_read_unlock(mm);
	}
	mmput_async(mm);
	return VM_FAULT_RETRY;
}

static int memh_pte_noop(pte_t *pte, unsigned long addr, void *data)
{
	return 0;
}

static vm_fault_t memh_fault(struct vm_fault *vmf)
{
	struct keel_memh *h = vmf->vma->vm_file->private_data;
	struct mm_struct *cmm = NULL;
	struct page *page;
	unsigned long seq;
	vm_fault_t ret;
	int err;

	if (vmf->pgoff >= h->len >> PAGE_SHIFT || memh_state_errno(h))
		return VM_FAULT_SIGBUS;
	/*
	 * The page table the PTE goes into, allocated now: under h->lock an
	 * allocation could reclaim, and reclaim re-enter memh_invalidate().
	 * It stays: page tables are only freed under the mmap_lock for
	 * writing, and this fault holds it for reading.
	 */
	if (apply_to_page_range(vmf->vma->vm_mm, vmf->address & PAGE_MASK, PAGE_SIZE, memh_pte_noop,
				NULL))
		return VM_FAULT_OOM;
	down_read(&h->mm_sem);
	err = memh_fault_page(h, vmf, &page, &seq, &cmm);
	up_read(&h->mm_sem);
	if (err == -EAGAIN)
		return memh_fault_retry(vmf, cmm);
	if (err)
		return VM_FAULT_SIGBUS;
	mutex_lock(&h->lock);
	if (h->state != KEEL_MEMH_LIVE)
		ret = VM_FAULT_SIGBUS;
	else if (mmu_interval_read_retry(&h->notifier, seq))
		ret = VM_FAULT_NOPAGE; /* page moved meanwhile: fault again */
	else
		ret = vmf_insert_pfn(vmf->vma, vmf->address, page_to_pfn(page));
	mutex_unlock(&h->lock);
	put_page(page);
	return ret;
}

static const struct vm_operations_struct memh_vm_ops = {
	.fault = memh_fault,
};

/* Where and how much @vma may map; 0 or the errno the header documents. */
static int memh_check_section(struct keel_memh *h, struct vm_area_struct *vma)
{
	unsigned long pages = h->len >> PAGE_SHIFT;
	unsigned long spages = 1UL << (h->shift - PAGE_SHIFT);
	unsigned long size = vma->vm_end - vma->vm_start;
	unsigned long avail;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff & (spages - 1))
		return -EINVAL;
	if (vma->vm_pgoff >= pages)
		return -ENXIO;
	avail = min(spages, pages - vma->vm_pgoff) << PAGE_SHIFT;
	return size > avail ? -EINVAL : 0;
}

static int memh_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct keel_memh *h = file->private_data;
	int err;

	err = memh_state_errno(h);
	if (err)
		return err;
	err = memh_check_peer(h);
	if (err)
		return err;
	/* The creator faulting its own handle would take its mmap_lock twice. */
	if (current->mm == READ_ONCE(h->mm))
		return -ELOOP;
	if ((vma->vm_flags & VM_WRITE) && !(h->prot & KEEL_MEMH_WRITE))
		return -EACCES;
	err = memh_check_section(h, vma);
	if (err)
		return err;
	if (!(h->prot & KEEL_MEMH_WRITE))
		keel_vm_flags_clear(vma, VM_MAYWRITE);
	/*
	 * VM_DONTCOPY: a holder's child does not inherit the mapping, so a
	 * pid restriction cannot be sidestepped with fork().  VM_IO: else
	 * madvise(MADV_DOFORK) would clear VM_DONTCOPY again.
	 */
	keel_vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP | VM_DONTCOPY);
	vma->vm_ops = &memh_vm_ops;
	return 0;
}

static long memh_ioctl_info(struct keel_memh *h, void __user *arg)
{
	struct keel_memh_info info;
	s64 left;

	if (!memh_is_creator(h) && memh_check_peer(h))
		return -EPERM;
	memset(&info, 0, sizeof(info));
	info.addr = h->start;
	info.len = h->len;
	info.prot = h->prot;
	info.section_shift = h->shift;
	info.state = READ_ONCE(h->state);
	if (info.state == KEEL_MEMH_LIVE && memh_expired(h))
		info.state = KEEL_MEMH_EXPIRED;
	info.creator_pid = pid_vnr(h->creator);
	if (h->expires) {
		left = ktime_ms_delta(h->expires, ktime_get());
		info.expire_ms = left > 0 ? left : 0;
	}
	if (copy_to_user(arg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long memh_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct keel_memh *h = file->private_data;

	switch (cmd) {
	case KEEL_MEMH_IOC_INFO:
		return memh_ioctl_info(h, (void __user *)arg);
	case KEEL_MEMH_IOC_REVOKE:
		if (!memh_is_creator(h))
			return -EPERM;
		memh_kill(h, KEEL_MEMH_REVOKED, true);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int memh_release(struct inode *inode, struct file *file)
{
	struct keel_memh *h = file->private_data;

	cancel_delayed_work_sync(&h->expire_work);
	/* No mapping is left (each VMA holds the file); just let go. */
	memh_drop_mm(h);
	/*
	 * A drop work queued by the creator's exit may still be inside
	 * mmu_interval_notifier_remove(), with memh_invalidate() still
	 * callable and zapping through h->mapping: the inode freed after
	 * this returns.  Wait for it.
	 */
	flush_work(&h->drop_work);
	mutex_lock(&memh_all_lock);
	list_del(&h->node);
	memh_count--;
	mutex_unlock(&memh_all_lock);
	kref_put(&h->ref, memh_free);
	return 0;
}

static const struct file_operations memh_fops = {
	.owner = THIS_MODULE,
	.mmap = memh_mmap,
	.unlocked_ioctl = memh_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = memh_release,
	.llseek = noop_llseek,
};

/* Restrictions from @req into @h; 0 or -EINVAL/-ESRCH. */
static int memh_parse(struct keel_memh *h, const struct keel_memh_create *req)
{
	u32 shift = req->section_shift ?: KEEL_MEMH_SECTION_SHIFT_DEFAULT;

	if (req->flags)
		return -EINVAL;
	if (req->prot != KEEL_MEMH_READ && req->prot != (KEEL_MEMH_READ | KEEL_MEMH_WRITE))
		return -EINVAL;
	if (!req->len || !PAGE_ALIGNED(req->addr) || !PAGE_ALIGNED(req->len) ||
	    req->addr >= TASK_SIZE || req->len > TASK_SIZE - req->addr)
		return -EINVAL;
	if (shift < PAGE_SHIFT || shift > max_section_shift || shift >= 40)
		return -EINVAL;
	if (req->expire_ms > (u64)INT_MAX * 1000)
		return -EINVAL;
	h->start = req->addr;
	h->len = req->len;
	h->prot = req->prot;
	h->shift = shift;
	h->peer_type = req->peer_type;
	switch (req->peer_type) {
	case KEEL_MEMH_PEER_ANY:
		return 0;
	case KEEL_MEMH_PEER_UID:
		h->peer_uid = make_kuid(current_user_ns(), req->peer);
		return uid_valid(h->peer_uid) ? 0 : -EINVAL;
	case KEEL_MEMH_PEER_PID:
		if (!req->peer || req->peer > INT_MAX)
			return -EINVAL;
		h->peer_pid = find_get_pid(req->peer);
		if (!h->peer_pid || !pid_has_task(h->peer_pid, PIDTYPE_TGID))
			return -ESRCH;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Count @h against the limits and list it; 0, -ENOSPC or -EDQUOT. */
static int memh_account(struct keel_memh *h)
{
	struct keel_memh *o;
	unsigned int mine = 0;
	int ret = 0;

	mutex_lock(&memh_all_lock);
	list_for_each_entry(o, &memh_all, node)
		mine += o->creator == h->creator;
	if (memh_count >= max_handles)
		ret = -ENOSPC;
	else if (mine >= max_handles_per_process)
		ret = -EDQUOT;
	if (!ret) {
		list_add(&h->node, &memh_all);
		memh_count++;
	}
	mutex_unlock(&memh_all_lock);
	return ret;
}

static struct keel_memh *memh_alloc(void)
{
	struct keel_memh *h = kzalloc(sizeof(*h), GFP_KERNEL);

	if (!h)
		return NULL;
	kref_init(&h->ref);
	INIT_LIST_HEAD(&h->node);
	mutex_init(&h->lock);
	init_rwsem(&h->mm_sem);
	INIT_DELAYED_WORK(&h->expire_work, memh_expire_work);
	INIT_WORK(&h->drop_work, memh_drop_work);
	h->state = KEEL_MEMH_LIVE;
	h->creator = get_pid(task_tgid(current));
	return h;
}

/* The handle's file, on its own inode; takes a module reference. */
static struct file *memh_file(struct keel_memh *h)
{
	struct inode *inode;
	struct file *file;

	if (!try_module_get(THIS_MODULE))
		return ERR_PTR(-ENODEV);
	inode = alloc_anon_inode(memh_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		module_put(THIS_MODULE);
		return ERR_CAST(inode);
	}
	file = alloc_file_pseudo(inode, memh_mnt, "keel-memh", O_RDWR, &memh_fops);
	if (IS_ERR(file)) {
		iput(inode);
		module_put(THIS_MODULE);
		return file;
	}
	file->private_data = h;
	h->mapping = inode->i_mapping;
	return file;
}

/* Watch the creator's range, then take its mm; 0 or a negative errno. */
static int memh_attach_mm(struct keel_memh *h)
{
	int ret;

	if (!current->mm)
		return -EINVAL;
	ret = mmu_interval_notifier_insert(&h->notifier, current->mm, h->start, h->len,
					   &memh_notifier_ops);
	if (ret)
		return ret;
	mmgrab(current->mm);
	h->mm = current->mm;
	return 0;
}

/* Give @file to user space as the fd in @arg; consumes @file. */
static long memh_install(struct file *file, void __user *arg)
{
	struct keel_memh_create __user *u = arg;
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd < 0) {
		fput(file);
		return fd;
	}
	if (put_user(fd, &u->fd)) {
		put_unused_fd(fd);
		fput(file);
		return -EFAULT;
	}
	fd_install(fd, file);
	return 0;
}

/**
 * keel_memh_create - KEEL_IOC_MEMH_CREATE: a handle for a range of the caller
 * @arg: struct keel_memh_create in user memory
 *
 * Returns 0 (the fd is in @arg) or a negative errno (see keel_uapi.h).
 */
long keel_memh_create(void __user *arg)
{
	struct keel_memh_create req;
	struct keel_memh *h;
	struct file *file;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	h = memh_alloc();
	if (!h)
		return -ENOMEM;
	ret = memh_parse(h, &req);
	if (ret)
		goto put_handle;
	ret = memh_account(h);
	if (ret)
		goto put_handle;
	ret = memh_attach_mm(h);
	if (ret)
		goto unlist;
	file = memh_file(h);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto drop_mm;
	}
	if (req.expire_ms) {
		h->expires = ktime_add_ms(ktime_get(), req.expire_ms);
		queue_delayed_work(memh_wq, &h->expire_work, msecs_to_jiffies(req.expire_ms));
	}
	/* From here the file owns @h: its release undoes everything. */
	return memh_install(file, arg);

drop_mm:
	memh_drop_mm(h);
unlist:
	mutex_lock(&memh_all_lock);
	list_del(&h->node);
	memh_count--;
	mutex_unlock(&memh_all_lock);
put_handle:
	kref_put(&h->ref, memh_free);
	return ret;
}

static int memh_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, KEEL_MEMH_MAGIC) ? 0 : -ENOMEM;
}

/* No .owner: the mount must not pin the module; the files do. */
static struct file_system_type memh_fs_type = {
	.name = "keel_memh",
	.init_fs_context = memh_init_fs_context,
	.kill_sb = kill_anon_super,
};

int keel_memh_init(void)
{
	memh_wq = alloc_workqueue("keel_memh", WQ_UNBOUND, 0);
	if (!memh_wq)
		return -ENOMEM;
	memh_mnt = kern_mount(&memh_fs_type);
	if (IS_ERR(memh_mnt)) {
		destroy_workqueue(memh_wq);
		return PTR_ERR(memh_mnt);
	}
	return 0;
}

void keel_memh_exit(void)
{
	/* Every file is closed (they hold the module); drain late drops. */
	destroy_workqueue(memh_wq);
	kern_unmount(memh_mnt);
}
