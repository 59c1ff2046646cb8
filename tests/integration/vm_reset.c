// SPDX-License-Identifier: GPL-2.0-only
/*
 * vm_reset: tests/integration/run's way back to a clean VM after a test was
 * killed part-way.  A killed exec test could leave keel's LSM enforcing
 * from its pins with only the test's own files trusted; from then on
 * nothing else may execute, not rm to remove the pins, not even date in the
 * runner.  The test's own clean-up switches exec to audit first (keel's
 * guard keeps everyone but keeld off the pins in enforce mode, this program
 * included); this program removes what is left even when nothing else can
 * run.  So the runner starts it before the first test, while anything
 * may still run, and keeps it as a coprocess: for each line it reads it
 * undoes what a test may have left, using system calls only (it never
 * executes anything), prints one line per thing it undid, then "done".
 *
 *   - every process named keeld: SIGKILL, and waited for (up to 10 s)
 *   - every /sys/fs/bpf/keel* entry, removed depth first: the pinned links
 *     and maps go, and keel's BPF programs detach once nothing holds them
 *   - keel.ko, unloaded (delete_module, as rmmod does)
 *
 * Only inside the test VM: on a developer's machine other keelds are theirs.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BPFFS "/sys/fs/bpf"

/* a live (not zombie) process named keeld */
static int is_keeld(const char *pid)
{
	char path[64], buf[128] = "", *open_paren, *close_paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%.16s/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z')
		return 0;
	*close_paren = '\0';
	return !strcmp(open_paren + 1, "keeld");
}

/* SIGKILL each keeld; returns how many are still there */
static int kill_keelds(int report)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int left = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !is_keeld(e->d_name))
			continue;
		if (report)
			printf("left behind: keeld (pid %s): killed\n", e->d_name);
		kill(atoi(e->d_name), SIGKILL);
		left++;
	}
	closedir(d);
	return left;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT)
		printf("cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

static void remove_pins(void)
{
	DIR *d = opendir(BPFFS);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "keel", 4))
			continue;
		snprintf(path, sizeof(path), BPFFS "/%.255s", e->d_name);
		printf("left behind: pins %s: removed\n", path);
		nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	closedir(d);
}

static void unload_module(void)
{
	if (access("/sys/module/keel", F_OK))
		return;
	if (syscall(SYS_delete_module, "keel", O_NONBLOCK))
		printf("left behind: keel.ko loaded, cannot unload: %s\n", strerror(errno));
	else
		printf("left behind: keel.ko loaded: unloaded\n");
}

static void reset(void)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };

	if (kill_keelds(1))
		for (int i = 0; i < 100 && kill_keelds(0); i++)
			nanosleep(&tick, NULL);
	remove_pins();
	unload_module();
}

int main(void)
{
	char line[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		reset();
		printf("done\n");
	}
	return 0;
}
