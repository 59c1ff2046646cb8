// SPDX-License-Identifier: GPL-2.0-only
/*
 * What test_exec_guard.sh attempts against keeld, with no gdb or libbpf:
 *
 *   exec_guard_helper ptrace PID      PTRACE_ATTACH (then detach)
 *   exec_guard_helper mem PID         open /proc/PID/mem for writing
 *   exec_guard_helper held-fd PIN     get a writable fd of the pinned map
 *                                     now, wait for a line on stdin, then
 *                                     delete key 0 through that fd
 *   exec_guard_helper open-read PIN N open the pinned map read-only N
 *                                     times, closing each fd
 *
 * Exit 0 when the attempt succeeded; 1 with the errno name when refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("%s: %s\n", what, strerror(errno));
	return 1;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int main(int argc, char **argv)
{
	union bpf_attr attr;
	char path[64], line[16];
	unsigned char key[64] = {};
	pid_t pid;
	int fd;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[1], "open-read")))
		return 2;
	if (!strcmp(argv[1], "open-read")) {
		int n = atoi(argv[3]);

		for (int i = 0; i < n; i++) {
			memset(&attr, 0, sizeof(attr));
			attr.pathname = (unsigned long)argv[2];
			attr.file_flags = BPF_F_RDONLY;
			fd = sys_bpf(BPF_OBJ_GET, &attr);
			if (fd < 0)
				return fail("BPF_OBJ_GET");
			close(fd);
		}
		printf("opened %d times\n", n);
		return 0;
	}
	if (!strcmp(argv[1], "ptrace")) {
		pid = atoi(argv[2]);
		if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0)
			return fail("PTRACE_ATTACH");
		waitpid(pid, NULL, __WALL);
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
		printf("attached\n");
		return 0;
	}
	if (!strcmp(argv[1], "mem")) {
		snprintf(path, sizeof(path), "/proc/%s/mem", argv[2]);
		fd = open(path, O_RDWR);
		if (fd < 0)
			return fail(path);
		printf("opened\n");
		return 0;
	}
	if (!strcmp(argv[1], "held-fd")) {
		memset(&attr, 0, sizeof(attr));
		attr.pathname = (unsigned long)argv[2];
		fd = sys_bpf(BPF_OBJ_GET, &attr);
		if (fd < 0)
			return fail("BPF_OBJ_GET");
		printf("holding\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 2;
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = fd;
		attr.key = (unsigned long)key;
		if (sys_bpf(BPF_MAP_DELETE_ELEM, &attr) < 0 && errno != ENOENT)
			return fail("BPF_MAP_DELETE_ELEM");
		printf("deleted\n");
		return 0;
	}
	return 2;
}
