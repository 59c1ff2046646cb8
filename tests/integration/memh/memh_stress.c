// SPDX-License-Identifier: GPL-2.0-only
/*
 * memh_stress SCENARIO ARGS: races of keel.ko's memory handles, driven by
 * tests/integration/test_memh_stress.sh.  Prints what it did; exits 0 when
 * every process finished and read what it should, 1 otherwise (a hang is
 * reported by the watchdog of the scenario, with the stuck tasks' kernel
 * stacks).
 *
 *   exit-close ROUNDS   a creator with 1024 handles exits while the holder
 *                       closes them all, ROUNDS times
 *   cross-fault ROUNDS [SECONDS [CGROUP]]
 *                       two processes fault on each other's handles while
 *                       each also maps and unmaps in a loop (writers queued
 *                       on its mmap_lock), until ROUNDS section maps or
 *                       SECONDS (default 60) have passed, whichever comes
 *                       first; the two join the cgroup directory CGROUP
 *                       (one whose memory limit is below their buffers, with
 *                       swap) while the watchdog stays outside it, so that
 *                       reclaim cannot stall the watchdog too
 *
 * Progress goes to stdout every 10 s, so a log shows a slow run from a
 * stuck one.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keel/keel_uapi.h"

#define PG 4096UL
#define MB (1UL << 20)
#define FAIL(...)                             \
	do {                                  \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr);          \
		exit(1);                      \
	} while (0)
#define NHANDLES   1024
#define WATCHDOG_S 60 /* no progress for this long: a deadlock */
#define PROGRESS_S 10 /* how often the watchdog prints the steps done */

static int create(int keel, void *addr, size_t len, unsigned int shift)
{
	struct keel_memh_create c = {
		.addr = (uintptr_t)addr,
		.len = len,
		.prot = KEEL_MEMH_READ | KEEL_MEMH_WRITE,
		.peer_type = KEEL_MEMH_PEER_ANY,
		.section_shift = shift,
	};

	if (ioctl(keel, KEEL_IOC_MEMH_CREATE, &c) < 0)
		FAIL("create %zu bytes at %p: %s", len, addr, strerror(errno));
	return c.fd;
}

static int open_keel(void)
{
	int fd = open("/dev/keel", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		FAIL("open /dev/keel: %s", strerror(errno));
	return fd;
}

/* Up to 250 descriptors in one SCM_RIGHTS message (the kernel allows 253). */
static void send_fds(int sock, const int *fds, int n)
{
	char c = 'h', buf[CMSG_SPACE(250 * sizeof(int))] = { 0 };
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = buf,
			    .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	if (sendmsg(sock, &m, 0) != 1)
		FAIL("sendmsg of %d descriptors: %s", n, strerror(errno));
}

static int recv_fds(int sock, int *fds, int max)
{
	char c, buf[CMSG_SPACE(250 * sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf)
	};
	struct cmsghdr *cm;
	int n;

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		FAIL("recvmsg: %s", strerror(errno));
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		FAIL("no descriptors received");
	n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	if (n > max)
		FAIL("%d descriptors received, room for %d", n, max);
	memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
	return n;
}

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

static long handles_open(void)
{
	FILE *f = fopen("/sys/module/keel/parameters/handles_open", "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Print the kernel stacks of @pid's threads: where a deadlock sits. */
static void dump_stacks(pid_t pid)
{
	char path[320], line[256];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", pid, d->d_name);
		f = fopen(path, "r");
		fprintf(stderr, "  task %d/%s kernel stack:\n", pid, d->d_name);
		while (f && fgets(line, sizeof(line), f))
			fprintf(stderr, "    %s", line);
		if (f)
			fclose(f);
	}
	if (dir)
		closedir(dir);
}

/*
 * Wait for @n children; @progress (shared) must keep moving while they
 * run.  Returns 0, or 1 after printing the stacks of the stuck ones.
 */
static int watch(pid_t *pids, int n, _Atomic long *progress, const char *what)
{
	long last = -1;
	time_t since = time(NULL), start = since, shown = since;
	int left = n, bad = 0;

	while (left) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p > 0) {
			for (int i = 0; i < n; i++)
				if (pids[i] == p)
					pids[i] = 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st)) {
				fprintf(stderr, "%s: process %d failed (status %#x)\n", what, p,
					st);
				bad = 1;
			}
			left--;
			continue;
		}
		if (time(NULL) - shown >= PROGRESS_S) {
			shown = time(NULL);
			printf("%s: %ld steps after %ld s\n", what, atomic_load(progress),
			       (long)(shown - start));
		}
		if (atomic_load(progress) != last) {
			last = atomic_load(progress);
			since = time(NULL);
		} else if (time(NULL) - since > WATCHDOG_S) {
			fprintf(stderr, "%s: no progress for %d s (%ld steps done): deadlock\n",
				what, WATCHDOG_S, last);
			for (int i = 0; i < n; i++)
				if (pids[i])
					dump_stacks(pids[i]);
			for (int i = 0; i < n; i++)
				if (pids[i])
					kill(pids[i], SIGKILL);
			return 1;
		}
		usleep(100 * 1000);
	}
	return bad;
}

/* --- exit-close --------------------------------------------------------- */

/*
 * The creator: 1024 handles, one per page of its buffer (so the notifiers
 * are distinct intervals), sent to the holder; then it exits when told.
 */
static void ec_creator(int s)
{
	int keel = open_keel(), fds[NHANDLES];
	char *buf = mmap(NULL, NHANDLES * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (buf == MAP_FAILED)
		FAIL("creator buffer: %s", strerror(errno));
	for (int i = 0; i < NHANDLES; i++) {
		buf[i * PG] = (char)i;
		fds[i] = create(keel, buf + i * PG, PG, 0);
	}
	for (int i = 0; i < NHANDLES; i += 250)
		send_fds(s, fds + i, NHANDLES - i < 250 ? NHANDLES - i : 250);
	for (int i = 0; i < NHANDLES; i++)
		close(fds[i]);
	step_wait(s);
	_exit(0);
}

struct ec_closer {
	int *fds;
	int n;
	_Atomic int *go;
};

static void *ec_close_fn(void *arg)
{
	struct ec_closer *c = arg;

	while (!atomic_load(c->go))
		;
	for (int i = 0; i < c->n; i++)
		close(c->fds[i]);
	return NULL;
}

/*
 * One round: the holder (this process) maps every handle once, then closes
 * them all from two threads while the creator exits.
 */
static void ec_round(_Atomic long *progress)
{
	static int fds[NHANDLES];
	int sv[2], n = 0;
	_Atomic int go = 0;
	pthread_t th[2];
	struct ec_closer cl[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		FAIL("socketpair: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		ec_creator(sv[1]);
	}
	close(sv[1]);
	while (n < NHANDLES)
		n += recv_fds(sv[0], fds + n, NHANDLES - n);
	for (int i = 0; i < NHANDLES; i++) {
		char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);

		if (p == MAP_FAILED)
			FAIL("map handle %d: %s", i, strerror(errno));
		if (p[0] != (char)i)
			FAIL("handle %d reads %d", i, p[0]);
		munmap(p, PG);
	}
	/* Half of the handles closed by each thread, in opposite orders. */
	for (int i = 0; i < NHANDLES / 2; i++) {
		int t = fds[i];

		fds[i] = fds[NHANDLES - 1 - i];
		fds[NHANDLES - 1 - i] = t;
	}
	cl[0] = (struct ec_closer){ fds, NHANDLES / 2, &go };
	cl[1] = (struct ec_closer){ fds + NHANDLES / 2, NHANDLES / 2, &go };
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, ec_close_fn, &cl[i]);
	step_send(sv[0], 'x'); /* the creator exits... */
	atomic_store(&go, 1);  /* ...while the handles are closed */
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	close(sv[0]);
	if (waitpid(pid, NULL, 0) != pid)
		FAIL("waitpid creator: %s", strerror(errno));
	atomic_fetch_add(progress, 1);
}

static void sc_exit_close(long rounds)
{
	_Atomic long *progress =
		mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;
	long left;

	if (progress == MAP_FAILED)
		FAIL("mmap: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		for (long r = 0; r < rounds; r++)
			ec_round(progress);
		exit(0);
	}
	if (watch(&pid, 1, progress, "exit-close"))
		exit(1);
	for (int i = 0; i < 50 && (left = handles_open()) > 0; i++)
		usleep(100 * 1000);
	printf("exit-close: %ld rounds of a creator with %d handles exiting while the holder closed them all; handles open after: %ld\n",
	       atomic_load(progress), NHANDLES, left);
	if (left != 0)
		FAIL("%ld handles still open after every process exited", left);
}

/* --- cross-fault -------------------------------------------------------- */

#define CF_BUF	   (16 * MB)
#define CF_SECTION (2 * MB)
#define CF_SLOTS   64 /* 2 MiB-aligned places the peer's sections go */
#define CF_BASE	   0x300000000000UL
#define CF_TOUCH   16 /* pages faulted per section map */

struct cf_shared {
	_Atomic long progress;
	time_t deadline; /* stop mapping after this, whatever progress */
	_Atomic int stop;
	_Atomic long faults[2];
	_Atomic long remaps[2];
	_Atomic long bad[2];
};

struct cf_ctx {
	struct cf_shared *sh;
	int me;
	int slot0; /* first of this thread's CF_SLOTS places */
	int peer_fd;
	char *own;
};

/*
 * Map one section of the peer's handle at a fresh 2 MiB-aligned address
 * (a new PTE table for each fault's pmd), read and write a word of each
 * page, unmap.
 */
static void *cf_fault_fn(void *arg)
{
	struct cf_ctx *c = arg;
	unsigned long n = 0;

	while (!atomic_load(&c->sh->stop)) {
		size_t sec = n % (CF_BUF / CF_SECTION);
		char *want = (char *)(CF_BASE + (c->slot0 + n % CF_SLOTS) * CF_SECTION);
		char *p = mmap(want, CF_SECTION, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_FIXED_NOREPLACE, c->peer_fd, sec * CF_SECTION);

		n++;
		if (p == MAP_FAILED)
			FAIL("process %d: map the peer's section %zu: %s", c->me, sec,
			     strerror(errno));
		for (size_t i = 0; i < CF_TOUCH * PG; i += PG) {
			size_t pg = (sec * CF_SECTION + i) / PG;

			if (p[i] != (char)(pg * 7 + !c->me))
				atomic_fetch_add(&c->sh->bad[c->me], 1);
			p[i + 8] = (char)c->me;
		}
		munmap(p, CF_SECTION);
		atomic_fetch_add(&c->sh->faults[c->me], CF_TOUCH);
		atomic_fetch_add(&c->sh->progress, 1);
	}
	return NULL;
}

/* Writers on this process's mmap_lock, over and over. */
static void *cf_remap_fn(void *arg)
{
	struct cf_ctx *c = arg;

	while (!atomic_load(&c->sh->stop)) {
		void *p =
			mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			munmap(p, PG);
		atomic_fetch_add(&c->sh->remaps[c->me], 1);
	}
	return NULL;
}

/* Keep the own buffer in use (and so in and out of swap). */
static void *cf_touch_fn(void *arg)
{
	struct cf_ctx *c = arg;
	unsigned long n = 0;

	while (!atomic_load(&c->sh->stop)) {
		size_t pg = (n++ * 97) % (CF_BUF / PG);

		c->own[pg * PG + 16] = (char)n;
	}
	return NULL;
}

/* Move the calling process into @cgroup (a cgroup v2 directory). */
static void join_cgroup(const char *cgroup)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		FAIL("join cgroup %s: %s", cgroup, strerror(errno));
}

static void cf_process(struct cf_shared *sh, int me, int s, long rounds, const char *cgroup)
{
	int keel, fd, peer;
	char *own;
	pthread_t th[4];
	struct cf_ctx c, f0, f1;

	if (cgroup)
		join_cgroup(cgroup);
	keel = open_keel();
	own = mmap(NULL, CF_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (own == MAP_FAILED)
		FAIL("buffer: %s", strerror(errno));
	for (size_t pg = 0; pg < CF_BUF / PG; pg++)
		own[pg * PG] = (char)(pg * 7 + me);
	fd = create(keel, own, CF_BUF, 21);
	send_fds(s, &fd, 1);
	recv_fds(s, &peer, 1);
	c = (struct cf_ctx){ sh, me, 0, peer, own };
	f0 = (struct cf_ctx){ sh, me, (2 * me) * CF_SLOTS, peer, own };
	f1 = (struct cf_ctx){ sh, me, (2 * me + 1) * CF_SLOTS, peer, own };
	pthread_create(&th[0], NULL, cf_fault_fn, &f0);
	pthread_create(&th[1], NULL, cf_fault_fn, &f1);
	pthread_create(&th[2], NULL, cf_remap_fn, &c);
	pthread_create(&th[3], NULL, cf_touch_fn, &c);
	while (atomic_load(&sh->progress) < rounds && !atomic_load(&sh->stop) &&
	       time(NULL) < sh->deadline)
		usleep(50 * 1000);
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* Both processes stop mapping before either handle goes away. */
	step_send(s, 'd');
	step_wait(s);
	exit(0);
}

static void sc_cross_fault(long rounds, long seconds, const char *cgroup)
{
	struct cf_shared *sh =
		mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[2];
	int sv[2];

	if (sh == MAP_FAILED || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		FAIL("setup: %s", strerror(errno));
	sh->deadline = time(NULL) + seconds;
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			cf_process(sh, i, sv[i], rounds, cgroup);
	}
	close(sv[0]);
	close(sv[1]);
	if (watch(pids, 2, &sh->progress, "cross-fault")) {
		atomic_store(&sh->stop, 1);
		exit(1);
	}
	printf("cross-fault: %ld section maps (%s); pages faulted: %ld by process 0, %ld by process 1; own-mmap_lock writers: %ld and %ld; wrong bytes: %ld and %ld\n",
	       atomic_load(&sh->progress),
	       atomic_load(&sh->progress) >= rounds ? "all asked for" : "stopped by the time limit",
	       atomic_load(&sh->faults[0]), atomic_load(&sh->faults[1]),
	       atomic_load(&sh->remaps[0]), atomic_load(&sh->remaps[1]), atomic_load(&sh->bad[0]),
	       atomic_load(&sh->bad[1]));
	if (atomic_load(&sh->bad[0]) || atomic_load(&sh->bad[1]))
		FAIL("a process read bytes that are not its peer's");
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;

	struct rlimit nofile = { 4096, 4096 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The creator holds 1024 handles, the holder receives them. */
	if (setrlimit(RLIMIT_NOFILE, &nofile))
		FAIL("setrlimit RLIMIT_NOFILE 4096: %s", strerror(errno));
	if (argc < 3 || n <= 0)
		FAIL("usage: memh_stress exit-close ROUNDS | cross-fault ROUNDS [SECONDS [CGROUP]]");
	if (!strcmp(argv[1], "exit-close") && argc == 3)
		sc_exit_close(n);
	else if (!strcmp(argv[1], "cross-fault") && argc <= 5) {
		long seconds = argc > 3 ? atol(argv[3]) : 60;

		if (seconds <= 0)
			FAIL("cross-fault: SECONDS must be a positive number, not '%s'", argv[3]);
		sc_cross_fault(n, seconds, argc > 4 ? argv[4] : NULL);
	} else {
		FAIL("unknown scenario or arguments: '%s' with %d arguments", argv[1], argc - 2);
	}
	return 0;
}
