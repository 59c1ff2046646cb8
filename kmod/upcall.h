/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Upcalls into user-space I/O filters: see upcall.c and docs/upcall.md.
 */
#ifndef KEEL_KMOD_UPCALL_H
#define KEEL_KMOD_UPCALL_H

#include <linux/fs.h>

/*
 * keel_upcall_init() fails when this kernel's internals are not the ones
 * the second-stack switch was written for; keel.ko then loads without
 * upcalls and keel_uc_why says why (kernel log and the module parameter
 * upcall_unavailable, which keeld reports).
 */
#define KEEL_UC_WHY_MAX 512
extern char keel_uc_why[KEEL_UC_WHY_MAX];
#define keel_uc_unavailable(fmt, ...)                                           \
	({                                                                      \
		snprintf(keel_uc_why, sizeof(keel_uc_why), fmt, ##__VA_ARGS__); \
		pr_warn("upcalls unavailable: %s\n", keel_uc_why);              \
		-ENOEXEC;                                                       \
	})

int keel_upcall_init(void);
void keel_upcall_exit(void);
/* -ENOTTY for a command that is not an upcall ioctl. */
long keel_upcall_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
void keel_upcall_release(struct file *file);

/* The second kernel stack (upcall_stack.c). */
#include <linux/types.h>
#include <linux/ptrace.h>

struct keel_uc_stack {
	void *s1;		   /* task->stack while parked */
	unsigned long s1_sp;	   /* its stack pointer, in keel_uc_park */
	void *s2;		   /* the filter's kernel stack */
	struct callback_head work; /* the return call's resume */
	long exit_code;		   /* do_exit's argument, if exiting */
	bool exiting;		   /* resumed by an exit inside the filter */
	bool oops;		   /* make_task_dead on s2 */
};

struct keel_uc_exit_work {
	struct callback_head work;
	long code;
};

/* The filter's own audit context (upcall_audit.c). */
struct audit_context;
struct keel_uc_audit {
	struct audit_context *submit; /* the submit's, set aside */
	struct audit_context *filter; /* the filter's, while it runs */
};

int keel_uc_audit_init(unsigned long (*lookup)(const char *name));
int keel_uc_audit_prepare(struct keel_uc_audit *a);
void keel_uc_audit_enter(struct keel_uc_audit *a);
void keel_uc_audit_leave(struct keel_uc_audit *a);

int keel_uc_stack_init(void);
void keel_uc_stack_exit(void);
void *keel_uc_stack_alloc(void);
void keel_uc_stack_free(void *s2);
void keel_uc_stack_run(struct keel_uc_stack *st, const struct pt_regs *uregs);
int keel_uc_stack_return(struct keel_uc_stack *st);
void keel_uc_exit_later(long code);
bool keel_uc_on_second_stack(void);
long keel_uc_stacks_in_use(void);
bool keel_uc_stack_usable(void);

#endif /* KEEL_KMOD_UPCALL_H */
