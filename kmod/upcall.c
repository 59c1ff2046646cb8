// SPDX-License-Identifier: GPL-2.0-only
/*
 * Upcalls: keel.ko runs a user-space I/O filter on the submitting thread.
 *
 * The submit ioctl (KEEL_IOC_FILTER_SUBMIT) keeps its kernel stack parked
 * with its live frames and runs the registered filter in user mode with a
 * second kernel stack as the thread's kernel stack (upcall_stack.c), so
 * every system call the filter makes, a nested submit included, runs on
 * that second stack.  The filter ends with KEEL_IOC_UPCALL_RETURN, which
 * records the verdict and has the thread switch back to the first stack on
 * its way out; the submit then continues where it parked, completes the
 * request in kernel mode (uc_finish) and returns its result.  An exit or a
 * fatal signal inside the filter unwinds to the first stack too, one level
 * at a time, fails the request there and exits again from it.
 * docs/upcall.md has the long version and the kernel internals it uses.
 *
 * Filter state is per task and per open file.  Preemption and migration
 * during an upcall are handled by the kernel's own context switch, which
 * takes the kernel stack from task->stack (upcall_stack.c).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": upcall: " fmt

#include <linux/bitmap.h>
#include <linux/compat.h>
#include <linux/completion.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <asm/ptrace.h>
#include <asm/unistd.h>

#include <keel/keel_uapi.h>

#include "compat.h"
#include "upcall.h"

#ifndef CONFIG_X86_64
#error "keel upcalls switch x86_64 kernel stacks; no other architecture"
#endif
/*
 * Written against the x86_64 entry code of Linux 6.1; on other kernels the
 * load-time checks (keel_upcall_init) find what differs and keel.ko loads
 * without upcalls (docs/upcall.md).
 */
char keel_uc_why[KEEL_UC_WHY_MAX];

#define UC_FILTERS_MAX	64
#define UC_SLOTS_MAX	1024
#define UC_DEPTH_MAX	64
#define UC_IO_BYTES_MAX (16U << 20)
#define UC_RED_ZONE	128 /* x86_64 SysV: below sp, not ours */

static unsigned int upcall_max_depth = 8;
module_param(upcall_max_depth, uint, 0644);
MODULE_PARM_DESC(upcall_max_depth, "upcalls one thread may have in progress (nesting), 1..64");

static unsigned int upcall_max_frames = 4096;
module_param(upcall_max_frames, uint, 0644);
MODULE_PARM_DESC(upcall_max_frames, "upcalls in progress on the machine (saved frames)");

static unsigned int upcall_max_filters = 16;
module_param(upcall_max_filters, uint, 0644);
MODULE_PARM_DESC(upcall_max_filters, "filters per /dev/keel descriptor, 1..64");

static unsigned int upcall_max_io_bytes = 65536;
module_param(upcall_max_io_bytes, uint, 0644);
MODULE_PARM_DESC(upcall_max_io_bytes, "largest filtered read or write, bytes (at most 16 MiB)");

/* Counters, read-only in /sys/module/keel/parameters/. */
static atomic_long_t stat_upcalls;   /* upcalls started */
static atomic_long_t stat_returns;   /* completed by the return call */
static atomic_long_t stat_aborts;    /* KEEL_FILTER_ABORT verdicts */
static atomic_long_t stat_discarded; /* frames freed without a return */
static atomic_long_t stat_frames;    /* upcalls in progress */
static atomic_long_t stat_handler;   /* requests served by handler threads */
static atomic_long_t stat_on_s2;     /* upcall ioctls entered on a second stack */

static int uc_counter_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(kp->arg));
}

static int uc_counter_set(const char *val, const struct kernel_param *kp)
{
	return -EPERM;
}

static const struct kernel_param_ops uc_counter_ops = {
	.get = uc_counter_get,
	.set = uc_counter_set,
};
module_param_cb(upcalls, &uc_counter_ops, &stat_upcalls, 0444);
module_param_cb(upcall_returns, &uc_counter_ops, &stat_returns, 0444);
module_param_cb(upcall_aborts, &uc_counter_ops, &stat_aborts, 0444);
module_param_cb(upcall_discarded, &uc_counter_ops, &stat_discarded, 0444);
module_param_cb(upcall_frames, &uc_counter_ops, &stat_frames, 0444);
module_param_cb(upcall_handler_requests, &uc_counter_ops, &stat_handler, 0444);
module_param_cb(upcall_second_stack_calls, &uc_counter_ops, &stat_on_s2, 0444);

static int uc_stacks_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", keel_uc_stacks_in_use());
}

static const struct kernel_param_ops uc_stacks_ops = {
	.get = uc_stacks_get,
	.set = uc_counter_set,
};
module_param_cb(upcall_stacks, &uc_stacks_ops, NULL, 0444);

struct uc_filter {
	u64 entry;
	u64 arg;
	u64 stack;
	u32 slot_size;
	u32 nslots;
	u32 flags;
	u32 id;
	unsigned long *slots; /* bit set: slot in use by a thread */
};

/* One upcall in progress: its submit is parked on st.s1. */
struct uc_frame {
	struct list_head node;	/* uc_thread.frames, innermost first */
	struct pt_regs regs;	/* the submit's user frame */
	struct keel_io_req req; /* the request as submitted */
	u64 ureq;		/* the filter's copy, on its stack */
	struct uc_filter *filter;
	int slot;	/* stack slot of a depth-0 upcall, or -1 */
	bool returning; /* the resume is queued */
	u32 verdict;
	s32 error;
	bool have_rw;
	struct keel_io_req rw;	    /* the filter's rewrite */
	struct keel_uc_audit audit; /* the filter's audit context */
	struct keel_uc_stack st;
};

struct uc_thread {
	struct list_head node;	  /* uc_file.threads */
	struct task_struct *task; /* reference held */
	struct list_head frames;
	unsigned int depth;
};

/* A request waiting for a handler thread; lives on the submitter's stack. */
struct uc_wait {
	struct list_head node; /* uc_file.queued or .claimed */
	u64 id;
	u32 filter;
	struct pid *tgid; /* the submitter's process */
	bool done;
	u32 verdict;
	s32 error;
	struct keel_io_req req;
	struct completion answered;
};

struct uc_file {
	spinlock_t lock;
	struct uc_filter *filters[UC_FILTERS_MAX];
	unsigned int nfilters;
	struct list_head threads; /* threads with upcalls in progress */
	struct list_head queued;  /* handler mode: not yet received */
	struct list_head claimed; /* received, not yet answered */
	wait_queue_head_t handler_wq;
	u64 next_id;
};

static struct kmem_cache *uc_frame_cache;

static unsigned int uc_param(unsigned int v, unsigned int lo, unsigned int hi)
{
	return clamp(READ_ONCE(v), lo, hi);
}

/*
 * The frame we copy for the filter must be the one entry_SYSCALL_64 built
 * for this very ioctl: a 64-bit syscall from user mode.  Not a compat entry (other
 * frame conventions), not a kernel or io_uring worker thread.
 */
static bool uc_native_syscall(struct pt_regs *regs)
{
	return !in_compat_syscall() && !(current->flags & (PF_KTHREAD | PF_IO_WORKER)) &&
	       user_mode(regs) && regs->orig_ax == __NR_ioctl;
}

static struct uc_file *uc_file_get(struct file *file, bool create)
{
	struct uc_file *uf, *old;

	uf = smp_load_acquire((struct uc_file **)&file->private_data);
	if (uf || !create)
		return uf;
	uf = kzalloc(sizeof(*uf), GFP_KERNEL_ACCOUNT);
	if (!uf)
		return NULL;
	spin_lock_init(&uf->lock);
	INIT_LIST_HEAD(&uf->threads);
	INIT_LIST_HEAD(&uf->queued);
	INIT_LIST_HEAD(&uf->claimed);
	init_waitqueue_head(&uf->handler_wq);
	old = cmpxchg((struct uc_file **)&file->private_data, NULL, uf);
	if (old) {
		kfree(uf);
		return old;
	}
	return uf;
}

static struct uc_filter *uc_filter_get(struct uc_file *uf, u32 id)
{
	struct uc_filter *f = NULL;

	spin_lock(&uf->lock);
	if (id < uf->nfilters)
		f = uf->filters[id];
	spin_unlock(&uf->lock);
	return f;
}

static struct uc_thread *uc_thread_find(struct uc_file *uf)
{
	struct uc_thread *t;

	lockdep_assert_held(&uf->lock);
	list_for_each_entry(t, &uf->threads, node)
		if (t->task == current)
			return t;
	return NULL;
}

/* Free a thread that is off the list, with its frames: none will return. */
static void uc_thread_free(struct uc_thread *t)
{
	struct uc_frame *fr, *tmp;

	list_for_each_entry_safe(fr, tmp, &t->frames, node) {
		list_del(&fr->node);
		if (fr->slot >= 0)
			clear_bit(fr->slot, fr->filter->slots);
		kmem_cache_free(uc_frame_cache, fr);
		atomic_long_dec(&stat_frames);
		atomic_long_inc(&stat_discarded);
	}
	put_task_struct(t->task);
	kfree(t);
}

/*
 * Unlink threads that died inside a filter.  A task with PF_EXITING is in
 * do_exit and never returns to user mode, so it cannot use its frames.
 */
static void uc_reap(struct uc_file *uf)
{
	struct uc_thread *t, *tmp;
	LIST_HEAD(dead);

	spin_lock(&uf->lock);
	list_for_each_entry_safe(t, tmp, &uf->threads, node)
		if (READ_ONCE(t->task->flags) & PF_EXITING)
			list_move(&t->node, &dead);
	spin_unlock(&uf->lock);
	list_for_each_entry_safe(t, tmp, &dead, node)
		uc_thread_free(t);
}

/*
 * The calling thread's upcall state, or NULL.  (exec inside a filter is
 * refused, so its frames always belong to the running program.)
 */
static struct uc_thread *uc_thread_current(struct uc_file *uf)
{
	struct uc_thread *t;

	spin_lock(&uf->lock);
	t = uc_thread_find(uf);
	spin_unlock(&uf->lock);
	/* Only this thread (or release, which cannot run now) frees t. */
	return t;
}

static long uc_req_check(const struct keel_io_req *r)
{
	if (r->flags || (r->op != KEEL_IO_READ && r->op != KEEL_IO_WRITE))
		return -EINVAL;
	if (r->len > uc_param(upcall_max_io_bytes, 0, UC_IO_BYTES_MAX))
		return -EINVAL;
	if (r->off < -1)
		return -EINVAL;
	return 0;
}

/*
 * Complete a request in kernel mode: the I/O the filter let through, on
 * the caller's buffer as write(2)/read(2) would do it.  vfs_iter_* rather
 * than kernel_write/kernel_read: those refuse files that have both ->write
 * and ->write_iter (such as /dev/null) and WARN on a wrong open mode.
 */
static long uc_do_io(const struct keel_io_req *r)
{
	bool wr = r->op == KEEL_IO_WRITE;
	struct iov_iter iter;
	struct iovec iov;
	struct file *f;
	loff_t pos;
	bool lock_pos;
	long ret;

	f = fget(r->fd);
	if (!f)
		return -EBADF;
	ret = keel_import_ubuf(wr ? WRITE : READ, u64_to_user_ptr(r->buf), r->len, &iov, &iter);
	if (ret)
		goto out;
	lock_pos = r->off < 0 && (f->f_mode & FMODE_ATOMIC_POS);
	if (lock_pos)
		mutex_lock(&f->f_pos_lock);
	pos = r->off < 0 ? f->f_pos : r->off;
	if (wr) {
		file_start_write(f);
		ret = vfs_iter_write(f, &iter, &pos, 0);
		file_end_write(f);
	} else {
		ret = vfs_iter_read(f, &iter, &pos, 0);
	}
	if (r->off < 0 && ret > 0)
		f->f_pos = pos;
	if (lock_pos)
		mutex_unlock(&f->f_pos_lock);
out:
	fput(f);
	return ret;
}

/* Apply a filter's verdict to @r (the request as submitted). */
static long uc_complete(struct keel_io_req *r, u32 verdict, s32 error,
			const struct keel_io_req *rewritten)
{
	struct keel_io_req nr;

	switch (verdict) {
	case KEEL_FILTER_ALLOW:
		return uc_do_io(r);
	case KEEL_FILTER_REFUSE:
		if (error <= 0 || error >= MAX_ERRNO)
			error = EPERM;
		return -error;
	case KEEL_FILTER_REWRITE:
		if (!rewritten)
			return -EFAULT;
		nr = *rewritten;
		nr.filter = r->filter;
		nr.depth = r->depth;
		nr.error = 0;
		if (uc_req_check(&nr))
			return -EINVAL;
		return uc_do_io(&nr);
	case KEEL_FILTER_ABORT:
		atomic_long_inc(&stat_aborts);
		return -ECANCELED;
	default:
		return -EPROTO;
	}
}

/*
 * The upcall.  On success the return value (0) lands in the filter's rax:
 * the ioctl's own caller gets its result from KEEL_IOC_UPCALL_RETURN.
 */
static long uc_finish(struct uc_file *uf, struct uc_thread *t, struct uc_frame *fr,
		      struct file *file);

static long uc_upcall(struct file *file, struct uc_file *uf, struct uc_filter *flt,
		      struct keel_io_req *req, struct pt_regs *regs)
{
	struct pt_regs ur;
	struct uc_thread *t, *nt = NULL;
	struct uc_frame *fr;
	unsigned int depth;
	u64 base, ureq;
	int slot = -1;
	long ret;

	t = uc_thread_current(uf);
	depth = t ? t->depth : 0;
	if (depth >= uc_param(upcall_max_depth, 1, UC_DEPTH_MAX))
		return -ELOOP;
	if (atomic_long_inc_return(&stat_frames) > READ_ONCE(upcall_max_frames)) {
		ret = -ENOSPC;
		goto err_count;
	}
	ret = -ENOMEM;
	fr = kmem_cache_alloc(uc_frame_cache, GFP_KERNEL);
	if (!fr)
		goto err_count;
	fr->returning = false;
	fr->audit.submit = NULL;
	fr->st.s2 = keel_uc_stack_alloc();
	if (!fr->st.s2)
		goto err_frame;
	if (keel_uc_audit_prepare(&fr->audit))
		goto err_frame;
	if (!t) {
		uc_reap(uf);
		nt = kzalloc(sizeof(*nt), GFP_KERNEL_ACCOUNT);
		if (!nt)
			goto err_frame;
		INIT_LIST_HEAD(&nt->frames);
		nt->task = get_task_struct(current);
	}

	if (depth == 0) {
		/* A stack slot of the filter's area for this thread. */
		spin_lock(&uf->lock);
		slot = find_first_zero_bit(flt->slots, flt->nslots);
		if (slot < flt->nslots)
			set_bit(slot, flt->slots);
		spin_unlock(&uf->lock);
		ret = -EBUSY;
		if (slot >= flt->nslots) {
			slot = -1;
			goto err_thread;
		}
		base = flt->stack + (u64)(slot + 1) * flt->slot_size;
	} else {
		/* Nested: go on below the filter's own stack pointer. */
		base = regs->sp - UC_RED_ZONE;
	}
	ret = -EFAULT;
	if (base < PAGE_SIZE + sizeof(*req) + 128)
		goto err_slot;
	ureq = round_down(base - sizeof(*req), 64);
	req->depth = depth;
	if (copy_to_user(u64_to_user_ptr(ureq), req, sizeof(*req)))
		goto err_slot;

	fr->regs = *regs;
	fr->req = *req;
	fr->ureq = ureq;
	fr->filter = flt;
	fr->slot = slot;

	spin_lock(&uf->lock);
	if (nt) {
		list_add(&nt->node, &uf->threads);
		t = nt;
	}
	list_add(&fr->node, &t->frames);
	t->depth++;
	spin_unlock(&uf->lock);

	/*
	 * Return into the filter: entry(req copy, arg, depth) on the slot,
	 * as a call would (16-byte aligned sp, DF clear).  rcx/r11 are set
	 * as the syscall instruction would leave them so that the exit path
	 * may use SYSRET; it checks that itself and uses IRET otherwise.
	 */
	/*
	 * The filter's user entry frame, built from a copy of the submit's
	 * (whose own frame stays untouched on this first stack): entry(req
	 * copy, arg, depth) on the slot, as a call would (16-byte aligned sp,
	 * DF clear).  rcx/r11 as the syscall instruction leaves them; not a
	 * system call frame (orig_ax -1: no syscall restart on signals).
	 */
	ur = *regs;
	ur.ip = flt->entry;
	ur.sp = ureq - 64;
	ur.di = ureq;
	ur.si = flt->arg;
	ur.dx = depth;
	ur.flags &= ~(X86_EFLAGS_DF | X86_EFLAGS_AC);
	ur.cx = ur.ip;
	ur.r11 = ur.flags;
	ur.orig_ax = -1;
	ur.ax = 0;
	atomic_long_inc(&stat_upcalls);
	/* Held while parked: the filter may close its descriptor. */
	get_file(file);
	keel_uc_audit_enter(&fr->audit);
	keel_uc_stack_run(&fr->st, &ur);
	keel_uc_audit_leave(&fr->audit);
	return uc_finish(uf, t, fr, file);

err_slot:
	if (slot >= 0)
		clear_bit(slot, flt->slots);
err_thread:
	if (nt) {
		put_task_struct(nt->task);
		kfree(nt);
	}
err_frame:
	keel_uc_audit_leave(&fr->audit);
	if (fr->st.s2)
		keel_uc_stack_free(fr->st.s2);
	kmem_cache_free(uc_frame_cache, fr);
err_count:
	atomic_long_dec(&stat_frames);
	return ret;
}

/* KEEL_IOC_UPCALL_RETURN, on the innermost upcall's second stack. */
static long uc_return(struct file *file, void __user *arg)
{
	struct keel_upcall_return ur;
	struct uc_file *uf;
	struct uc_thread *t;
	struct uc_frame *fr;
	long ret;

	if (copy_from_user(&ur, arg, sizeof(ur)))
		return -EFAULT;
	if (ur.flags || ur.pad)
		return -EINVAL;
	if (!uc_native_syscall(current_pt_regs()))
		return -EOPNOTSUPP;
	uf = uc_file_get(file, false);
	if (!uf)
		return -EINVAL;
	t = uc_thread_current(uf);
	if (!t)
		return -EINVAL;
	fr = list_first_entry(&t->frames, struct uc_frame, node);
	if (fr->returning)
		return -EINVAL;
	fr->verdict = ur.verdict;
	fr->error = ur.error;
	/* Read the edited copy now: a bad copy fails the request. */
	fr->have_rw = ur.verdict == KEEL_FILTER_REWRITE &&
		      !copy_from_user(&fr->rw, u64_to_user_ptr(fr->ureq), sizeof(fr->rw));
	/* -EINVAL: not on this upcall's second stack (a forked child). */
	ret = keel_uc_stack_return(&fr->st);
	if (!ret)
		fr->returning = true;
	return ret;
}

/*
 * Second-stack mode, back on the first stack in the parked submit: the
 * filter returned (its verdict is in @fr) or exited.  Complete the request
 * here, in kernel mode, and return its result from the submit.
 */
static long uc_finish(struct uc_file *uf, struct uc_thread *t, struct uc_frame *fr,
		      struct file *file)
{
	bool last;
	long ret;

	spin_lock(&uf->lock);
	if (!t)
		t = uc_thread_find(uf);
	list_del(&fr->node);
	last = --t->depth == 0;
	if (last)
		list_del(&t->node);
	if (fr->slot >= 0)
		clear_bit(fr->slot, fr->filter->slots);
	spin_unlock(&uf->lock);
	if (last) {
		put_task_struct(t->task);
		kfree(t);
	}
	/* No CPU runs on it any more: this thread left it for good. */
	keel_uc_stack_free(fr->st.s2);
	if (fr->st.exiting) {
		/* Exit again from here, with the same code, on the way out. */
		keel_uc_exit_later(fr->st.exit_code);
		atomic_long_inc(&stat_discarded);
		ret = -EINTR;
	} else {
		ret = uc_complete(&fr->req, fr->verdict, fr->error, fr->have_rw ? &fr->rw : NULL);
		atomic_long_inc(&stat_returns);
	}
	kmem_cache_free(uc_frame_cache, fr);
	atomic_long_dec(&stat_frames);
	fput(file);
	return ret;
}

/* Handler-thread mode: post the request and sleep until it is answered. */
static long uc_submit_wait(struct uc_file *uf, struct uc_filter *flt, struct keel_io_req *req)
{
	struct uc_wait w = { .filter = flt->id, .req = *req, .tgid = task_tgid(current) };
	bool done;

	init_completion(&w.answered);
	spin_lock(&uf->lock);
	w.id = ++uf->next_id;
	list_add_tail(&w.node, &uf->queued);
	spin_unlock(&uf->lock);
	wake_up_interruptible(&uf->handler_wq);

	if (wait_for_completion_killable(&w.answered)) {
		spin_lock(&uf->lock);
		done = w.done;
		if (!done)
			list_del(&w.node);
		spin_unlock(&uf->lock);
		if (!done)
			return -EINTR; /* fatal: nobody sees it */
	}
	atomic_long_inc(&stat_handler);
	return uc_complete(req, w.verdict, w.error, &w.req);
}

static struct uc_wait *uc_wait_find(struct list_head *list, u64 id, u32 filter, bool by_filter)
{
	struct uc_wait *w;

	list_for_each_entry(w, list, node)
		if (by_filter ? w->filter == filter : w->id == id)
			return w;
	return NULL;
}

static bool uc_has_queued(struct uc_file *uf, u32 filter)
{
	bool ret;

	spin_lock(&uf->lock);
	ret = uc_wait_find(&uf->queued, 0, filter, true);
	spin_unlock(&uf->lock);
	return ret;
}

static long uc_recv(struct file *file, void __user *arg)
{
	struct keel_filter_msg m;
	struct uc_filter *flt;
	struct uc_file *uf;
	struct uc_wait *w;

	if (copy_from_user(&m, arg, sizeof(m)))
		return -EFAULT;
	uf = uc_file_get(file, false);
	flt = uf ? uc_filter_get(uf, m.filter) : NULL;
	if (!flt)
		return -ENOENT;
	if (!(flt->flags & KEEL_UPCALL_HANDLER))
		return -EINVAL;
	for (;;) {
		spin_lock(&uf->lock);
		w = uc_wait_find(&uf->queued, 0, m.filter, true);
		if (w) {
			list_move_tail(&w->node, &uf->claimed);
			m.id = w->id;
			m.req = w->req;
		}
		spin_unlock(&uf->lock);
		if (w)
			break;
		if (wait_event_interruptible(uf->handler_wq, uc_has_queued(uf, m.filter)))
			return -EINTR;
	}
	if (copy_to_user(arg, &m, sizeof(m))) {
		/* Give it back for another handler, if still waiting. */
		spin_lock(&uf->lock);
		w = uc_wait_find(&uf->claimed, m.id, 0, false);
		if (w)
			list_move(&w->node, &uf->queued);
		spin_unlock(&uf->lock);
		wake_up_interruptible(&uf->handler_wq);
		return -EFAULT;
	}
	return 0;
}

/*
 * A handler in another process than the submitter (it received the
 * descriptor) may only narrow the request: same descriptor, same
 * operation, part of the same buffer.  Any other rewrite would let it
 * choose which of the submitter's files and memory the kernel uses.
 */
static bool uc_rewrite_narrows(const struct keel_io_req *o, const struct keel_io_req *n)
{
	return n->fd == o->fd && n->op == o->op && n->buf >= o->buf && n->len <= o->len &&
	       n->buf - o->buf <= o->len - n->len;
}

static long uc_answer(struct file *file, void __user *arg)
{
	struct keel_filter_msg m;
	struct uc_file *uf;
	struct uc_wait *w;
	long ret = 0;

	if (copy_from_user(&m, arg, sizeof(m)))
		return -EFAULT;
	uf = uc_file_get(file, false);
	if (!uf)
		return -ENOENT;
	spin_lock(&uf->lock);
	w = uc_wait_find(&uf->claimed, m.id, 0, false);
	if (w && m.verdict == KEEL_FILTER_REWRITE && task_tgid(current) != w->tgid &&
	    !uc_rewrite_narrows(&w->req, &m.req)) {
		/* The submitter's request fails; the handler is told why. */
		w->verdict = KEEL_FILTER_REFUSE;
		w->error = EPERM;
		ret = -EPERM;
	} else if (w) {
		w->verdict = m.verdict;
		w->error = m.error;
		if (m.verdict == KEEL_FILTER_REWRITE)
			w->req = m.req;
	}
	if (w) {
		w->done = true;
		list_del(&w->node);
		/* Under the lock: a killed submitter checks w->done under it. */
		complete(&w->answered);
	}
	spin_unlock(&uf->lock);
	return w ? ret : -ENOENT;
}

static long uc_submit(struct file *file, void __user *arg)
{
	struct pt_regs *regs = current_pt_regs();
	struct keel_io_req req;
	struct uc_filter *flt;
	struct uc_file *uf;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	ret = uc_req_check(&req);
	if (ret)
		return ret;
	uf = uc_file_get(file, false);
	flt = uf ? uc_filter_get(uf, req.filter) : NULL;
	if (!flt)
		return -ENOENT;
	req.error = 0;
	if (flt->flags & KEEL_UPCALL_HANDLER)
		return uc_submit_wait(uf, flt, &req);
	if (!uc_native_syscall(regs) || !keel_uc_stack_usable())
		return -EOPNOTSUPP;
	return uc_upcall(file, uf, flt, &req, regs);
}

static long uc_register(struct file *file, void __user *arg)
{
	struct keel_upcall_register r;
	struct uc_filter *f;
	struct uc_file *uf;
	unsigned int max;
	long ret;

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if (in_compat_syscall())
		return -EOPNOTSUPP;
	if ((r.flags & ~KEEL_UPCALL_HANDLER) || r.pad)
		return -EINVAL;
	if (r.flags & KEEL_UPCALL_HANDLER) {
		if (r.entry || r.stack || r.stack_size || r.slot_size)
			return -EINVAL;
	} else {
		if (!r.entry || !access_ok(u64_to_user_ptr(r.entry), 1) || !r.stack ||
		    r.slot_size < PAGE_SIZE || r.slot_size % 16 || !r.stack_size ||
		    r.stack_size % r.slot_size || r.stack_size / r.slot_size > UC_SLOTS_MAX ||
		    !access_ok(u64_to_user_ptr(r.stack), r.stack_size))
			return -EINVAL;
	}
	uf = uc_file_get(file, true);
	if (!uf)
		return -ENOMEM;
	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	f->entry = r.entry;
	f->arg = r.arg;
	f->stack = r.stack;
	f->slot_size = r.slot_size;
	f->nslots = r.slot_size ? r.stack_size / r.slot_size : 0;
	f->flags = r.flags;
	f->slots = bitmap_zalloc(max_t(u32, f->nslots, 1), GFP_KERNEL_ACCOUNT);
	if (!f->slots) {
		kfree(f);
		return -ENOMEM;
	}
	max = uc_param(upcall_max_filters, 1, UC_FILTERS_MAX);
	spin_lock(&uf->lock);
	if (uf->nfilters < max) {
		f->id = uf->nfilters;
		/* Published last: lookups take the lock. */
		uf->filters[uf->nfilters++] = f;
		ret = 0;
	} else {
		ret = -EDQUOT;
	}
	spin_unlock(&uf->lock);
	if (ret) {
		bitmap_free(f->slots);
		kfree(f);
		return ret;
	}
	r.id = f->id;
	/* The filter stays registered; it is freed with the descriptor. */
	if (copy_to_user(arg, &r, sizeof(r)))
		return -EFAULT;
	return 0;
}

long keel_upcall_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *p = (void __user *)arg;

	if ((cmd == KEEL_IOC_FILTER_SUBMIT || cmd == KEEL_IOC_UPCALL_RETURN) &&
	    keel_uc_on_second_stack())
		atomic_long_inc(&stat_on_s2);
	switch (cmd) {
	case KEEL_IOC_UPCALL_REGISTER:
		return uc_register(file, p);
	case KEEL_IOC_FILTER_SUBMIT:
		return uc_submit(file, p);
	case KEEL_IOC_UPCALL_RETURN:
		return uc_return(file, p);
	case KEEL_IOC_FILTER_RECV:
		return uc_recv(file, p);
	case KEEL_IOC_FILTER_ANSWER:
		return uc_answer(file, p);
	default:
		return -ENOTTY;
	}
}

/* The last reference is gone: no ioctl runs, no thread can still return. */
void keel_upcall_release(struct file *file)
{
	struct uc_file *uf = file->private_data;
	struct uc_thread *t, *tmp;
	unsigned int i;

	if (!uf)
		return;
	list_for_each_entry_safe(t, tmp, &uf->threads, node) {
		list_del(&t->node);
		uc_thread_free(t);
	}
	for (i = 0; i < uf->nfilters; i++) {
		bitmap_free(uf->filters[i]->slots);
		kfree(uf->filters[i]);
	}
	kfree(uf);
	file->private_data = NULL;
}

/*
 * Load-time check of the one kernel internal everything rests on: that
 * current_pt_regs() of a task in a system call is the user frame the
 * x86_64 syscall entry built.  We are in the loading process's
 * init_module/finit_module call, so that frame must say so, and carry the
 * syscall instruction's signature (rcx = rip, r11 = rflags).
 */
static int uc_selftest(void)
{
	struct pt_regs *regs = current_pt_regs();

	if (in_compat_syscall()) {
		return keel_uc_unavailable(
			"loaded from a 32-bit process: the load-time check of the x86_64 system call frame needs a 64-bit insmod/modprobe");
	}
	if (!user_mode(regs) ||
	    (regs->orig_ax != __NR_finit_module && regs->orig_ax != __NR_init_module) ||
	    regs->cx != regs->ip || regs->r11 != regs->flags) {
		return keel_uc_unavailable(
			"the system call frame at current_pt_regs() is not the x86_64 syscall-entry frame this module copies for filters (cs=%#lx orig_ax=%ld ip=%#lx cx=%#lx flags=%#lx r11=%#lx); this kernel's entry code differs from Linux 6.1's, see docs/upcall.md",
			(unsigned long)regs->cs, regs->orig_ax, regs->ip, regs->cx, regs->flags,
			regs->r11);
	}
	return 0;
}

int keel_upcall_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct pt_regs) != 21 * sizeof(unsigned long));
	ret = uc_selftest();
	if (ret)
		return ret;
	ret = keel_uc_stack_init();
	if (ret)
		return ret;
	uc_frame_cache = kmem_cache_create("keel_upcall_frame", sizeof(struct uc_frame), 0,
					   SLAB_ACCOUNT, NULL);
	if (!uc_frame_cache) {
		keel_uc_stack_exit();
		return -ENOMEM;
	}
	return 0;
}

void keel_upcall_exit(void)
{
	keel_uc_stack_exit();
	kmem_cache_destroy(uc_frame_cache);
}
