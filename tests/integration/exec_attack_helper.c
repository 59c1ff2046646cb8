// SPDX-License-Identifier: GPL-2.0-only
/*
 * Attempts on trusted files and on other processes that keel's exec rules
 * must judge by what the kernel lets happen, for test_exec_mmap.sh,
 * test_exec_changing.sh and test_exec_native.sh.  Each prints one line
 * saying what happened and exits 0 when the outcome is the one named in
 * its description, 1 otherwise, 2 on bad usage.
 *
 *   mmap-shared-write FILE [nobody]
 *                   open FILE read-only (as root), optionally become uid/gid
 *                   65534, then mmap it MAP_SHARED PROT_READ|PROT_WRITE:
 *                   0 when the kernel refused the mapping
 *   mmap-shared-write FILE rw
 *                   the same from an O_RDWR descriptor: 0 when it was mapped
 *   race OP FILE N  open FILE read-only; a child becomes uid/gid 65534 and
 *                   repeats OP on the descriptor (each attempt must be
 *                   refused by the kernel) while this process maps FILE
 *                   PROT_EXEC N times and runs it N/50 times: 0 when every
 *                   mapping and run succeeded.  OP: fchmod fchown futimes
 *                   (explicit times) fsetxattr-user fsetxattr-security
 *                   fremovecap setacl setflags
 *
 * Native code from no file (test_exec_native.sh); EXPECT is "refused" (0
 * when the kernel said EPERM) or "works" (0 when it worked to the end):
 *   anon-exec mmap|mprotect EXPECT
 *                   anonymous memory with PROT_EXEC (at mmap, or added by
 *                   mprotect after writing code into it); "works" also runs
 *                   the code
 *   personality EXPECT
 *                   personality(READ_IMPLIES_EXEC), then code written into
 *                   memory brk adds to the heap; "works" also runs it
 *   proc-mem-write EXPECT
 *                   open /proc/self/mem O_RDWR and write a variable through it
 *   proc-mem-read   open /proc/self/mem O_RDONLY and read a variable (0: it worked)
 *   ptrace-attach EXPECT
 *                   PTRACE_ATTACH to a child, PTRACE_POKEDATA a variable, detach
 *   traceme EXPECT  a child asks PTRACE_TRACEME of this process
 *   vm-writev EXPECT | vm-readv
 *                   process_vm_writev (readv: 0 when it worked) into a child
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <linux/types.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534)) {
		printf("becoming uid 65534: %s\n", strerrorname_np(errno));
		return -1;
	}
	return 0;
}

static int mmap_shared_write(const char *file, const char *how)
{
	int rw = !strcmp(how, "rw"), nobody = !strcmp(how, "nobody");
	int fd = open(file, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	void *p;

	if (fd < 0) {
		printf("open %s O_RDONLY: %s\n", file, strerrorname_np(errno));
		return 1;
	}
	if (nobody && become_nobody())
		return 1;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		printf("MAP_SHARED PROT_WRITE of a%s descriptor%s: %s\n",
		       rw ? " read-write" : " read-only", nobody ? " as uid 65534" : "",
		       strerrorname_np(errno));
		return !rw ? 0 : 1;
	}
	printf("MAP_SHARED PROT_WRITE of a%s descriptor was allowed\n",
	       rw ? " read-write" : " read-only");
	return rw ? 0 : 1;
}

/* system.posix_acl_access: user::rwx user:1:r-x group::r-x mask::r-x other::r-x */
static int set_acl(int fd)
{
	struct {
		__u32 version;
		struct {
			__u16 tag, perm;
			__u32 id;
		} e[5];
	} acl = { 2,
		  { { 0x01, 7, ~0U },
		    { 0x02, 5, 1 },
		    { 0x04, 5, ~0U },
		    { 0x10, 5, ~0U },
		    { 0x20, 5, ~0U } } };

	return fsetxattr(fd, "system.posix_acl_access", &acl, sizeof(acl), 0);
}

static int set_flags(int fd)
{
	int flags = 0;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags))
		return -1;
	flags |= FS_NODUMP_FL;
	return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

/* One attempt of OP on @fd: -1 with errno when refused (as it must be) */
static int attempt(const char *op, int fd)
{
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };

	if (!strcmp(op, "fchmod"))
		return fchmod(fd, 04777);
	if (!strcmp(op, "fchown"))
		return fchown(fd, 65534, 65534);
	if (!strcmp(op, "futimes"))
		return futimens(fd, ts);
	if (!strcmp(op, "fsetxattr-user"))
		return fsetxattr(fd, "user.keel", "1", 1, 0);
	if (!strcmp(op, "fsetxattr-security"))
		return fsetxattr(fd, "security.keel", "1", 1, 0);
	if (!strcmp(op, "fremovecap"))
		return fremovexattr(fd, "security.capability");
	if (!strcmp(op, "setacl"))
		return set_acl(fd);
	if (!strcmp(op, "setflags"))
		return set_flags(fd);
	errno = EINVAL;
	return 0;
}

/* The refused changes, over and over, until killed; counts in @count */
static void refused_loop(const char *op, int fd, volatile long *count)
{
	if (become_nobody())
		_exit(1);
	for (;;) {
		if (!attempt(op, fd)) {
			printf("%s as uid 65534 was allowed\n", op);
			_exit(1);
		}
		count[0]++;
		if (errno != EPERM && errno != EACCES && errno != ENODATA)
			count[1] = errno;
	}
}

static int run_once(const char *file)
{
	char *argv[] = { (char *)file, NULL };
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (!pid) {
		execv(file, argv);
		_exit(errno == EPERM ? 126 : 127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int race(const char *op, const char *file, long n)
{
	long maps_refused = 0, runs_refused = 0, runs = 0;
	volatile long *count;
	int fd, status;
	pid_t child;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("open %s: %s\n", file, strerrorname_np(errno));
		return 1;
	}
	if (strcmp(op, "fchmod") && strcmp(op, "fchown") && strcmp(op, "futimes") &&
	    strcmp(op, "fsetxattr-user") && strcmp(op, "fsetxattr-security") &&
	    strcmp(op, "fremovecap") && strcmp(op, "setacl") && strcmp(op, "setflags")) {
		fprintf(stderr, "race: unknown OP '%s'\n", op);
		return 2;
	}
	count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (count == MAP_FAILED)
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (!child)
		refused_loop(op, fd, count);
	while (count[0] == 0 && waitpid(child, &status, WNOHANG) == 0)
		usleep(1000); /* until the loop runs */
	for (long i = 0; i < n; i++) {
		int mfd = open(file, O_RDONLY | O_CLOEXEC);
		void *p = MAP_FAILED;

		if (mfd >= 0)
			p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, mfd, 0);
		if (p == MAP_FAILED)
			maps_refused++;
		else
			munmap(p, 4096);
		if (mfd >= 0)
			close(mfd);
		if (i % 50 == 0) {
			runs++;
			if (run_once(file))
				runs_refused++;
		}
	}
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	if (WIFEXITED(status)) {
		printf("the refused %s loop stopped: a change was allowed\n", op);
		return 1;
	}
	printf("%ld refused %s as uid 65534 (other errors: %s) during %ld PROT_EXEC maps "
	       "(%ld refused) and %ld runs (%ld refused)\n",
	       count[0], op, count[1] ? strerrorname_np(count[1]) : "none", n, maps_refused, runs,
	       runs_refused);
	return maps_refused || runs_refused || !count[0];
}

/* The outcome of an attempt: refused by EPERM, worked, or something else. */
static int outcome(const char *what, int err, const char *expect)
{
	int want_refused = !strcmp(expect, "refused");

	if (!err) {
		printf("%s: worked\n", what);
		return want_refused;
	}
	printf("%s: %s\n", what, strerrorname_np(err));
	return !(want_refused && err == EPERM);
}

static int anon_exec(const char *how, const char *expect)
{
	static const unsigned char code[] = { 0xb8, 0x2a, 0, 0, 0, 0xc3 }; /* mov $42,%eax; ret */
	int prot = PROT_READ | PROT_WRITE;
	int (*fn)(void);
	void *p;

	if (!strcmp(how, "mmap"))
		prot |= PROT_EXEC;
	else if (strcmp(how, "mprotect"))
		return 2;
	p = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return outcome("mmap PROT_EXEC of anonymous memory", errno, expect);
	memcpy(p, code, sizeof(code));
	if (!strcmp(how, "mprotect") && mprotect(p, 4096, PROT_READ | PROT_EXEC))
		return outcome("mprotect PROT_EXEC of anonymous memory", errno, expect);
	fn = (int (*)(void))p;
	if (fn() != 42) {
		printf("the code written into anonymous memory did not return 42\n");
		return 1;
	}
	return outcome(!strcmp(how, "mmap") ? "mmap PROT_EXEC of anonymous memory, code run" :
					      "mprotect PROT_EXEC of anonymous memory, code run",
		       0, expect);
}

static int read_implies_exec(const char *expect)
{
	static const unsigned char code[] = { 0xb8, 0x2a, 0, 0, 0, 0xc3 }; /* mov $42,%eax; ret */
	int (*fn)(void);
	char *p;

	if (personality(READ_IMPLIES_EXEC) < 0)
		return outcome("personality(READ_IMPLIES_EXEC)", errno, expect);
	/* a fresh heap area past a gap: a new executable mapping */
	p = sbrk(0);
	if (p == (void *)-1 || brk(p + (1 << 20)) || sbrk(0) != p + (1 << 20))
		return outcome("brk after personality(READ_IMPLIES_EXEC)", ENOMEM, expect);
	p += 4096 - ((unsigned long)p & 4095);
	memcpy(p, code, sizeof(code));
	fn = (int (*)(void))p;
	if (fn() != 42) {
		printf("the code written into the heap did not return 42\n");
		return 1;
	}
	return outcome("personality(READ_IMPLIES_EXEC), code run from the heap", 0, expect);
}

static volatile long target_var = 1;

static int proc_mem(int write_it, const char *expect)
{
	long v = 7;
	int fd = open("/proc/self/mem", (write_it ? O_RDWR : O_RDONLY) | O_CLOEXEC);

	if (fd < 0)
		return outcome(write_it ? "open /proc/self/mem O_RDWR" :
					  "open /proc/self/mem O_RDONLY",
			       errno, expect);
	if (write_it) {
		if (pwrite(fd, &v, sizeof(v), (off_t)(unsigned long)&target_var) != sizeof(v))
			return outcome("write through /proc/self/mem", errno, expect);
		if (target_var != 7)
			return outcome("write through /proc/self/mem (no change)", EIO, expect);
		return outcome("open /proc/self/mem O_RDWR and write a variable", 0, expect);
	}
	if (pread(fd, &v, sizeof(v), (off_t)(unsigned long)&target_var) != sizeof(v) || v != 1)
		return outcome("read through /proc/self/mem", errno ? errno : EIO, expect);
	return outcome("open /proc/self/mem O_RDONLY and read a variable", 0, expect);
}

/* A child that waits to be killed. */
static pid_t idle_child(void)
{
	pid_t pid = fork();

	if (!pid) {
		for (;;)
			pause();
	}
	return pid;
}

static int ptrace_attach(const char *expect)
{
	pid_t pid = idle_child();
	int status, rc;

	if (pid < 0)
		return 1;
	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL)) {
		rc = outcome("PTRACE_ATTACH to a child", errno, expect);
	} else {
		waitpid(pid, &status, 0);
		if (ptrace(PTRACE_POKEDATA, pid, (void *)&target_var, (void *)7L))
			rc = outcome("PTRACE_POKEDATA after PTRACE_ATTACH", errno, expect);
		else
			rc = outcome("PTRACE_ATTACH to a child and PTRACE_POKEDATA", 0, expect);
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return rc;
}

static int traceme(const char *expect)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return 1;
	if (!pid)
		_exit(ptrace(PTRACE_TRACEME, 0, NULL, NULL) ? errno : 0);
	waitpid(pid, &status, 0);
	return outcome("a child's PTRACE_TRACEME", WIFEXITED(status) ? WEXITSTATUS(status) : EIO,
		       expect);
}

static int vm_rw(int write_it, const char *expect)
{
	long v = 7;
	struct iovec local = { &v, sizeof(v) }, remote = { (void *)&target_var, sizeof(v) };
	pid_t pid = idle_child();
	ssize_t n;
	int status, err;

	if (pid < 0)
		return 1;
	if (write_it)
		n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
	else
		n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	err = n == sizeof(v) ? 0 : n < 0 ? errno : EIO;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return outcome(write_it ? "process_vm_writev into a child" :
				  "process_vm_readv from a child",
		       err, expect);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "mmap-shared-write") && (argc == 3 || argc == 4))
		return mmap_shared_write(argv[2], argc == 4 ? argv[3] : "");
	if (!strcmp(cmd, "race") && argc == 5)
		return race(argv[2], argv[3], strtol(argv[4], NULL, 10));
	if (!strcmp(cmd, "anon-exec") && argc == 4)
		return anon_exec(argv[2], argv[3]);
	if (!strcmp(cmd, "personality") && argc == 3)
		return read_implies_exec(argv[2]);
	if (!strcmp(cmd, "proc-mem-write") && argc == 3)
		return proc_mem(1, argv[2]);
	if (!strcmp(cmd, "proc-mem-read"))
		return proc_mem(0, "works");
	if (!strcmp(cmd, "ptrace-attach") && argc == 3)
		return ptrace_attach(argv[2]);
	if (!strcmp(cmd, "traceme") && argc == 3)
		return traceme(argv[2]);
	if (!strcmp(cmd, "vm-writev") && argc == 3)
		return vm_rw(1, argv[2]);
	if (!strcmp(cmd, "vm-readv"))
		return vm_rw(0, "works");
	fprintf(stderr, "usage: see the comment in exec_attack_helper.c\n");
	return 2;
}
