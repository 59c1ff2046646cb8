// SPDX-License-Identifier: GPL-2.0-only
/*
 * Upcalls on a second kernel stack (docs/upcall.md, "The stack switch").
 *
 * The submitting thread, in kernel mode inside its submit ioctl, parks its
 * kernel stack (S1) with all its live frames, makes a fresh stack (S2) the
 * task's kernel stack and leaves for user mode from S2 into the filter.
 * Everything the filter does in the kernel (system calls, faults,
 * interrupts from user mode, signal delivery, a nested submit) enters on
 * S2.  The filter's return ioctl queues a task_work; when the return ioctl
 * has unwound and its exit path runs that work (on S2, nothing held), the
 * work switches back to S1 and the submit continues where it parked.
 *
 * Kernel internals this relies on, all checked at load (keel_uc_stack_init):
 *  - the x86_64 entry code takes the kernel stack for system calls and
 *    user-mode interrupts from the per-CPU cpu_current_top_of_stack, which
 *    __switch_to sets from task->stack at every context switch, so writing
 *    both (IRQs off) moves the task to S2 on this and any later CPU;
 *  - current_pt_regs(), end_of_stack(), the ORC unwinder's stack bounds and
 *    hardened usercopy all derive from task->stack, so they follow;
 *  - the kernel frees a task's stack through task->stack_vm_area, which
 *    keeps pointing at S1: S1 must be task->stack again before do_exit
 *    reaches exit_task_stack_account/release, which a kprobe on do_exit
 *    guarantees (uc_exit_pre) by unwinding to S1 first;
 *  - irqentry_exit_to_user_mode and swapgs_restore_regs_and_return_to_usermode
 *    (not exported: found through kallsyms) are the 6.1 exit to user mode.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": upcall: " fmt

#include <linux/binfmts.h>
#include <linux/kprobes.h>
#include <linux/magic.h>
#include <linux/module.h>
#include <linux/objtool.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/resume_user_mode.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/task_work.h>
#include <linux/vmalloc.h>

#include "upcall.h"

void keel_uc_park(unsigned long *s1_sp, struct pt_regs *regs, void *exit_fn, void *ret_fn);
/* Never returns; not declared so, for objtool, which cannot know. */
void keel_uc_resume(unsigned long s1_sp);

/*
 * The two stack switches, in assembly (here rather than in a .S file
 * because the build copies only the C files of kmod/).
 *
 * keel_uc_park(&s1_sp, regs, exit_fn, ret_fn), IRQs off, current->stack
 * and this CPU's cpu_current_top_of_stack already naming the second stack:
 * pushes the callee-saved registers on the first stack, saves its stack
 * pointer, moves to the second stack, where @regs (the filter's user frame)
 * sits at the top, and leaves for user mode as the kernel's own exit does:
 * exit_fn(regs) (irqentry_exit_to_user_mode: signals, rescheduling, FPU
 * restore; returns with IRQs off), then ret_fn
 * (swapgs_restore_regs_and_return_to_usermode: pops @regs, user CR3, IRET).
 * It "returns" only when keel_uc_resume(s1_sp) switches back.
 *
 * keel_uc_resume(s1_sp), IRQs off, current->stack and the top of stack
 * already back on the first stack: pops what keel_uc_park pushed and
 * returns to keel_uc_park's caller there.
 *
 * Indirect branches go through the kernel's retpoline thunks and the
 * return through its return thunk, as compiled code does on this kernel
 * (CONFIG_RETPOLINE, CONFIG_RETHUNK).  objtool cannot follow %rsp across
 * stacks: both are excluded from its stack validation below.
 */
asm(".pushsection .text, \"ax\"\n"
    ".globl keel_uc_park\n"
    ".type keel_uc_park, @function\n"
    "keel_uc_park:\n"
    "	pushq %rbp\n"
    "	movq %rsp, %rbp\n"
    "	pushq %rbx\n"
    "	pushq %r12\n"
    "	pushq %r13\n"
    "	pushq %r14\n"
    "	pushq %r15\n"
    "	movq %rsp, (%rdi)\n"
    "	movq %rdx, %r12\n"
    "	movq %rcx, %r13\n"
    "	movq %rsi, %rsp\n"
    "	movq %rsp, %rdi\n"
    "	call __x86_indirect_thunk_r12\n"
    "	jmp __x86_indirect_thunk_r13\n"
    ".size keel_uc_park, .-keel_uc_park\n"
    ".globl keel_uc_resume\n"
    ".type keel_uc_resume, @function\n"
    "keel_uc_resume:\n"
    "	movq %rdi, %rsp\n"
    "	popq %r15\n"
    "	popq %r14\n"
    "	popq %r13\n"
    "	popq %r12\n"
    "	popq %rbx\n"
    "	popq %rbp\n"
    "	jmp __x86_return_thunk\n"
    ".size keel_uc_resume, .-keel_uc_resume\n"
    ".popsection\n");
STACK_FRAME_NON_STANDARD(keel_uc_park);
STACK_FRAME_NON_STANDARD(keel_uc_resume);

static struct {
	unsigned long __percpu *top_of_stack; /* cpu_current_top_of_stack */
	void *exit_to_user;		      /* irqentry_exit_to_user_mode */
	void *return_to_user;		      /* swapgs_restore_regs_and_return_to_usermode */
	void (*do_exit)(long code);
	bool *kprobes_all_disarmed; /* debugfs kprobes/enabled = 0 */
} uc_sym;

static struct kprobe uc_kp_exit, uc_kp_exec;

/* Second stacks kept for reuse: vmalloc+vfree per upcall is slow. */
#define UC_STACK_CACHE 32
static DEFINE_SPINLOCK(uc_cache_lock);
static void *uc_cache[UC_STACK_CACHE];
static unsigned int uc_ncache;
static atomic_long_t uc_stacks_leaked;
static atomic_long_t uc_stacks; /* allocated and not in the cache */

static unsigned long uc_top(void *stack)
{
	return (unsigned long)stack + THREAD_SIZE;
}

/* The upcall of a second stack: kept in its lowest words, above the magic. */
static struct keel_uc_stack **uc_owner_slot(void *stack)
{
	return (struct keel_uc_stack **)((unsigned long *)stack + 1);
}

/* The innermost upcall of current if it runs on a second stack, or NULL. */
static struct keel_uc_stack *uc_current(void)
{
	struct vm_struct *vm = task_stack_vm_area(current);
	struct keel_uc_stack *st;
	void *stack = READ_ONCE(current->stack);

	if (!vm || stack == vm->addr || (current->flags & PF_KTHREAD))
		return NULL;
	st = *uc_owner_slot(stack);
	return st && st->s2 == stack ? st : NULL;
}

/* True if current runs on one of its second stacks, this very call too. */
bool keel_uc_on_second_stack(void)
{
	struct keel_uc_stack *st = uc_current();

	return st && current_stack_pointer - (unsigned long)st->s2 < THREAD_SIZE;
}

long keel_uc_stacks_in_use(void)
{
	return atomic_long_read(&uc_stacks);
}

/*
 * Without the do_exit kprobe an exit inside a filter would run do_exit on
 * the second stack: no upcall may start while kprobes are switched off.
 */
bool keel_uc_stack_usable(void)
{
	if (!READ_ONCE(*uc_sym.kprobes_all_disarmed) && !kprobe_disabled(&uc_kp_exit) &&
	    !kprobe_disabled(&uc_kp_exec))
		return true;
	pr_warn_ratelimited(
		"upcalls refused: kprobes are disabled (debugfs kprobes/enabled), and exits inside a filter need the one on do_exit\n");
	return false;
}

void *keel_uc_stack_alloc(void)
{
	void *s = NULL;

	spin_lock(&uc_cache_lock);
	if (uc_ncache)
		s = uc_cache[--uc_ncache];
	spin_unlock(&uc_cache_lock);
	if (!s)
		s = vmalloc_node(THREAD_SIZE, numa_node_id());
	if (!s)
		return NULL;
	/*
	 * A stack from the cache held another thread's (maybe another
	 * process's) kernel frames: zero it, as the kernel zeroes the task
	 * stacks it caches, so no stale kernel data sits under a new filter.
	 */
	memset(s, 0, THREAD_SIZE);
	*(unsigned long *)s = STACK_END_MAGIC; /* end_of_stack() */
	atomic_long_inc(&uc_stacks);
	return s;
}

/* Only once no CPU can be on @s: the owner is back on its first stack. */
void keel_uc_stack_free(void *s)
{
	atomic_long_dec(&uc_stacks);
	spin_lock(&uc_cache_lock);
	if (uc_ncache < UC_STACK_CACHE) {
		uc_cache[uc_ncache++] = s;
		s = NULL;
	}
	spin_unlock(&uc_cache_lock);
	vfree(s);
}

/*
 * Run the user frame @uregs (a copy of the submit's, pointed at the
 * filter) on st->s2.  Returns, on the first stack, once the filter's return
 * call or an exit inside the filter has switched back (st->exiting).
 */
void keel_uc_stack_run(struct keel_uc_stack *st, const struct pt_regs *uregs)
{
	struct pt_regs *regs = (struct pt_regs *)uc_top(st->s2) - 1;

	*regs = *uregs;
	st->exiting = false;
	st->oops = false;
	*uc_owner_slot(st->s2) = st;
	local_irq_disable();
	st->s1 = current->stack;
	WRITE_ONCE(current->stack, st->s2);
	this_cpu_write(*uc_sym.top_of_stack, uc_top(st->s2));
	keel_uc_park(&st->s1_sp, regs, uc_sym.exit_to_user, uc_sym.return_to_user);
	/* Back on the first stack, IRQs off: keel_uc_switch_back. */
	local_irq_enable();
	*uc_owner_slot(st->s2) = NULL;
}

/* On st->s2, nothing held: continue the parked submit on the first stack. */
static void uc_switch_back(struct keel_uc_stack *st)
{
	local_irq_disable();
	WRITE_ONCE(current->stack, st->s1);
	this_cpu_write(*uc_sym.top_of_stack, uc_top(st->s1));
	keel_uc_resume(st->s1_sp);
	BUG();
}

/*
 * The return call's task_work, run by the exit path of that very ioctl
 * (exit_to_user_mode_loop -> task_work_run), after ksys_ioctl dropped its
 * file reference.  task_work_run will never get back here: run the works
 * queued before ours (they follow us in the list) as it would have, and
 * ask for another pass of resume_user_mode_work (rseq, memcg throttling)
 * on the way out from the first stack.
 */
static void uc_resume_fn(struct callback_head *cb)
{
	struct keel_uc_stack *st = container_of(cb, struct keel_uc_stack, work);
	struct callback_head *w, *next;

	if (WARN_ON_ONCE(uc_current() != st))
		return;
	for (w = cb->next; w; w = next) {
		next = w->next;
		w->func(w);
		cond_resched();
	}
	set_notify_resume(current);
	uc_switch_back(st);
}

/* KEEL_IOC_UPCALL_RETURN on st->s2: resume the first stack on the way out. */
int keel_uc_stack_return(struct keel_uc_stack *st)
{
	/* This very call must run on st->s2, or it is not ours to return. */
	if (uc_current() != st || current_stack_pointer - (unsigned long)st->s2 >= THREAD_SIZE)
		return -EINVAL;
	init_task_work(&st->work, uc_resume_fn);
	return task_work_add(current, &st->work, TWA_RESUME);
}

/*
 * do_exit() on a second stack would free the task's stack through
 * stack_vm_area while task->stack names another one, and never come back
 * to the parked frames (which hold a file reference).  The kprobe sends it
 * here instead, in do_exit's place with its argument: unwind one level,
 * and let the submit on the first stack fail its request and exit again
 * with @code (keel_uc_exit_later).
 */
static void uc_exit_trap(long code)
{
	struct keel_uc_stack *st = uc_current();

	st->exiting = true;
	st->exit_code = code;
	uc_switch_back(st);
}

static int uc_exit_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct keel_uc_stack *st = uc_current();

	if (!st || (current->flags & PF_EXITING) || in_interrupt())
		return 0;
	if (st->oops) {
		/*
		 * make_task_dead: a kernel bug on the second stack.  Let the
		 * task die where it is, but give the kernel back the stack it
		 * owns so that it frees the right one; the second stacks of
		 * this thread are leaked (never freed, never reused).
		 */
		for (; st; st = *uc_owner_slot(st->s1)) {
			atomic_long_inc(&uc_stacks_leaked);
			if (st->s1 == task_stack_vm_area(current)->addr)
				break;
		}
		WRITE_ONCE(current->stack, task_stack_vm_area(current)->addr);
		return 0;
	}
	regs->ip = (unsigned long)uc_exit_trap;
	return 1;
}

static int uc_oops_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct keel_uc_stack *st = uc_current();

	if (st)
		st->oops = true;
	return 0;
}

static int uc_exec_refused(struct linux_binprm *bprm)
{
	return -EBUSY;
}

/* exec inside a filter: the parked user frame belongs to this program. */
static int uc_exec_pre(struct kprobe *p, struct pt_regs *regs)
{
	if (!uc_current())
		return 0;
	regs->ip = (unsigned long)uc_exec_refused;
	return 1;
}

/* A post handler makes kprobes arm with FTRACE_OPS_FL_IPMODIFY. */
static void uc_post_nop(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}

static struct kprobe uc_kp_exit = {
	.symbol_name = "do_exit",
	.pre_handler = uc_exit_pre,
	.post_handler = uc_post_nop,
};
static struct kprobe uc_kp_oops = {
	.symbol_name = "make_task_dead",
	.pre_handler = uc_oops_pre,
};
static struct kprobe uc_kp_exec = {
	.symbol_name = "begin_new_exec",
	.pre_handler = uc_exec_pre,
	.post_handler = uc_post_nop,
};

static void uc_exit_work_fn(struct callback_head *cb)
{
	struct keel_uc_exit_work *w = container_of(cb, struct keel_uc_exit_work, work);
	long code = w->code;

	kfree(w);
	/*
	 * The reference taken when this work was queued: /dev/keel may have
	 * been closed meanwhile (its final put ran as an earlier task work).
	 * Only the call below is left to run in the module after the put.
	 */
	module_put(THIS_MODULE);
	uc_sym.do_exit(code);
}

/*
 * After an exit inside the filter unwound to this first stack: exit again
 * with the same code once the submit has returned (on its exit path, with
 * nothing held), from whichever stack this is; a further parked level is
 * unwound by the kprobe in turn.
 *
 * A group exit (exit_group, a fatal signal, a core dump) has its code in
 * the signal struct already: a pending-signal flag makes get_signal() end
 * it on the way out, all in the kernel's own code, so the module may be
 * unloaded as soon as the submit's file is put.  Only a thread's own exit
 * (SYS_exit, a seccomp kill of the thread) needs a task work of ours.
 */
void keel_uc_exit_later(long code)
{
	struct keel_uc_exit_work *w;

	if (current->signal->flags & SIGNAL_GROUP_EXIT) {
		set_tsk_thread_flag(current, TIF_SIGPENDING);
		return;
	}
	w = kmalloc(sizeof(*w), GFP_KERNEL);
	if (w) {
		w->code = code;
		init_task_work(&w->work, uc_exit_work_fn);
		__module_get(THIS_MODULE);
		if (!task_work_add(current, &w->work, TWA_RESUME))
			return;
		module_put(THIS_MODULE);
		kfree(w);
	}
	force_sig(SIGKILL);
}

typedef unsigned long (*uc_lookup_fn)(const char *name);
static uc_lookup_fn uc_lookup; /* kallsyms_lookup_name */

static int uc_resolve(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	uc_lookup_fn lookup;
	int ret;

	ret = register_kprobe(&kp);
	if (ret) {
		return keel_uc_unavailable(
			"cannot find kallsyms_lookup_name through a kprobe (%d); the second-stack upcall needs kprobes and kallsyms (docs/upcall.md)",
			ret);
	}
	lookup = (uc_lookup_fn)kp.addr;
	unregister_kprobe(&kp);
	uc_lookup = lookup;

	uc_sym.top_of_stack = (unsigned long __percpu *)lookup("cpu_current_top_of_stack");
	uc_sym.exit_to_user = (void *)lookup("irqentry_exit_to_user_mode");
	uc_sym.return_to_user = (void *)lookup("swapgs_restore_regs_and_return_to_usermode");
	uc_sym.do_exit = (void *)lookup("do_exit");
	uc_sym.kprobes_all_disarmed = (bool *)lookup("kprobes_all_disarmed");
	if (!uc_sym.top_of_stack || !uc_sym.exit_to_user || !uc_sym.return_to_user ||
	    !uc_sym.do_exit || !uc_sym.kprobes_all_disarmed) {
		return keel_uc_unavailable(
			"kernel symbols missing (cpu_current_top_of_stack %s, irqentry_exit_to_user_mode %s, swapgs_restore_regs_and_return_to_usermode %s, do_exit %s, kprobes_all_disarmed %s); this kernel is not the x86_64 Linux 6.1 the second-stack upcall was written for (docs/upcall.md)",
			uc_sym.top_of_stack ? "ok" : "missing",
			uc_sym.exit_to_user ? "ok" : "missing",
			uc_sym.return_to_user ? "ok" : "missing", uc_sym.do_exit ? "ok" : "missing",
			uc_sym.kprobes_all_disarmed ? "ok" : "missing");
	}
	return 0;
}

/* What the switch assumes about the running kernel, checked on ourselves. */
static int uc_check_layout(void)
{
	struct vm_struct *vm = task_stack_vm_area(current);
	unsigned long top;

	preempt_disable();
	top = this_cpu_read(*uc_sym.top_of_stack);
	preempt_enable();
	if (!vm || vm->addr != current->stack || top != uc_top(current->stack) ||
	    (unsigned long)current_pt_regs() != top - sizeof(struct pt_regs) ||
	    *end_of_stack(current) != STACK_END_MAGIC) {
		return keel_uc_unavailable(
			"the kernel stack layout differs from Linux 6.1's (stack %px, vm area %px, cpu_current_top_of_stack %lx, pt_regs %px); the second-stack upcall cannot run here (docs/upcall.md)",
			current->stack, vm ? vm->addr : NULL, top, current_pt_regs());
	}
	return 0;
}

int keel_uc_stack_init(void)
{
	int ret;

	BUILD_BUG_ON(!IS_ENABLED(CONFIG_VMAP_STACK));
	BUILD_BUG_ON(!IS_ENABLED(CONFIG_THREAD_INFO_IN_TASK));
	BUILD_BUG_ON(IS_ENABLED(CONFIG_GCC_PLUGIN_STACKLEAK));
	/* The switch's indirect jumps land on no ENDBR instruction. */
	if (IS_ENABLED(CONFIG_X86_KERNEL_IBT) && cpu_feature_enabled(X86_FEATURE_IBT))
		return keel_uc_unavailable(
			"indirect branch tracking (CET IBT) is on: the second-stack switch's indirect jumps have no ENDBR landing pads (docs/upcall.md)");
	ret = uc_resolve();
	if (ret)
		return ret;
	ret = uc_check_layout();
	if (ret)
		return ret;
	ret = keel_uc_audit_init(uc_lookup);
	if (ret)
		return ret;
	ret = register_kprobe(&uc_kp_exit);
	if (ret)
		goto err;
	ret = register_kprobe(&uc_kp_oops);
	if (ret) {
		unregister_kprobe(&uc_kp_exit);
		goto err;
	}
	ret = register_kprobe(&uc_kp_exec);
	if (ret) {
		unregister_kprobe(&uc_kp_oops);
		unregister_kprobe(&uc_kp_exit);
		goto err;
	}
	return 0;
err:
	return keel_uc_unavailable(
		"cannot place the kprobes on do_exit, make_task_dead and begin_new_exec (%d) that keep exits and exec inside a filter off the second stack (docs/upcall.md)",
		ret);
}

void keel_uc_stack_exit(void)
{
	unregister_kprobe(&uc_kp_exec);
	unregister_kprobe(&uc_kp_oops);
	unregister_kprobe(&uc_kp_exit);
	while (uc_ncache)
		vfree(uc_cache[--uc_ncache]);
	if (atomic_long_read(&uc_stacks_leaked))
		pr_warn("%ld second stacks leaked by threads that oopsed inside a filter\n",
			atomic_long_read(&uc_stacks_leaked));
}
