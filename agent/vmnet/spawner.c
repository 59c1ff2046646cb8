// SPDX-License-Identifier: GPL-2.0-only
/*
 * The provider hook's spawner thread.  posix_spawn() returns only once the
 * child has exec'ed (glibc's vfork-style clone), which takes milliseconds
 * on a loaded host and much more for a burst of changes; done on keeld's
 * loop it delayed detection.  So the loop only queues a request (argv and
 * the KEEL_* environment, already expanded) and this thread spawns it, opens
 * its pidfd and writes the result to a pipe the loop watches.  Everything
 * else (the exit through the pidfd, the timeout kill, retries) stays on the
 * loop, which owns the whitelist entries.
 *
 * The queue holds at most @cap requests; vmnet_spawner_push() refuses with
 * -EAGAIN when it is full and the caller keeps the change pending.  Results
 * are a few bytes and at most @cap are outstanding, far below a pipe's
 * capacity, so the thread never waits for the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmnet/vmnet.h"

extern char **environ;

struct vmnet_spawn_req {
	struct vmnet_spawn_req *next;
	unsigned int slot;
	uint64_t seq;
	int argc, envc;
	size_t used, size;
	char buf[]; /* argc then envc NUL-terminated strings */
};

struct vmnet_spawner {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vmnet_spawn_req *head, *tail;
	unsigned int count, cap;
	bool stop;
	int nice;     /* of the thread, so of every hook */
	int rfd, wfd; /* results: the loop reads rfd */
};

struct vmnet_spawn_req *vmnet_spawn_req_new(unsigned int slot, uint64_t seq, size_t size)
{
	struct vmnet_spawn_req *r = calloc(1, sizeof(*r) + size);

	if (!r)
		return NULL;
	r->slot = slot;
	r->seq = seq;
	r->size = size;
	return r;
}

/* Append an argument (@env false) or a KEEL_* variable; -E2BIG when full. */
int vmnet_spawn_req_add(struct vmnet_spawn_req *r, bool env, const char *s)
{
	size_t n = strlen(s) + 1;

	if (r->used + n > r->size || (env ? r->envc : r->argc) >= 64)
		return -E2BIG;
	if (!env && r->envc)
		return -EINVAL; /* arguments come first */
	memcpy(r->buf + r->used, s, n);
	r->used += n;
	if (env)
		r->envc++;
	else
		r->argc++;
	return 0;
}

void vmnet_spawn_req_free(struct vmnet_spawn_req *r)
{
	free(r);
}

static void run_one(struct vmnet_spawner *sp, struct vmnet_spawn_req *r)
{
	struct vmnet_spawn_result res = { .slot = r->slot, .seq = r->seq, .pidfd = -1, .errfd = -1 };
	char *argv[65], *envp[256 + 65], *p = r->buf;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int envc = 0, pipefd[2], err;
	sigset_t none;
	pid_t pid;

	for (int i = 0; i < r->argc; i++, p += strlen(p) + 1)
		argv[i] = p;
	argv[r->argc] = NULL;
	/* keeld's environment does not change after start: read it here */
	for (char **e = environ; *e && envc < 256; e++)
		if (strncmp(*e, "KEEL_", 5))
			envp[envc++] = *e;
	for (int i = 0; i < r->envc; i++, p += strlen(p) + 1)
		envp[envc++] = p;
	envp[envc] = NULL;

	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		res.err = -errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawnattr_init(&attr);
	/* its own process group, so a hang is killed with all its children */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	err = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		res.err = -err;
		goto out;
	}
	res.pidfd = pidfd_open(pid, 0);
	if (res.pidfd < 0) {
		res.err = -errno;
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pipefd[0]);
		goto out;
	}
	res.pid = pid;
	res.errfd = pipefd[0];
out:
	/* a blocking write of a few bytes: atomic, and the pipe never fills */
	while (write(sp->wfd, &res, sizeof(res)) < 0 && errno == EINTR)
		;
}

static void *spawner_main(void *arg)
{
	struct vmnet_spawner *sp = arg;
	struct vmnet_spawn_req *r;

	/*
	 * Linux keeps a nice value per thread and children inherit it: hooks
	 * started from here run below keeld's loop, so a burst of them (shells,
	 * curl) cannot take the CPU detection needs.  Best effort.
	 */
	if (sp->nice)
		setpriority(PRIO_PROCESS, (id_t)gettid(), sp->nice);

	pthread_mutex_lock(&sp->mu);
	for (;;) {
		while (!sp->head && !sp->stop)
			pthread_cond_wait(&sp->cv, &sp->mu);
		if (sp->stop)
			break;
		r = sp->head;
		sp->head = r->next;
		if (!sp->head)
			sp->tail = NULL;
		sp->count--;
		pthread_mutex_unlock(&sp->mu);
		run_one(sp, r);
		free(r);
		pthread_mutex_lock(&sp->mu);
	}
	pthread_mutex_unlock(&sp->mu);
	return NULL;
}

int vmnet_spawner_start(struct vmnet_spawner **out, unsigned int cap, int nice, int *result_fd)
{
	struct vmnet_spawner *sp = calloc(1, sizeof(*sp));
	int fds[2], err;
	sigset_t all, old;

	if (!sp)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		err = -errno;
		free(sp);
		return err;
	}
	/* the loop reads without blocking; the thread writes blocking */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	sp->rfd = fds[0];
	sp->wfd = fds[1];
	sp->cap = cap;
	sp->nice = nice;
	pthread_mutex_init(&sp->mu, NULL);
	pthread_cond_init(&sp->cv, NULL);
	/* keeld takes its signals through signalfd: the thread takes none */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&sp->thread, NULL, spawner_main, sp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		close(fds[0]);
		close(fds[1]);
		free(sp);
		return err;
	}
	pthread_setname_np(sp->thread, "keeld-spawner");
	*out = sp;
	*result_fd = sp->rfd;
	return 0;
}

/* Queue @r (taken over on success); -EAGAIN when the queue is full. */
int vmnet_spawner_push(struct vmnet_spawner *sp, struct vmnet_spawn_req *r)
{
	pthread_mutex_lock(&sp->mu);
	if (sp->count >= sp->cap) {
		pthread_mutex_unlock(&sp->mu);
		return -EAGAIN;
	}
	r->next = NULL;
	if (sp->tail)
		sp->tail->next = r;
	else
		sp->head = r;
	sp->tail = r;
	sp->count++;
	pthread_cond_signal(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
	return 0;
}

unsigned int vmnet_spawner_queued(struct vmnet_spawner *sp)
{
	unsigned int n;

	pthread_mutex_lock(&sp->mu);
	n = sp->count;
	pthread_mutex_unlock(&sp->mu);
	return n;
}

/* One result, or -EAGAIN when none is waiting. */
int vmnet_spawner_result(struct vmnet_spawner *sp, struct vmnet_spawn_result *res)
{
	ssize_t n = read(sp->rfd, res, sizeof(*res));

	if (n == (ssize_t)sizeof(*res))
		return 0;
	return n < 0 ? -errno : -EIO;
}

/*
 * Stop the thread (a spawn in progress completes first) and drop the
 * requests it did not take.  Results already written stay readable until
 * vmnet_spawner_free().
 */
void vmnet_spawner_stop(struct vmnet_spawner *sp)
{
	struct vmnet_spawn_req *r;

	pthread_mutex_lock(&sp->mu);
	sp->stop = true;
	pthread_cond_signal(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
	pthread_join(sp->thread, NULL);
	while ((r = sp->head)) {
		sp->head = r->next;
		free(r);
	}
	sp->tail = NULL;
	sp->count = 0;
}

void vmnet_spawner_free(struct vmnet_spawner *sp)
{
	close(sp->rfd);
	close(sp->wfd);
	pthread_mutex_destroy(&sp->mu);
	pthread_cond_destroy(&sp->cv);
	free(sp);
}
