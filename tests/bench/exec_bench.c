// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec benchmark driver.
 *
 *   exec_bench                 run tests/bench/exec_bench.sh from the checkout
 *                              that built this program: in the VM harness
 *                              (BPF LSM is refused on the host), or directly
 *                              when already inside it (KEEL_VM=1)
 *   exec_bench loop N CMD...   fork and exec CMD N times, one after the
 *                              other, and print the seconds taken
 *
 * The loop is in C so that the measured cost is fork, exec, the dynamic
 * loader and the program, not a shell's own work between iterations.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int loop(long n, char **argv)
{
	/* The programs' output is not what is measured, and would flood the log. */
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	double t0 = now();

	for (long i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			perror("exec_bench: fork");
			return 1;
		}
		if (pid == 0) {
			if (devnull >= 0)
				dup2(devnull, STDOUT_FILENO);
			execv(argv[0], argv);
			fprintf(stderr, "exec_bench: exec %s: %s\n", argv[0], strerror(errno));
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "exec_bench: %s failed at iteration %ld (status %d)\n",
				argv[0], i, status);
			return 1;
		}
	}
	printf("%.4f\n", now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	char exe[PATH_MAX], dir[PATH_MAX], script[PATH_MAX + 64], run[PATH_MAX + 64];
	const char *vm = getenv("KEEL_VM");
	ssize_t n;

	if (argc >= 4 && !strcmp(argv[1], "loop")) {
		long count = strtol(argv[2], NULL, 10);

		if (count <= 0) {
			fprintf(stderr, "exec_bench: loop: '%s' is not a positive count\n",
				argv[2]);
			return 2;
		}
		return loop(count, argv + 3);
	}
	if (argc != 1) {
		fprintf(stderr, "usage: exec_bench | exec_bench loop N CMD [ARGS...]\n");
		return 2;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		perror("exec_bench: reading /proc/self/exe");
		return 1;
	}
	exe[n] = '\0';
	snprintf(dir, sizeof(dir), "%s", dirname(exe));
	snprintf(script, sizeof(script), "%s/../../../tests/bench/exec_bench.sh", dir);
	if (vm && !strcmp(vm, "1")) {
		execl("/bin/bash", "bash", script, (char *)NULL);
	} else {
		snprintf(run, sizeof(run), "%s/../../../tests/vm/run", dir);
		/* 3 rounds x 3 setups take 10-15 minutes under TCG */
		execl(run, run, "--timeout", "2400", "--", script, (char *)NULL);
	}
	fprintf(stderr, "exec_bench: running %s: %s\n", script, strerror(errno));
	return 1;
}
