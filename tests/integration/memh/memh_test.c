// SPDX-License-Identifier: GPL-2.0-only
/*
 * memh_test SCENARIO: one scenario of keel.ko's memory handles, driven by
 * tests/integration/test_memh.sh.  Exits 0 when the kernel behaved as
 * documented in include/keel/keel_uapi.h, else prints what differed and
 * exits 1.  Creator and holder are separate processes; the handle goes
 * from one to the other over a Unix socket (SCM_RIGHTS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keel/keel_uapi.h"

#define PG 4096UL
#define FAIL(...)                             \
	do {                                  \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr);          \
		exit(1);                      \
	} while (0)

static int keel_fd = -1;

static int create(void *addr, size_t len, unsigned int prot, unsigned int ptype, unsigned int peer,
		  unsigned int shift, unsigned long long exp)
{
	struct keel_memh_create c = {
		.addr = (uintptr_t)addr,
		.len = len,
		.prot = prot,
		.peer_type = ptype,
		.peer = peer,
		.section_shift = shift,
		.expire_ms = exp,
	};

	if (keel_fd < 0)
		keel_fd = open("/dev/keel", O_RDWR | O_CLOEXEC);
	if (keel_fd < 0)
		FAIL("open /dev/keel: %s", strerror(errno));
	if (ioctl(keel_fd, KEEL_IOC_MEMH_CREATE, &c) < 0)
		return -errno;
	return c.fd;
}

static int create_ok(void *addr, size_t len, unsigned int prot, unsigned int shift)
{
	int fd = create(addr, len, prot, KEEL_MEMH_PEER_ANY, 0, shift, 0);

	if (fd < 0)
		FAIL("create %zu bytes: %s", len, strerror(-fd));
	return fd;
}

static void send_fd(int sock, int fd)
{
	char c = 'h', buf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &c, 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf)
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &m, 0) != 1)
		FAIL("sendmsg: %s", strerror(errno));
}

static int recv_fd(int sock)
{
	char c, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf)
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		FAIL("recvmsg: %s", strerror(errno));
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		FAIL("no fd received");
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* One byte over a socket: a step of a two-process scenario. */
static void step_send(int s, char c)
{
	if (write(s, &c, 1) != 1)
		FAIL("step write: %s", strerror(errno));
}

static char step_wait(int s)
{
	char c;

	if (read(s, &c, 1) != 1)
		FAIL("step read: peer gone");
	return c;
}

static void *map(int fd, size_t len, int prot, off_t off, int *err)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);

	*err = p == MAP_FAILED ? errno : 0;
	return p == MAP_FAILED ? NULL : p;
}

static void *map_ok(int fd, size_t len, int prot, off_t off)
{
	int err;
	void *p = map(fd, len, prot, off, &err);

	if (!p)
		FAIL("mmap %zu bytes at offset %lld: %s", len, (long long)off, strerror(err));
	return p;
}

static void expect_map_errno(const char *what, int fd, size_t len, int prot, int flags, off_t off,
			     int want)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);
	int got = p == MAP_FAILED ? errno : 0;

	if (p != MAP_FAILED)
		munmap(p, len);
	if (got != want)
		FAIL("%s: mmap gave %s, expected %s", what, got ? strerror(got) : "success",
		     strerror(want));
}

static sigjmp_buf jb;
static volatile int last_sig;

static void on_sig(int sig)
{
	last_sig = sig;
	siglongjmp(jb, 1);
}

/* Read one byte at @p; returns the signal it raised (0: none). */
static int probe_read(volatile const char *p, char *out)
{
	struct sigaction sa = { .sa_handler = on_sig };

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	last_sig = 0;
	if (sigsetjmp(jb, 1) == 0)
		*out = *p;
	return last_sig;
}

static void *region(size_t len, char fill)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		FAIL("mmap anonymous %zu: %s", len, strerror(errno));
	for (size_t i = 0; i < len; i += PG)
		memset(p + i, fill + (char)(i / PG), PG);
	return p;
}

static pid_t child(int *sock, void (*fn)(int sock))
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		FAIL("socketpair: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		fn(sv[1]);
		exit(0);
	}
	close(sv[1]);
	*sock = sv[0];
	return pid;
}

static void reap(pid_t pid, const char *who)
{
	int st;

	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("%s failed (status %#x)", who, st);
}

/* --- scenarios ---------------------------------------------------------- */

/* Holder: reads the creator's pattern and writes its own through section 1. */
static void rw_holder(int s)
{
	int fd = recv_fd(s);
	char *p = map_ok(fd, 64 * 1024, PROT_READ | PROT_WRITE, 64 * 1024);

	for (size_t i = 0; i < 16; i++)
		if (p[i * PG] != (char)('a' + 16 + i))
			FAIL("holder read %d at page %zu, expected %d", p[i * PG], i,
			     'a' + 16 + (int)i);
	memset(p, 'Z', 3 * PG);
	munmap(p, 64 * 1024);
	step_send(s, 'd');
}

static void sc_rw(void)
{
	char *buf = region(256 * 1024, 'a');
	int s, fd = create_ok(buf, 256 * 1024, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 16);
	pid_t pid = child(&s, rw_holder);

	send_fd(s, fd);
	step_wait(s);
	reap(pid, "holder");
	for (size_t i = 0; i < 3 * PG; i++)
		if (buf[64 * 1024 + i] != 'Z')
			FAIL("creator sees %d at %zu, expected the holder's 'Z'",
			     buf[64 * 1024 + i], i);
	if (buf[64 * 1024 + 3 * PG] != (char)('a' + 19))
		FAIL("holder wrote beyond what it wrote");
}

static void sc_readonly(void)
{
	char *buf = region(64 * 1024, 'a');
	int fd = create_ok(buf, 64 * 1024, KEEL_MEMH_READ, 16);
	pid_t pid = fork();

	if (pid == 0) {
		char *p;

		expect_map_errno("PROT_WRITE on a read-only handle", fd, PG, PROT_READ | PROT_WRITE,
				 MAP_SHARED, 0, EACCES);
		p = map_ok(fd, PG, PROT_READ, 0);
		if (p[0] != 'a')
			FAIL("read through read-only handle gave %d", p[0]);
		if (mprotect(p, PG, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
			FAIL("mprotect to write a read-only handle: %s", strerror(errno));
		exit(0);
	}
	reap(pid, "read-only holder");
}

static void sc_range(void)
{
	char *buf = region(192 * 1024, 'a');
	int fd = create_ok(buf, 160 * 1024, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 16);
	pid_t pid = fork();

	if (pid == 0) {
		int rw = PROT_READ | PROT_WRITE;

		expect_map_errno("section 3 of a 160 KiB handle (64 KiB sections)", fd, PG, rw,
				 MAP_SHARED, 3 * 65536, ENXIO);
		expect_map_errno("offset inside a section", fd, PG, rw, MAP_SHARED, PG, EINVAL);
		expect_map_errno("length beyond a section", fd, 128 * 1024, rw, MAP_SHARED, 0,
				 EINVAL);
		expect_map_errno("length beyond the range's end", fd, 64 * 1024, rw, MAP_SHARED,
				 2 * 65536, EINVAL);
		expect_map_errno("MAP_PRIVATE", fd, PG, rw, MAP_PRIVATE, 0, EINVAL);
		expect_map_errno("the short last section", fd, 32 * 1024, rw, MAP_SHARED, 2 * 65536,
				 0);
		exit(0);
	}
	reap(pid, "range holder");
}

static void sc_create_errors(void)
{
	char *buf = region(64 * 1024, 'a');
	struct keel_memh_create c = { .addr = (uintptr_t)buf, .len = PG, .prot = 1, .flags = 1 };
	struct {
		const char *what;
		int got, want;
	} t[] = {
		{ "unaligned address", create(buf + 1, PG, 1, 0, 0, 0, 0), -EINVAL },
		{ "unaligned length", create(buf, 100, 1, 0, 0, 0, 0), -EINVAL },
		{ "zero length", create(buf, 0, 1, 0, 0, 0, 0), -EINVAL },
		{ "write-only prot", create(buf, PG, 2, 0, 0, 0, 0), -EINVAL },
		{ "unknown prot bit", create(buf, PG, 5, 0, 0, 0, 0), -EINVAL },
		{ "kernel address", create((void *)0xffff800000000000UL, PG, 1, 0, 0, 0, 0),
		  -EINVAL },
		{ "unknown peer type", create(buf, PG, 1, 9, 0, 0, 0), -EINVAL },
		{ "section smaller than a page", create(buf, PG, 1, 0, 0, 11, 0), -EINVAL },
		{ "section of 2^40 bytes", create(buf, PG, 1, 0, 0, 40, 0), -EINVAL },
		{ "peer pid that does not exist", create(buf, PG, 1, 1, 0x3ffffff, 0, 0), -ESRCH },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].got != t[i].want)
			FAIL("create with %s: got %s, expected %s", t[i].what,
			     t[i].got >= 0 ? "a handle" : strerror(-t[i].got),
			     strerror(-t[i].want));
		if (t[i].got >= 0)
			close(t[i].got);
	}
	if (ioctl(keel_fd, KEEL_IOC_MEMH_CREATE, &c) == 0 || errno != EINVAL)
		FAIL("create with flags=1: %s", strerror(errno));
	if (ioctl(keel_fd, _IO(KEEL_IOC_MAGIC, 0x7f), 0) == 0 || errno != ENOTTY)
		FAIL("unknown ioctl on /dev/keel: %s", strerror(errno));
	if (ioctl(create_ok(buf, PG, 1, 0), _IO(KEEL_IOC_MAGIC, 0x7f), 0) == 0 || errno != ENOTTY)
		FAIL("unknown ioctl on a handle: %s", strerror(errno));
}

static void sc_uid(void)
{
	char *buf = region(64 * 1024, 'a');
	int fd_root = create(buf, 64 * 1024, KEEL_MEMH_READ, KEEL_MEMH_PEER_UID, 0, 16, 0);
	int fd_nobody = create(buf, 64 * 1024, KEEL_MEMH_READ, KEEL_MEMH_PEER_UID, 65534, 16, 0);
	pid_t pid;

	if (fd_root < 0 || fd_nobody < 0)
		FAIL("create for a uid: %s", strerror(-(fd_root < 0 ? fd_root : fd_nobody)));
	pid = fork();
	if (pid == 0) {
		char *p;

		if (setresuid(65534, 65534, 65534) < 0)
			FAIL("setresuid: %s", strerror(errno));
		expect_map_errno("uid 65534 on a handle for uid 0", fd_root, PG, PROT_READ,
				 MAP_SHARED, 0, EPERM);
		p = map_ok(fd_nobody, PG, PROT_READ, 0);
		if (p[0] != 'a')
			FAIL("uid 65534 read %d", p[0]);
		exit(0);
	}
	reap(pid, "uid holder");
}

static void pid_holder(int s)
{
	int fd = recv_fd(s);
	char *p = map_ok(fd, PG, PROT_READ, 0);

	if (p[0] != 'a')
		FAIL("permitted pid read %d", p[0]);
	step_send(s, 'd');
}

static void sc_pid(void)
{
	char *buf = region(64 * 1024, 'a');
	int s, fd;
	pid_t pid = child(&s, pid_holder), other;

	fd = create(buf, 64 * 1024, KEEL_MEMH_READ, KEEL_MEMH_PEER_PID, pid, 16, 0);
	if (fd < 0)
		FAIL("create for pid %d: %s", pid, strerror(-fd));
	other = fork();
	if (other == 0) {
		expect_map_errno("a process other than the permitted pid", fd, PG, PROT_READ,
				 MAP_SHARED, 0, EPERM);
		exit(0);
	}
	reap(other, "not-permitted process");
	send_fd(s, fd);
	step_wait(s);
	reap(pid, "permitted holder");
	expect_map_errno("the creator mapping its own handle", fd, PG, PROT_READ, MAP_SHARED, 0,
			 EPERM);
	fd = create_ok(buf, 64 * 1024, KEEL_MEMH_READ, 16);
	expect_map_errno("the creator mapping its own any-peer handle", fd, PG, PROT_READ,
			 MAP_SHARED, 0, ELOOP);
}

/* Holder side of expiry and revocation: map, read, then wait and probe. */
static void end_holder(int s)
{
	int fd = recv_fd(s);
	char *p = map_ok(fd, PG, PROT_READ, 0), c;
	int want_errno = (unsigned char)step_wait(s); /* the handle ended */

	if (probe_read(p, &c) != SIGBUS)
		FAIL("access after the end: no SIGBUS (read %d, signal %d)", c, last_sig);
	expect_map_errno("mmap after the end", fd, PG, PROT_READ, MAP_SHARED, 0, want_errno);
	step_send(s, 'd');
}

static void sc_expire(void)
{
	char *buf = region(64 * 1024, 'a');
	int s, fd = create(buf, 64 * 1024, KEEL_MEMH_READ, 0, 0, 16, 300);
	pid_t pid = child(&s, end_holder);
	struct keel_memh_info info;

	if (fd < 0)
		FAIL("create with expiry: %s", strerror(-fd));
	send_fd(s, fd);
	usleep(600 * 1000);
	if (ioctl(fd, KEEL_MEMH_IOC_INFO, &info) < 0 || info.state != KEEL_MEMH_EXPIRED)
		FAIL("info after expiry: state %u (%s)", info.state, strerror(errno));
	step_send(s, ETIME);
	step_wait(s);
	reap(pid, "holder");
}

static void sc_revoke(void)
{
	char *buf = region(64 * 1024, 'a');
	int s, fd = create_ok(buf, 64 * 1024, KEEL_MEMH_READ, 16);
	pid_t pid = child(&s, end_holder), other;

	send_fd(s, fd);
	other = fork();
	if (other == 0) {
		if (ioctl(fd, KEEL_MEMH_IOC_REVOKE) == 0 || errno != EPERM)
			FAIL("revoke by a non-creator: %s", strerror(errno));
		exit(0);
	}
	reap(other, "non-creator revoke");
	usleep(200 * 1000); /* let the holder map and read */
	if (ioctl(fd, KEEL_MEMH_IOC_REVOKE) < 0)
		FAIL("revoke: %s", strerror(errno));
	if (ioctl(fd, KEEL_MEMH_IOC_REVOKE) < 0)
		FAIL("second revoke: %s", strerror(errno));
	step_send(s, EKEYREVOKED);
	step_wait(s);
	reap(pid, "holder");
}

/* Creator exits while the holder (this process) has the section mapped. */
static void exiting_creator(int s)
{
	char *buf = region(64 * 1024, 'a');

	send_fd(s, create_ok(buf, 64 * 1024, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 16));
	step_wait(s);
	_exit(0);
}

static void sc_exit(void)
{
	int s, fd;
	pid_t pid = child(&s, exiting_creator);
	char *p, c;

	fd = recv_fd(s);
	p = map_ok(fd, 64 * 1024, PROT_READ | PROT_WRITE, 0);
	if (p[PG] != 'b')
		FAIL("read %d before the creator exits", p[PG]);
	step_send(s, 'x');
	reap(pid, "creator");
	if (probe_read(p + PG, &c) != SIGBUS)
		FAIL("access after creator exit: no SIGBUS (read %d)", c);
	expect_map_errno("mmap after creator exit", fd, PG, PROT_READ, MAP_SHARED, 0, ESRCH);
}

/* The creator forks: the holder keeps seeing the creator's (parent's) memory. */
static void fork_holder(int s)
{
	int fd = recv_fd(s);
	char *p = map_ok(fd, 64 * 1024, PROT_READ | PROT_WRITE, 0);

	if (p[0] != 'a')
		FAIL("holder read %d before the fork", p[0]);
	step_send(s, 'm');
	step_wait(s); /* creator forked and wrote */
	if (p[0] != 'P' || p[PG] != 'P')
		FAIL("after the creator's fork the holder reads %c%c, expected the parent's PP",
		     p[0], p[PG]);
	p[2 * PG] = 'H';
	step_send(s, 'w');
	step_wait(s);
}

static void sc_fork_creator(void)
{
	char *buf = region(64 * 1024, 'a');
	int s, fd = create_ok(buf, 64 * 1024, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 16);
	pid_t pid = child(&s, fork_holder), kid;
	int ks[2];

	send_fd(s, fd);
	step_wait(s);
	if (pipe(ks) < 0)
		FAIL("pipe");
	kid = fork();
	if (kid == 0) {
		buf[0] = 'C'; /* the child's own copy */
		buf[PG] = 'C';
		step_wait(ks[0]);
		if (buf[2 * PG] != 'c')
			FAIL("the creator's child sees the holder's write");
		exit(0);
	}
	buf[0] = 'P';
	buf[PG] = 'P';
	step_send(s, 'f');
	step_wait(s);
	if (buf[2 * PG] != 'H')
		FAIL("the holder's write after fork did not reach the creator: %d", buf[2 * PG]);
	step_send(ks[1], 'g');
	reap(kid, "creator's child");
	step_send(s, 'e');
	reap(pid, "holder");
}

/* The holder forks: its child does not inherit the mapping. */
static void sc_fork_holder(void)
{
	int s, fd;
	pid_t pid = child(&s, exiting_creator), kid;
	char *p, c;

	fd = recv_fd(s);
	p = map_ok(fd, 64 * 1024, PROT_READ, 0);
	if (p[0] != 'a')
		FAIL("read %d", p[0]);
	kid = fork();
	if (kid == 0) {
		if (probe_read(p, &c) != SIGSEGV)
			FAIL("the holder's child reads the mapping (signal %d)", last_sig);
		exit(0);
	}
	reap(kid, "holder's child");
	if (p[PG] != 'b')
		FAIL("holder reads %d after its fork", p[PG]);
	step_send(s, 'x');
	reap(pid, "creator");
}

/* MADV_DOFORK must not undo VM_DONTCOPY: the child still gets nothing. */
static void sc_dofork(void)
{
	int s, fd;
	pid_t pid = child(&s, exiting_creator), kid;
	char *p, c;

	fd = recv_fd(s);
	p = map_ok(fd, 64 * 1024, PROT_READ, 0);
	if (p[0] != 'a')
		FAIL("read %d", p[0]);
	if (madvise(p, 64 * 1024, MADV_DOFORK) == 0)
		FAIL("madvise(MADV_DOFORK) on the holder's mapping succeeded");
	if (errno != EINVAL)
		FAIL("madvise(MADV_DOFORK) gave %s, expected EINVAL", strerror(errno));
	kid = fork();
	if (kid == 0) {
		if (probe_read(p, &c) != SIGSEGV)
			FAIL("after MADV_DOFORK the holder's child reads the mapping (signal %d)",
			     last_sig);
		exit(0);
	}
	reap(kid, "holder's child");
	step_send(s, 'x');
	reap(pid, "creator");
	printf("MADV_DOFORK refused with EINVAL; the holder's child has no mapping\n");
}

/* A buffer that crosses sections, copied in section by section. */
static void cross_holder(int s)
{
	int fd = recv_fd(s);
	struct keel_memh_info info;
	size_t ssize, off = 65536 - 100, len = 2 * 65536 + 200, done = 0;

	if (ioctl(fd, KEEL_MEMH_IOC_INFO, &info) < 0)
		FAIL("info: %s", strerror(errno));
	ssize = 1UL << info.section_shift;
	while (done < len) {
		size_t pos = off + done, sec = pos / ssize, in = pos % ssize;
		size_t n = ssize - in < len - done ? ssize - in : len - done;
		size_t mlen = ssize < info.len - sec * ssize ? ssize : info.len - sec * ssize;
		char *p = map_ok(fd, mlen, PROT_READ | PROT_WRITE, sec * ssize);

		for (size_t i = 0; i < n; i++)
			p[in + i] = (char)((done + i) % 251);
		munmap(p, mlen);
		done += n;
	}
	step_send(s, 'd');
}

static void sc_cross(void)
{
	size_t len = 4 * 65536;
	char *buf = region(len, 'a');
	int s, fd = create_ok(buf, len, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 16);
	pid_t pid = child(&s, cross_holder);

	send_fd(s, fd);
	step_wait(s);
	reap(pid, "holder");
	for (size_t i = 0; i < 2 * 65536 + 200; i++)
		if (buf[65536 - 100 + i] != (char)(i % 251))
			FAIL("byte %zu of the crossing buffer is %d", i, buf[65536 - 100 + i]);
	if (buf[65536 - 101] != 'a' + 15 || buf[3 * 65536 + 100] != (char)('a' + 48))
		FAIL("bytes around the crossing buffer changed");
}

/* Threads of the holder fault the same 2 MiB section at once. */
struct thr {
	volatile char *p;
	int id;
	int bad;
};

static void *thr_fn(void *arg)
{
	struct thr *t = arg;

	for (int round = 0; round < 4; round++)
		for (size_t i = 0; i < 512; i++) {
			size_t pg = (i * 7 + t->id * 131 + round) % 512;

			if (t->p[pg * PG + 8] != (char)(pg % 200))
				t->bad++;
		}
	return NULL;
}

static void sc_threads(void)
{
	size_t len = 2UL << 20;
	char *buf = region(len, 0);
	int fd = create_ok(buf, len, KEEL_MEMH_READ, 0);
	pid_t pid;

	for (size_t i = 0; i < 512; i++)
		buf[i * PG + 8] = (char)(i % 200);
	pid = fork();
	if (pid == 0) {
		char *p = map_ok(fd, len, PROT_READ, 0);
		pthread_t th[8];
		struct thr t[8];
		int bad = 0;

		for (int i = 0; i < 8; i++) {
			t[i] = (struct thr){ .p = p, .id = i };
			pthread_create(&th[i], NULL, thr_fn, &t[i]);
		}
		for (int i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			bad += t[i].bad;
		}
		if (bad)
			FAIL("%d wrong bytes read by 8 threads", bad);
		exit(0);
	}
	/*
	 * Meanwhile the creator forks and rewrites the same bytes: each fork
	 * write-protects its pages and each write copies one, so the holder's
	 * PTEs are invalidated under the threads' feet while the content stays.
	 */
	for (int r = 0; r < 40; r++) {
		pid_t kid = fork();

		if (kid == 0)
			_exit(0);
		for (size_t i = (r % 8) * 64UL; i < (r % 8) * 64UL + 64; i++)
			buf[i * PG + 8] = (char)(i % 200);
		waitpid(kid, NULL, 0);
	}
	reap(pid, "threaded holder");
}

static long vm_swap_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSwap: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* Swap-out of the creator's pages (needs active swap; else exit 77). */
static void sc_swap(void)
{
	size_t len = 1UL << 20;
	char *buf = region(len, 's');
	int fd = create_ok(buf, len, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 0);
	pid_t pid = fork();

	if (pid == 0) {
		char *p = map_ok(fd, len, PROT_READ | PROT_WRITE, 0);

		for (size_t i = 0; i < len; i += PG)
			if (p[i] != (char)('s' + i / PG))
				FAIL("before swap-out: page %zu reads %d", i / PG, p[i]);
		exit(0);
	}
	reap(pid, "holder before swap");
	if (madvise(buf, len, MADV_PAGEOUT) < 0)
		FAIL("MADV_PAGEOUT: %s", strerror(errno));
	if (vm_swap_kb() == 0)
		FAIL("MADV_PAGEOUT moved nothing to swap");
	printf("creator VmSwap after MADV_PAGEOUT: %ld kB\n", vm_swap_kb());
	pid = fork();
	if (pid == 0) {
		char *p = map_ok(fd, len, PROT_READ | PROT_WRITE, 0);

		for (size_t i = 0; i < len; i += PG)
			if (p[i] != (char)('s' + i / PG))
				FAIL("after swap-out: page %zu reads %d", i / PG, p[i]);
		p[5 * PG] = '!';
		exit(0);
	}
	reap(pid, "holder after swap");
	if (buf[5 * PG] != '!')
		FAIL("the holder's write after swap-in is lost");
}

/* Many create-map-touch-unmap-close cycles (argument: how many). */
static void sc_cycles(long n)
{
	char *buf = region(4 * 65536, 'a');
	pid_t pid = fork();

	if (pid == 0) {
		for (long i = 0; i < n; i++) {
			int fd = create_ok(buf, 4 * 65536, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 16);
			pid_t k;

			/* A sibling process would cost a fork per cycle; the child maps. */
			k = i % 100 == 0 ? fork() : -1;
			if (k == 0) {
				char *p = map_ok(fd, 65536, PROT_READ | PROT_WRITE, 65536);

				p[0]++;
				_exit(0);
			}
			if (k > 0)
				waitpid(k, NULL, 0);
			close(fd);
		}
		exit(0);
	}
	reap(pid, "cycles");
}

/* Like sc_cycles, but each map happens in a long-lived holder process. */
static void cycle_holder(int s)
{
	for (;;) {
		char c;
		int fd;
		char *p;

		if (read(s, &c, 1) != 1 || c == 'q')
			return;
		fd = recv_fd(s);
		p = map_ok(fd, 65536, PROT_READ | PROT_WRITE, 65536);
		p[0]++;
		p[PG]++;
		munmap(p, 65536);
		close(fd);
		step_send(s, 'd');
	}
}

static void sc_cycles_mapped(long n)
{
	char *buf = region(4 * 65536, 'a');
	int s;
	pid_t pid = child(&s, cycle_holder);

	for (long i = 0; i < n; i++) {
		int fd = create_ok(buf, 4 * 65536, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 16);

		step_send(s, 'n');
		send_fd(s, fd);
		close(fd);
		step_wait(s);
	}
	step_send(s, 'q');
	reap(pid, "holder");
	if (buf[65536] != (char)('a' + 16 + n))
		FAIL("after %ld cycles the creator reads %d", n, buf[65536]);
}

/* Hold a handle until killed (for the module-unload check). */
static void sc_hold(void)
{
	char *buf = region(PG, 'a');

	create_ok(buf, PG, KEEL_MEMH_READ, 0);
	printf("holding\n");
	fflush(stdout);
	pause();
}

static void sc_limit(void)
{
	char *buf = region(PG, 'a');
	FILE *f = fopen("/sys/module/keel/parameters/max_handles_per_process", "r");
	unsigned int max = 0, i;
	struct rlimit lim;
	int fd;

	if (!f || fscanf(f, "%u", &max) != 1)
		FAIL("reading max_handles_per_process");
	fclose(f);
	lim.rlim_cur = lim.rlim_max = max + 64;
	if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
		FAIL("raising RLIMIT_NOFILE to %u: %s", max + 64, strerror(errno));
	for (i = 0; i < max; i++)
		if (create(buf, PG, KEEL_MEMH_READ, 0, 0, 0, 0) < 0)
			FAIL("handle %u of %u refused", i + 1, max);
	fd = create(buf, PG, KEEL_MEMH_READ, 0, 0, 0, 0);
	if (fd != -EDQUOT)
		FAIL("handle %u beyond max_handles_per_process: %s", max + 1,
		     fd >= 0 ? "created" : strerror(-fd));
}

int main(int argc, char **argv)
{
	const char *sc = argc > 1 ? argv[1] : "";
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100;

	setvbuf(stderr, NULL, _IONBF, 0);
	if (!strcmp(sc, "rw"))
		sc_rw();
	else if (!strcmp(sc, "readonly"))
		sc_readonly();
	else if (!strcmp(sc, "range"))
		sc_range();
	else if (!strcmp(sc, "create-errors"))
		sc_create_errors();
	else if (!strcmp(sc, "pid"))
		sc_pid();
	else if (!strcmp(sc, "uid"))
		sc_uid();
	else if (!strcmp(sc, "expire"))
		sc_expire();
	else if (!strcmp(sc, "revoke"))
		sc_revoke();
	else if (!strcmp(sc, "exit"))
		sc_exit();
	else if (!strcmp(sc, "fork-creator"))
		sc_fork_creator();
	else if (!strcmp(sc, "fork-holder"))
		sc_fork_holder();
	else if (!strcmp(sc, "dofork"))
		sc_dofork();
	else if (!strcmp(sc, "cross"))
		sc_cross();
	else if (!strcmp(sc, "threads"))
		sc_threads();
	else if (!strcmp(sc, "swap"))
		sc_swap();
	else if (!strcmp(sc, "cycles"))
		sc_cycles(n);
	else if (!strcmp(sc, "cycles-mapped"))
		sc_cycles_mapped(n);
	else if (!strcmp(sc, "hold"))
		sc_hold();
	else if (!strcmp(sc, "limit"))
		sc_limit();
	else
		FAIL("usage: memh_test SCENARIO [N]");
	return 0;
}
