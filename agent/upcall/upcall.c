// SPDX-License-Identifier: GPL-2.0-only
/*
 * Upcall I/O filters, user side: see include/keel/upcall.h, docs/upcall.md.
 *
 * keel.ko enters a filter at keel__upcall_trampoline with rdi = the request copy,
 * rsi = our registration, rdx = the depth, on a 16-byte aligned slot of the
 * registered stack area.  The trampoline calls keel__upcall_run, which runs the
 * filter and ends the upcall with KEEL_IOC_UPCALL_RETURN; that ioctl does not
 * return when it succeeds (the thread resumes in keel_filter_submit).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "keel/upcall.h"

#define UPCALL_MAX_FILTERS 64
#define ALTSTACK_SIZE	   (64 * 1024)

struct upcall_reg {
	keel_filter_fn fn;
	void *arg;
	void *stack;
	size_t stack_len;
};

static int upcall_fd = -1;
static pthread_mutex_t upcall_lock = PTHREAD_MUTEX_INITIALIZER;
static struct upcall_reg *upcall_regs[UPCALL_MAX_FILTERS];
static volatile int upcall_guard;
static pthread_key_t upcall_alt_key;
/*
 * volatile: the fault handler changes it around a call that, when it works,
 * does not return; without it the compiler may drop the stores.
 */
static __thread volatile unsigned int upcall_tls_depth;
static __thread void *upcall_tls_alt;

void keel__upcall_trampoline(void);
void keel__upcall_run(struct keel_io_req *req, struct upcall_reg *reg, uint64_t depth)
	__attribute__((noreturn, used));

/* No return address: unwinders stop here (.cfi_undefined rip). */
__asm__(".text\n"
	".globl keel__upcall_trampoline\n"
	".hidden keel__upcall_trampoline\n"
	".type keel__upcall_trampoline, @function\n"
	"keel__upcall_trampoline:\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined rip\n"
	"	xorl %ebp, %ebp\n"
	"	andq $-16, %rsp\n"
	"	call keel__upcall_run\n"
	"	ud2\n"
	"	.cfi_endproc\n"
	".size keel__upcall_trampoline, .-keel__upcall_trampoline\n");

__attribute__((visibility("hidden"))) void keel__upcall_run(struct keel_io_req *req,
							    struct upcall_reg *reg, uint64_t depth)
{
	struct keel_upcall_return r = { 0 };

	(void)depth;
	upcall_tls_depth++;
	r.verdict = (uint32_t)reg->fn(req, reg->arg);
	r.error = req->error;
	upcall_tls_depth--;
	ioctl(upcall_fd, KEEL_IOC_UPCALL_RETURN, &r);
	/* Only reached if keel.ko has no upcall of ours to return from. */
	fprintf(stderr,
		"keel upcall: the return call failed: %s; this thread "
		"cannot resume its submit (was the descriptor closed, or the "
		"filter entered by fork?)\n",
		strerror(errno));
	abort();
}

int keel_upcall_open(void)
{
	int fd, ret = 0;

	pthread_mutex_lock(&upcall_lock);
	if (upcall_fd < 0) {
		fd = open("/dev/keel", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			ret = -errno;
		else
			upcall_fd = fd;
	}
	pthread_mutex_unlock(&upcall_lock);
	return ret;
}

int keel_upcall_fd(void)
{
	return upcall_fd;
}

void keel_upcall_close(void)
{
	int i;

	pthread_mutex_lock(&upcall_lock);
	if (upcall_fd >= 0)
		close(upcall_fd);
	upcall_fd = -1;
	for (i = 0; i < UPCALL_MAX_FILTERS; i++) {
		if (!upcall_regs[i])
			continue;
		if (upcall_regs[i]->stack)
			munmap(upcall_regs[i]->stack, upcall_regs[i]->stack_len);
		free(upcall_regs[i]);
		upcall_regs[i] = NULL;
	}
	pthread_mutex_unlock(&upcall_lock);
}

static int upcall_register(struct upcall_reg *reg, uint32_t flags, unsigned int slots,
			   size_t slot_size)
{
	struct keel_upcall_register r = { 0 };
	long page = sysconf(_SC_PAGESIZE);
	unsigned int i;
	int ret;

	ret = keel_upcall_open();
	if (ret)
		return ret;
	r.flags = flags;
	if (!(flags & KEEL_UPCALL_HANDLER)) {
		if (!slots)
			slots = 64;
		if (!slot_size)
			slot_size = 256 * 1024;
		slot_size = (slot_size + page - 1) & ~(size_t)(page - 1);
		if (slot_size < 2 * (size_t)page || slots > 1024)
			return -EINVAL;
		reg->stack_len = slots * slot_size;
		reg->stack = mmap(NULL, reg->stack_len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (reg->stack == MAP_FAILED) {
			reg->stack = NULL;
			return -errno;
		}
		/* A guard page under each slot: an overflow faults. */
		for (i = 0; i < slots; i++)
			mprotect((char *)reg->stack + i * slot_size, page, PROT_NONE);
		r.entry = (uintptr_t)keel__upcall_trampoline;
		r.arg = (uintptr_t)reg;
		r.stack = (uintptr_t)reg->stack;
		r.stack_size = reg->stack_len;
		r.slot_size = slot_size;
	}
	if (ioctl(upcall_fd, KEEL_IOC_UPCALL_REGISTER, &r) < 0) {
		ret = -errno;
		goto err;
	}
	if (r.id >= UPCALL_MAX_FILTERS) {
		ret = -EDQUOT;
		goto err;
	}
	pthread_mutex_lock(&upcall_lock);
	upcall_regs[r.id] = reg;
	pthread_mutex_unlock(&upcall_lock);
	return (int)r.id;
err:
	if (reg->stack)
		munmap(reg->stack, reg->stack_len);
	reg->stack = NULL;
	return ret;
}

int keel_upcall_register(keel_filter_fn fn, void *arg, unsigned int slots, size_t slot_size)
{
	struct upcall_reg *reg;
	int ret;

	if (!fn)
		return -EINVAL;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->fn = fn;
	reg->arg = arg;
	ret = upcall_register(reg, 0, slots, slot_size);
	if (ret < 0)
		free(reg);
	return ret;
}

int keel_upcall_register_handler(void)
{
	struct upcall_reg *reg = calloc(1, sizeof(*reg));
	int ret;

	if (!reg)
		return -ENOMEM;
	ret = upcall_register(reg, KEEL_UPCALL_HANDLER, 0, 0);
	if (ret < 0)
		free(reg);
	return ret;
}

static void upcall_alt_free(void *p)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	sigaltstack(&ss, NULL);
	free(p);
}

/* The fault guard needs a signal stack: the filter's may be what overflowed. */
static void upcall_thread_alt(void)
{
	stack_t ss = { 0 };

	if (!upcall_guard || upcall_tls_alt)
		return;
	ss.ss_sp = malloc(ALTSTACK_SIZE);
	if (!ss.ss_sp)
		return;
	ss.ss_size = ALTSTACK_SIZE;
	if (sigaltstack(&ss, NULL)) {
		free(ss.ss_sp);
		return;
	}
	upcall_tls_alt = ss.ss_sp;
	pthread_setspecific(upcall_alt_key, ss.ss_sp);
}

ssize_t keel_filter_submit(unsigned int filter, unsigned int op, int fd, void *buf, size_t len,
			   int64_t off)
{
	struct keel_io_req req = {
		.op = op,
		.fd = fd,
		.buf = (uintptr_t)buf,
		.len = len,
		.off = off,
		.filter = filter,
	};
	unsigned int mxcsr;
	unsigned short fcw;
	long ret;

	if (upcall_fd < 0)
		return -EBADF;
	upcall_thread_alt();
	/*
	 * The filter ran on this thread: the ABI's callee-saved control
	 * state must look untouched to our caller (general registers are
	 * untouched: the submit returns through its own, parked, kernel frames).
	 */
	__asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fcw));
	ret = ioctl(upcall_fd, KEEL_IOC_FILTER_SUBMIT, &req);
	if (ret < 0)
		ret = -errno;
	__asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(fcw));
	return ret;
}

int keel_filter_serve(unsigned int filter, keel_filter_fn fn, void *arg)
{
	struct keel_filter_msg m = { .filter = filter };

	if (upcall_fd < 0)
		return -EBADF;
	if (ioctl(upcall_fd, KEEL_IOC_FILTER_RECV, &m) < 0)
		return -errno;
	m.req.error = 0;
	m.verdict = (uint32_t)fn(&m.req, arg);
	m.error = m.req.error;
	if (ioctl(upcall_fd, KEEL_IOC_FILTER_ANSWER, &m) < 0)
		return -errno;
	return 0;
}

static void upcall_fault(int sig, siginfo_t *si, void *uc)
{
	struct keel_upcall_return r = { .verdict = KEEL_FILTER_ABORT };
	struct sigaction sa = { .sa_handler = SIG_DFL };

	(void)si;
	(void)uc;
	if (upcall_tls_depth > 0) {
		upcall_tls_depth--;
		/* Resumes the submit with ECANCELED; the signal frame is dropped. */
		ioctl(upcall_fd, KEEL_IOC_UPCALL_RETURN, &r);
		upcall_tls_depth++;
	}
	/* Not in a filter (or no upcall to end): the default action. */
	sigaction(sig, &sa, NULL);
}

int keel_upcall_guard_faults(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	struct sigaction sa = { 0 };
	unsigned int i;

	pthread_mutex_lock(&upcall_lock);
	if (!upcall_guard && pthread_key_create(&upcall_alt_key, upcall_alt_free)) {
		pthread_mutex_unlock(&upcall_lock);
		return -EAGAIN;
	}
	/*
	 * SA_NODEFER and an empty mask: the handler leaves through the return
	 * call, not sigreturn, so it must not change the thread's signal mask.
	 */
	sa.sa_sigaction = upcall_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigaction(sigs[i], &sa, NULL)) {
			pthread_mutex_unlock(&upcall_lock);
			return -errno;
		}
	}
	upcall_guard = 1;
	pthread_mutex_unlock(&upcall_lock);
	return 0;
}

unsigned int keel_upcall_depth(void)
{
	return upcall_tls_depth;
}
