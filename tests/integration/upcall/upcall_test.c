// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scenarios for tests/integration/test_upcall.sh: upcalls from keel.ko into
 * user-space I/O filters.  Each scenario exits 0 when every expectation
 * holds and prints what it saw otherwise.
 *
 *   upcall_test SCENARIO [ARGS]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keel/upcall.h"

static int failures;

#define EXPECT(cond, ...)                                                                   \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: expected %s: ", __func__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                       \
			fputc('\n', stderr);                                                \
			failures++;                                                         \
		}                                                                           \
	} while (0)

static long param(const char *name)
{
	char path[256], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/keel/parameters/%s", name);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fclose(f);
	return strtol(buf, NULL, 10);
}

static void setup(void)
{
	int ret = keel_upcall_open();

	if (ret) {
		fprintf(stderr, "cannot open /dev/keel: %s\n", strerror(-ret));
		exit(2);
	}
}

static int must_register(keel_filter_fn fn, void *arg, unsigned int slots)
{
	int id = keel_upcall_register(fn, arg, slots, 0);

	if (id < 0) {
		fprintf(stderr, "cannot register a filter: %s\n", strerror(-id));
		exit(2);
	}
	return id;
}

static void read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = read(fd, buf + got, len - got)) > 0)
		got += n;
	buf[got] = 0;
}

/* ---- basic verdicts: allow, refuse, rewrite, read ---- */

static const char rewritten[] = "REWRITTEN";

static int f_verdicts(struct keel_io_req *req, void *arg)
{
	char first;

	(void)arg;
	if (req->op == KEEL_IO_READ)
		return KEEL_FILTER_ALLOW;
	first = *(char *)(uintptr_t)req->buf;
	if (first == 'r') {
		req->error = EACCES;
		return KEEL_FILTER_REFUSE;
	}
	if (first == 'w') {
		req->buf = (uintptr_t)rewritten;
		req->len = sizeof(rewritten) - 1;
		return KEEL_FILTER_REWRITE;
	}
	if (first == 'x')
		return 77;
	return KEEL_FILTER_ALLOW;
}

static int s_basic(void)
{
	int p[2], id;
	char buf[64];
	ssize_t n;

	setup();
	id = must_register(f_verdicts, NULL, 4);
	if (pipe(p))
		return 2;
	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], "allowed", 7, -1);
	EXPECT(n == 7, "allow returned %zd", n);
	read_all(p[0], buf, 7);
	EXPECT(!strcmp(buf, "allowed"), "pipe got '%s'", buf);

	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], "refused", 7, -1);
	EXPECT(n == -EACCES, "refuse returned %zd", n);

	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], "write me", 8, -1);
	EXPECT(n == (ssize_t)sizeof(rewritten) - 1, "rewrite returned %zd", n);
	read_all(p[0], buf, sizeof(rewritten) - 1);
	EXPECT(!strcmp(buf, rewritten), "pipe got '%s'", buf);

	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], "x", 1, -1);
	EXPECT(n == -EPROTO, "unknown verdict returned %zd", n);

	if (write(p[1], "readable", 8) != 8)
		return 2;
	memset(buf, 0, sizeof(buf));
	n = keel_filter_submit(id, KEEL_IO_READ, p[0], buf, 8, -1);
	EXPECT(n == 8 && !strcmp(buf, "readable"), "read returned %zd '%s'", n, buf);

	n = keel_filter_submit(id, KEEL_IO_WRITE, p[0], "a", 1, -1);
	EXPECT(n == -EBADF, "write to the read end returned %zd", n);
	return 0;
}

/* ---- errors before any upcall ---- */

static int s_errors(void)
{
	struct keel_upcall_return r = { 0 };
	struct keel_io_req req = { .op = KEEL_IO_WRITE, .fd = 1 };
	int fd, id;

	setup();
	fd = keel_upcall_fd();
	id = must_register(f_verdicts, NULL, 1);
	EXPECT(keel_filter_submit(id + 5, KEEL_IO_WRITE, 1, "a", 1, -1) == -ENOENT,
	       "unknown filter");
	EXPECT(keel_filter_submit(id, 9, 1, "a", 1, -1) == -EINVAL, "bad op");
	EXPECT(keel_filter_submit(id, KEEL_IO_WRITE, 1, "a", 1, -7) == -EINVAL, "bad offset");
	EXPECT(keel_filter_submit(id, KEEL_IO_WRITE, 1, "a", 1 << 30, -1) == -EINVAL,
	       "len above upcall_max_io_bytes");
	req.filter = id;
	req.flags = 1;
	EXPECT(ioctl(fd, KEEL_IOC_FILTER_SUBMIT, &req) < 0 && errno == EINVAL, "flags: %s",
	       strerror(errno));
	EXPECT(ioctl(fd, KEEL_IOC_UPCALL_RETURN, &r) < 0 && errno == EINVAL,
	       "return without an upcall: %s", strerror(errno));
	EXPECT(ioctl(fd, _IO(KEEL_IOC_MAGIC, 0x2f)) < 0 && errno == ENOTTY, "unknown ioctl: %s",
	       strerror(errno));
	return 0;
}

/* ---- system calls inside the filter; caller's registers survive ---- */

static int sys_pipe_w = -1;
static const char *sys_path;

static int f_syscalls(struct keel_io_req *req, void *arg)
{
	char buf[256];
	ssize_t n;
	int fd;

	(void)arg;
	fd = open(sys_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return req->error = errno, KEEL_FILTER_REFUSE;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || write(sys_pipe_w, buf, n) != n)
		return req->error = EIO, KEEL_FILTER_REFUSE;
	/* Scribble over the callee-saved registers the caller relies on. */
	__asm__ volatile("mov $1, %%rbx\n\tmov $2, %%r12\n\tmov $3, %%r13\n\t"
			 "mov $4, %%r14\n\tmov $5, %%r15\n\tmov $6, %%rbp"
			 :
			 :
			 : "rbx", "r12", "r13", "r14", "r15", "memory");
	return KEEL_FILTER_ALLOW;
}

/*
 * A raw submit with known values in the callee-saved registers (rbp is
 * left out: it may be the frame pointer).  Results go to globals, which
 * are addressed without the stack pointer.
 */
static unsigned long raw_regs[5];

static long raw_submit(int fd, struct keel_io_req *req, unsigned long *bad)
{
	long ret;

	__asm__ volatile("mov $0x1111, %%rbx\n\tmov $0x1212, %%r12\n\t"
			 "mov $0x1313, %%r13\n\tmov $0x1414, %%r14\n\t"
			 "mov $0x1515, %%r15\n\t"
			 "syscall\n\t"
			 "mov %%rbx, %1\n\tmov %%r12, %2\n\tmov %%r13, %3\n\t"
			 "mov %%r14, %4\n\tmov %%r15, %5"
			 : "=a"(ret), "=m"(raw_regs[0]), "=m"(raw_regs[1]), "=m"(raw_regs[2]),
			   "=m"(raw_regs[3]), "=m"(raw_regs[4])
			 : "0"((long)__NR_ioctl), "D"((long)fd), "S"((long)KEEL_IOC_FILTER_SUBMIT),
			   "d"(req)
			 : "rcx", "r11", "rbx", "r12", "r13", "r14", "r15", "memory", "cc");
	*bad = (raw_regs[0] != 0x1111) + (raw_regs[1] != 0x1212) + (raw_regs[2] != 0x1313) +
	       (raw_regs[3] != 0x1414) + (raw_regs[4] != 0x1515);
	return ret;
}

static int s_syscalls(const char *path)
{
	struct keel_io_req req = { .op = KEEL_IO_WRITE, .off = -1 };
	char want[256] = "", got[256] = "", data[16];
	unsigned long bad;
	int p[2], q[2], id, fd;
	ssize_t n;
	long ret;

	setup();
	sys_path = path;
	id = must_register(f_syscalls, NULL, 2);
	if (pipe(p) || pipe(q))
		return 2;
	sys_pipe_w = p[1];
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, want, sizeof(want) - 1);
	if (n <= 0)
		return 2;
	close(fd);

	n = keel_filter_submit(id, KEEL_IO_WRITE, q[1], "payload", 7, -1);
	EXPECT(n == 7, "submit returned %zd", n);
	read_all(p[0], got, strlen(want));
	EXPECT(!strcmp(got, want), "filter wrote '%s', file has '%s'", got, want);
	read_all(q[0], data, 7);
	EXPECT(!strcmp(data, "payload"), "request wrote '%s'", data);

	req.filter = id;
	req.fd = q[1];
	req.buf = (uintptr_t) "regs";
	req.len = 4;
	ret = raw_submit(keel_upcall_fd(), &req, &bad);
	EXPECT(ret == 4, "raw submit returned %ld", ret);
	EXPECT(bad == 0, "%lu callee-saved registers changed across the upcall", bad);
	read_all(p[0], got, strlen(want));
	read_all(q[0], data, 4);
	EXPECT(!strcmp(data, "regs"), "request wrote '%s'", data);
	return 0;
}

/* ---- nesting: a filter that submits through itself ---- */

static int nest_pipe = -1;
static unsigned int nest_max_seen;
static int nest_last_error;

static int f_nest(struct keel_io_req *req, void *arg)
{
	unsigned int id = *(unsigned int *)arg;
	ssize_t n;

	if (req->depth + 1 > nest_max_seen)
		nest_max_seen = req->depth + 1;
	if (keel_upcall_depth() != req->depth + 1)
		return req->error = EDOM, KEEL_FILTER_REFUSE;
	n = keel_filter_submit(id, KEEL_IO_WRITE, nest_pipe, "n", 1, -1);
	if (n < 0 && n != -ELOOP)
		return req->error = (int)-n, KEEL_FILTER_REFUSE;
	if (n == -ELOOP)
		nest_last_error = ELOOP;
	return KEEL_FILTER_ALLOW;
}

static int s_nested(unsigned int max_depth)
{
	static unsigned int id;
	char buf[128];
	int p[2];
	ssize_t n;

	setup();
	id = must_register(f_nest, &id, 2);
	if (pipe2(p, O_NONBLOCK))
		return 2;
	nest_pipe = p[1];
	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], "t", 1, -1);
	EXPECT(n == 1, "outer submit returned %zd", n);
	EXPECT(nest_max_seen == max_depth, "deepest upcall %u, limit %u", nest_max_seen, max_depth);
	EXPECT(nest_last_error == ELOOP, "the innermost submit did not get ELOOP");
	/* Every level's write completed once its filter returned. */
	read_all(p[0], buf, max_depth);
	EXPECT(strlen(buf) == max_depth, "%zu writes for %u levels", strlen(buf), max_depth);
	EXPECT(keel_upcall_depth() == 0, "depth %u after", keel_upcall_depth());
	EXPECT(param("upcall_frames") == 0, "frames left: %ld", param("upcall_frames"));
	return 0;
}

/* ---- death inside the filter: kill -9, SIGSEGV, _exit ---- */

/* An address the compiler cannot see is invalid, so the store is emitted. */
static volatile uintptr_t bad_addr = 8;

static int death_pipe = -1;
static int death_mode;

static int f_death(struct keel_io_req *req, void *arg)
{
	(void)req;
	(void)arg;
	if (write(death_pipe, "i", 1) != 1)
		_exit(9);
	switch (death_mode) {
	case 0:
		for (;;)
			pause();
	case 1:
		*(volatile int *)bad_addr = 1; /* SIGSEGV */
		break;
	case 2:
		_exit(3);
	}
	return KEEL_FILTER_ALLOW;
}

static int wait_frames(long want)
{
	int i;

	for (i = 0; i < 100 && param("upcall_frames") != want; i++)
		usleep(20000);
	return param("upcall_frames") == want;
}

static int s_death(int mode)
{
	long frames0 = param("upcall_frames"), disc0 = param("upcall_discarded");
	int p[2], st, null;
	pid_t pid;
	char c;

	if (pipe(p))
		return 2;
	pid = fork();
	if (pid == 0) {
		setup();
		death_pipe = p[1];
		death_mode = mode;
		null = open("/dev/null", O_WRONLY);
		keel_filter_submit(must_register(f_death, NULL, 1), KEEL_IO_WRITE, null, "z", 1,
				   -1);
		_exit(8); /* the submit must never return */
	}
	close(p[1]);
	EXPECT(read(p[0], &c, 1) == 1, "the child never reached its filter");
	if (mode == 0) {
		EXPECT(param("upcall_frames") == frames0 + 1, "frames in progress %ld",
		       param("upcall_frames"));
		kill(pid, SIGKILL);
	}
	waitpid(pid, &st, 0);
	switch (mode) {
	case 0:
		EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
		break;
	case 1:
		EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x", st);
		break;
	case 2:
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %#x", st);
		break;
	}
	EXPECT(wait_frames(frames0), "frames in progress %ld, before %ld", param("upcall_frames"),
	       frames0);
	EXPECT(param("upcall_discarded") == disc0 + 1, "discarded %ld -> %ld", disc0,
	       param("upcall_discarded"));
	return 0;
}

/* ---- the fault guard: SIGSEGV in the filter fails only the request ---- */

static int f_crash(struct keel_io_req *req, void *arg)
{
	(void)arg;
	if (*(char *)(uintptr_t)req->buf == 'c')
		*(volatile int *)bad_addr = 1;
	return KEEL_FILTER_ALLOW;
}

static int s_guard(void)
{
	long aborts0 = param("upcall_aborts");
	int id, null, i;
	ssize_t n;

	setup();
	if (keel_upcall_guard_faults())
		return 2;
	id = must_register(f_crash, NULL, 2);
	null = open("/dev/null", O_WRONLY);
	for (i = 0; i < 3; i++) {
		n = keel_filter_submit(id, KEEL_IO_WRITE, null, "crash", 5, -1);
		EXPECT(n == -ECANCELED, "crashing filter: submit returned %zd", n);
		n = keel_filter_submit(id, KEEL_IO_WRITE, null, "fine", 4, -1);
		EXPECT(n == 4, "next submit returned %zd", n);
	}
	EXPECT(param("upcall_aborts") == aborts0 + 3, "aborts %ld -> %ld", aborts0,
	       param("upcall_aborts"));
	EXPECT(keel_upcall_depth() == 0, "depth %u", keel_upcall_depth());
	return 0;
}

/* ---- slots: a second thread finds the only slot busy ---- */

static int slot_in, slot_go;

static int f_hold(struct keel_io_req *req, void *arg)
{
	char c;

	(void)arg;
	if (*(char *)(uintptr_t)req->buf != 'h')
		return KEEL_FILTER_ALLOW;
	if (write(slot_in, "h", 1) != 1 || read(slot_go, &c, 1) != 1)
		return KEEL_FILTER_ABORT;
	return KEEL_FILTER_ALLOW;
}

static void *t_hold(void *arg)
{
	int null = open("/dev/null", O_WRONLY);

	return (void *)(intptr_t)keel_filter_submit(*(int *)arg, KEEL_IO_WRITE, null, "h", 1, -1);
}

static int s_slots(void)
{
	int id, a[2], b[2], null;
	pthread_t th;
	void *res;
	char c;

	setup();
	id = must_register(f_hold, NULL, 1);
	if (pipe(a) || pipe(b))
		return 2;
	slot_in = a[1];
	slot_go = b[0];
	pthread_create(&th, NULL, t_hold, &id);
	EXPECT(read(a[0], &c, 1) == 1, "holder never reached its filter");
	null = open("/dev/null", O_WRONLY);
	EXPECT(keel_filter_submit(id, KEEL_IO_WRITE, null, "x", 1, -1) == -EBUSY,
	       "second thread was not refused with EBUSY");
	if (write(b[1], "g", 1) != 1)
		return 2;
	pthread_join(th, &res);
	EXPECT((intptr_t)res == 1, "holder's submit returned %ld", (long)(intptr_t)res);
	EXPECT(keel_filter_submit(id, KEEL_IO_WRITE, null, "x", 1, -1) == 1, "slot free again");
	return 0;
}

/* ---- many threads ---- */

struct thr {
	int id, fd, n;
	long bad;
	pthread_t th;
};

static int f_tag(struct keel_io_req *req, void *arg)
{
	(void)arg;
	/* The request reached the filter of the thread that submitted it. */
	if (*(int *)(uintptr_t)req->buf != (int)gettid())
		return req->error = ESRCH, KEEL_FILTER_REFUSE;
	return KEEL_FILTER_ALLOW;
}

static void *t_many(void *arg)
{
	struct thr *t = arg;
	int tid = gettid(), i;

	for (i = 0; i < t->n; i++)
		if (keel_filter_submit(t->id, KEEL_IO_WRITE, t->fd, &tid, sizeof(tid), -1) !=
		    sizeof(tid))
			t->bad++;
	return NULL;
}

static int s_threads(int nthreads, int each)
{
	struct thr *t = calloc(nthreads, sizeof(*t));
	long before = param("upcalls");
	int id, i, null;

	setup();
	id = must_register(f_tag, NULL, nthreads);
	null = open("/dev/null", O_WRONLY);
	for (i = 0; i < nthreads; i++) {
		t[i] = (struct thr){ .id = id, .fd = null, .n = each };
		pthread_create(&t[i].th, NULL, t_many, &t[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(t[i].th, NULL);
		EXPECT(t[i].bad == 0, "thread %d: %ld failed submits", i, t[i].bad);
	}
	EXPECT(param("upcalls") - before == (long)nthreads * each, "%ld upcalls",
	       param("upcalls") - before);
	EXPECT(param("upcall_frames") == 0, "frames left %ld", param("upcall_frames"));
	return 0;
}

/* ---- a long loop, for leaks and the rate ---- */

static int f_allow(struct keel_io_req *req, void *arg)
{
	(void)req;
	(void)arg;
	return KEEL_FILTER_ALLOW;
}

static int s_loop(long n)
{
	struct timespec a, b;
	char data[16] = "0123456789abcde";
	long i, bad = 0;
	double s;
	int id, null;

	setup();
	id = must_register(f_allow, NULL, 1);
	null = open("/dev/null", O_WRONLY);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		if (keel_filter_submit(id, KEEL_IO_WRITE, null, data, 16, -1) != 16)
			bad++;
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%ld upcalls in %.2f s: %.0f upcalls/s, %.2f us each\n", n, s, n / s, s * 1e6 / n);
	EXPECT(bad == 0, "%ld submits failed", bad);
	return 0;
}

/* ---- handler-thread mode (the comparison peer) ---- */

static void *t_handler(void *arg)
{
	int id = *(int *)arg, i;

	for (i = 0; i < 3; i++)
		if (keel_filter_serve(id, f_verdicts, NULL) < 0)
			break;
	return NULL;
}

static int s_handler(void)
{
	static int id;
	pthread_t th;
	char buf[32];
	int p[2];
	ssize_t n;

	setup();
	id = keel_upcall_register_handler();
	if (id < 0 || pipe(p))
		return 2;
	pthread_create(&th, NULL, t_handler, &id);
	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], "allowed", 7, -1);
	EXPECT(n == 7, "allow returned %zd", n);
	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], "refused", 7, -1);
	EXPECT(n == -EACCES, "refuse returned %zd", n);
	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], "write", 5, -1);
	EXPECT(n == (ssize_t)sizeof(rewritten) - 1, "rewrite returned %zd", n);
	pthread_join(th, NULL);
	read_all(p[0], buf, 7 + sizeof(rewritten) - 1);
	EXPECT(!strcmp(buf, "allowedREWRITTEN"), "pipe got '%s'", buf);
	return 0;
}

/*
 * A handler in another process (it got the descriptor by fork or
 * SCM_RIGHTS) may not rewrite the submitter's request to another buffer
 * or descriptor of the submitter: only narrow it to part of its buffer.
 */
static const char foreign_secret[] = "SECRET-of-the-submitter";

static int foreign_answer(int fd, int id, __u64 buf, __u32 len)
{
	struct keel_filter_msg m = { .filter = id };

	if (ioctl(fd, KEEL_IOC_FILTER_RECV, &m))
		return -errno;
	m.verdict = KEEL_FILTER_REWRITE;
	m.req.buf = buf;
	m.req.len = len;
	return ioctl(fd, KEEL_IOC_FILTER_ANSWER, &m) ? -errno : 0;
}

static int s_handler_foreign(void)
{
	char buf[64] = "";
	static char pub[] = "public";
	int id, fd, st, p[2];
	pid_t pid;
	ssize_t n;

	setup();
	fd = keel_upcall_fd();
	id = keel_upcall_register_handler();
	if (id < 0 || pipe(p))
		return 2;
	pid = fork();
	if (pid == 0) {
		int a = foreign_answer(fd, id, (uintptr_t)foreign_secret,
				       sizeof(foreign_secret) - 1);
		int b = foreign_answer(fd, id, (uintptr_t)pub + 1, 3);

		_exit((a == -EPERM ? 0 : 1) | (b == 0 ? 0 : 2));
	}
	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], pub, 6, -1);
	EXPECT(n == -EPERM,
	       "a foreign handler's rewrite to the submitter's secret: submit returned %zd", n);
	n = keel_filter_submit(id, KEEL_IO_WRITE, p[1], pub, 6, -1);
	EXPECT(n == 3, "a foreign handler's rewrite to part of the buffer: submit returned %zd", n);
	waitpid(pid, &st, 0);
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "foreign handler: status %#x (1: its out-of-buffer rewrite was not refused with EPERM, 2: its narrowing failed)",
	       st);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	EXPECT(n == 3 && !strcmp(buf, "ubl"), "the pipe got '%s' (%zd bytes)", buf, n);
	if (!failures)
		printf("foreign handler: rewrite to another buffer refused (EPERM), narrowing to 3 bytes of the buffer allowed\n");
	return 0;
}

/* A submitter killed while a handler holds its request. */
static int s_handler_kill(void)
{
	struct keel_filter_msg m = { 0 };
	int id, fd, st, p[2];
	pthread_t th;
	pid_t pid;
	char buf[8];

	setup();
	fd = keel_upcall_fd();
	id = keel_upcall_register_handler();
	if (id < 0 || pipe(p))
		return 2;
	pid = fork();
	if (pid == 0) {
		keel_filter_submit(id, KEEL_IO_WRITE, p[1], "k", 1, -1);
		_exit(8); /* never answered: killed first */
	}
	m.filter = id;
	EXPECT(ioctl(fd, KEEL_IOC_FILTER_RECV, &m) == 0, "recv: %s", strerror(errno));
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
	m.verdict = KEEL_FILTER_ALLOW;
	EXPECT(ioctl(fd, KEEL_IOC_FILTER_ANSWER, &m) < 0 && errno == ENOENT,
	       "answer to a killed submitter: %s", strerror(errno));
	/* The mode still works afterwards. */
	pthread_create(&th, NULL, t_handler, &id);
	EXPECT(keel_filter_submit(id, KEEL_IO_WRITE, p[1], "allowed", 7, -1) == 7,
	       "submit after the kill");
	EXPECT(keel_filter_submit(id, KEEL_IO_WRITE, p[1], "allowed", 7, -1) == 7,
	       "submit after the kill");
	EXPECT(keel_filter_submit(id, KEEL_IO_WRITE, p[1], "allowed", 7, -1) == 7,
	       "submit after the kill");
	pthread_join(th, NULL);
	read_all(p[0], buf, 7);
	EXPECT(!strcmp(buf, "allowed"), "pipe got '%s'", buf);
	return 0;
}

/* ---- the second kernel stack: where the filter's system calls run ---- */

static long stack_in_filter = -1;
static int stack_nest, stack_id;

static int f_stack(struct keel_io_req *req, void *arg)
{
	(void)arg;
	/* The submit that runs us is parked: its stack is not the one we use. */
	stack_in_filter = param("upcall_stacks");
	if (stack_nest && req->depth == 0 &&
	    keel_filter_submit(stack_id, KEEL_IO_WRITE, (int)req->fd, "n", 1, -1) != 1)
		return req->error = EIO, KEEL_FILTER_REFUSE;
	return KEEL_FILTER_ALLOW;
}

static int s_stack(void)
{
	long calls0, stacks0 = param("upcall_stacks");
	int id, null = open("/dev/null", O_WRONLY);
	ssize_t n;

	setup();
	id = must_register(f_stack, NULL, 1);
	stack_id = id;
	calls0 = param("upcall_second_stack_calls");
	n = keel_filter_submit(id, KEEL_IO_WRITE, null, "a", 1, -1);
	EXPECT(n == 1, "submit returned %zd", n);
	/* Only the return call ran on the second stack; the submit did not. */
	EXPECT(param("upcall_second_stack_calls") == calls0 + 1,
	       "ioctls on a second stack: %ld -> %ld", calls0, param("upcall_second_stack_calls"));
	EXPECT(stack_in_filter == stacks0 + 1, "second stacks during the filter %ld, before %ld",
	       stack_in_filter, stacks0);

	stack_nest = 1;
	calls0 = param("upcall_second_stack_calls");
	n = keel_filter_submit(id, KEEL_IO_WRITE, null, "a", 1, -1);
	EXPECT(n == 1, "nested submit returned %zd", n);
	/* Outer return, nested submit, nested return: all on second stacks. */
	EXPECT(param("upcall_second_stack_calls") == calls0 + 3,
	       "ioctls on a second stack: %ld -> %ld", calls0, param("upcall_second_stack_calls"));
	EXPECT(param("upcall_stacks") == stacks0, "second stacks after %ld, before %ld",
	       param("upcall_stacks"), stacks0);
	return 0;
}

/*
 * ---- exits that unwind several parked stacks: kill -9 of a thread three
 * levels deep, and exit_group from one thread's filter while three other
 * threads sit in theirs ----
 */

static int deep_pipe = -1, deep_id, deep_exit;

static int f_deep(struct keel_io_req *req, void *arg)
{
	int null = open("/dev/null", O_WRONLY);

	(void)arg;
	if (write(deep_pipe, "i", 1) != 1)
		_exit(9);
	if (req->depth < 2)
		keel_filter_submit(deep_id, KEEL_IO_WRITE, null, "d", 1, -1);
	if (deep_exit && req->depth == 2) {
		usleep(100000);
		syscall(SYS_exit_group, 5);
	}
	for (;;)
		pause();
	return KEEL_FILTER_ALLOW;
}

static void *deep_thread(void *arg)
{
	int null = open("/dev/null", O_WRONLY);

	(void)arg;
	keel_filter_submit(deep_id, KEEL_IO_WRITE, null, "t", 1, -1);
	return NULL;
}

static int s_deep(int group)
{
	long frames0 = param("upcall_frames"), disc0 = param("upcall_discarded");
	long stacks0 = param("upcall_stacks");
	int p[2], st, i, want = group ? 4 * 3 : 3;
	pthread_t th;
	pid_t pid;
	char c;

	if (pipe(p))
		return 2;
	pid = fork();
	if (pid == 0) {
		setup();
		deep_pipe = p[1];
		deep_id = must_register(f_deep, NULL, 8);
		if (group) {
			for (i = 0; i < 3; i++)
				pthread_create(&th, NULL, deep_thread, NULL);
			usleep(300000);
			deep_exit = 1;
		}
		deep_thread(NULL);
		_exit(8);
	}
	close(p[1]);
	for (i = 0; i < want; i++)
		EXPECT(read(p[0], &c, 1) == 1, "only %d of %d levels reached", i, want);
	if (!group) {
		EXPECT(param("upcall_frames") == frames0 + 3, "frames in progress %ld",
		       param("upcall_frames"));
		EXPECT(param("upcall_stacks") == stacks0 + 3, "second stacks %ld",
		       param("upcall_stacks"));
		kill(pid, SIGKILL);
	}
	waitpid(pid, &st, 0);
	if (group)
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 5, "status %#x", st);
	else
		EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
	EXPECT(wait_frames(frames0), "frames in progress %ld, before %ld", param("upcall_frames"),
	       frames0);
	EXPECT(param("upcall_discarded") == disc0 + want, "discarded %ld -> %ld", disc0,
	       param("upcall_discarded"));
	EXPECT(param("upcall_stacks") == stacks0, "second stacks %ld, before %ld",
	       param("upcall_stacks"), stacks0);
	return 0;
}

/* ---- exec inside a filter is refused; fork's child cannot return ---- */

static int exec_errno, fork_status = -1;

static int f_exec(struct keel_io_req *req, void *arg)
{
	char *argv[] = { "true", NULL };
	pid_t pid;

	(void)req;
	if (arg) {
		execv("/bin/true", argv);
		exec_errno = errno;
		return KEEL_FILTER_ALLOW;
	}
	pid = fork();
	if (pid == 0)
		return KEEL_FILTER_ALLOW; /* the child's return call fails */
	if (pid > 0)
		waitpid(pid, &fork_status, 0);
	return KEEL_FILTER_ALLOW;
}

static int s_exec(void)
{
	int null = open("/dev/null", O_WRONLY), id;
	ssize_t n;

	setup();
	id = must_register(f_exec, (void *)1, 1);
	n = keel_filter_submit(id, KEEL_IO_WRITE, null, "a", 1, -1);
	EXPECT(n == 1, "submit around a refused exec returned %zd", n);
	EXPECT(exec_errno == EBUSY, "exec in the filter: %s", strerror(exec_errno));
	id = must_register(f_exec, NULL, 1);
	n = keel_filter_submit(id, KEEL_IO_WRITE, null, "a", 1, -1);
	EXPECT(n == 1, "submit around a fork returned %zd", n);
	EXPECT(WIFSIGNALED(fork_status) && WTERMSIG(fork_status) == SIGABRT,
	       "the forked child's status %#x (expected SIGABRT from the library)", fork_status);
	return 0;
}

/* ---- with kprobes switched off, no upcall may start ---- */

static int s_refused(void)
{
	int null = open("/dev/null", O_WRONLY), id;
	ssize_t n;

	setup();
	id = must_register(f_verdicts, NULL, 1);
	n = keel_filter_submit(id, KEEL_IO_WRITE, null, "a", 1, -1);
	EXPECT(n == -EOPNOTSUPP, "submit returned %zd", n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";
	int ret;

	if (!strcmp(s, "basic"))
		ret = s_basic();
	else if (!strcmp(s, "errors"))
		ret = s_errors();
	else if (!strcmp(s, "syscalls") && argc > 2)
		ret = s_syscalls(argv[2]);
	else if (!strcmp(s, "nested") && argc > 2)
		ret = s_nested(atoi(argv[2]));
	else if (!strcmp(s, "kill"))
		ret = s_death(0);
	else if (!strcmp(s, "segv"))
		ret = s_death(1);
	else if (!strcmp(s, "exit"))
		ret = s_death(2);
	else if (!strcmp(s, "guard"))
		ret = s_guard();
	else if (!strcmp(s, "slots"))
		ret = s_slots();
	else if (!strcmp(s, "threads") && argc > 3)
		ret = s_threads(atoi(argv[2]), atoi(argv[3]));
	else if (!strcmp(s, "loop") && argc > 2)
		ret = s_loop(atol(argv[2]));
	else if (!strcmp(s, "handler"))
		ret = s_handler();
	else if (!strcmp(s, "handler-kill"))
		ret = s_handler_kill();
	else if (!strcmp(s, "handler-foreign"))
		ret = s_handler_foreign();
	else if (!strcmp(s, "stack"))
		ret = s_stack();
	else if (!strcmp(s, "exec"))
		ret = s_exec();
	else if (!strcmp(s, "refused"))
		ret = s_refused();
	else if (!strcmp(s, "kill-deep"))
		ret = s_deep(0);
	else if (!strcmp(s, "exit-group"))
		ret = s_deep(1);
	else {
		fprintf(stderr,
			"usage: upcall_test basic|errors|syscalls FILE|nested DEPTH|kill|segv|exit|guard|slots|threads N EACH|loop N|handler|handler-kill|stack|exec|kill-deep|exit-group|refused\n");
		return 2;
	}
	if (ret)
		return ret;
	return failures ? 1 : 0;
}
