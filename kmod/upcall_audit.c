// SPDX-License-Identifier: GPL-2.0-only
/*
 * The audit context of an upcall's filter (docs/upcall.md, "Audit").
 *
 * The submit ioctl is a system call in progress: with auditing on, the
 * task's audit context is in the AUDIT_CTX_SYSCALL state for it.  The
 * filter's own system calls enter and leave the kernel while the submit is
 * parked; __audit_syscall_entry() expects an unused context and, finding
 * the submit's, WARNs ("unrecoverable error in audit_syscall_entry()", a
 * panic with panic_on_warn) and records nothing of the filter's call, whose
 * names and return would then be mixed into the submit's record.
 *
 * So the filter runs with an audit context of its own, made by the
 * kernel's audit_alloc() (the one fork gives a new task, with the task
 * rules applied), and the submit's is put back, untouched, when the filter
 * is done.  __audit_free() then ends the filter's: if the filter exited
 * inside a system call (exit_group), that call's record is emitted as
 * do_exit() would have.  Neither function is exported: found through
 * kallsyms (upcall_stack.c).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": upcall: " fmt

#include <linux/audit.h>
#include <linux/sched.h>
#include <linux/thread_info.h>

#include "upcall.h"

#ifdef CONFIG_AUDITSYSCALL

static int (*uc_audit_alloc)(struct task_struct *tsk);
static void (*uc_audit_free)(struct task_struct *tsk);

int keel_uc_audit_init(unsigned long (*lookup)(const char *name))
{
	uc_audit_alloc = (void *)lookup("audit_alloc");
	uc_audit_free = (void *)lookup("__audit_free");
	if (!uc_audit_alloc || !uc_audit_free) {
		pr_err("refusing to load: audit_alloc or __audit_free not found; a filter's system calls would run in its submit's audit context (docs/upcall.md)\n");
		return -ENOEXEC;
	}
	return 0;
}

/*
 * Make the filter's context, not installed yet: @a->filter.  0, or
 * -ENOMEM (the filter must not run unaudited).
 */
int keel_uc_audit_prepare(struct keel_uc_audit *a)
{
	struct audit_context *submit = audit_context();
	int ret;

	a->submit = submit;
	a->filter = NULL;
	if (!submit)
		return 0; /* this task is not audited */
	audit_set_context(current, NULL);
	ret = uc_audit_alloc(current);
	a->filter = audit_context();
	audit_set_context(current, submit);
	/* audit_alloc() clears the work bit for a task rule of "never". */
	set_task_syscall_work(current, SYSCALL_AUDIT);
	return ret;
}

/* The filter is about to run: its context becomes the task's. */
void keel_uc_audit_enter(struct keel_uc_audit *a)
{
	if (!a->submit)
		return;
	audit_set_context(current, a->filter);
	if (a->filter)
		set_task_syscall_work(current, SYSCALL_AUDIT);
	else
		clear_task_syscall_work(current, SYSCALL_AUDIT);
}

/*
 * The filter is done (returned, or exited inside itself); also undoes a
 * prepare whose filter never ran.  Ends the filter's context and gives the
 * submit its own back.
 */
void keel_uc_audit_leave(struct keel_uc_audit *a)
{
	if (!a->submit)
		return;
	audit_set_context(current, a->filter);
	if (a->filter)
		uc_audit_free(current);
	audit_set_context(current, a->submit);
	set_task_syscall_work(current, SYSCALL_AUDIT);
}

#else /* !CONFIG_AUDITSYSCALL */

int keel_uc_audit_init(unsigned long (*lookup)(const char *name))
{
	return 0;
}

int keel_uc_audit_prepare(struct keel_uc_audit *a)
{
	return 0;
}

void keel_uc_audit_enter(struct keel_uc_audit *a)
{
}

void keel_uc_audit_leave(struct keel_uc_audit *a)
{
}

#endif /* CONFIG_AUDITSYSCALL */
