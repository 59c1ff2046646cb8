// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ways to run code and to change a file that the shell cannot express,
 * for test_exec.sh.  Each prints nothing on success and exits 0; on
 * failure it prints the failing call and errno name and exits 1.
 *
 *   exec_helper memfd-exec PROG        copy PROG into a memfd and fexecve it
 *   exec_helper mprotect-exec FILE     map FILE read-only, then mprotect PROT_EXEC
 *   exec_helper mmap-exec FILE         map FILE with PROT_EXEC
 *   exec_helper init-module KO         init_module(2) from memory
 *   exec_helper write OP FILE          open FILE for writing and change it with
 *                                      OP: pwrite copy_file_range splice sendfile
 *                                      fallocate ftruncate mmap-shared
 *   exec_helper setxattr FILE          set trusted.keel on FILE
 *   exec_helper hold-write FILE SECS   keep FILE open for writing SECS seconds
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

extern char **environ;

static int fail(const char *what)
{
	printf("%s: %s (errno %d)\n", what, strerrorname_np(errno), errno);
	return 1;
}

static int copy_into(int out, const char *path)
{
	char buf[65536];
	int in = open(path, O_RDONLY);
	ssize_t n;

	if (in < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	return n < 0 ? -1 : 0;
}

static int do_write(const char *op, const char *file)
{
	int fd = open(file, O_RDWR), p[2], src;
	char tmp[] = "/tmp/exec_helper.XXXXXX";
	loff_t off = 0;
	void *m;

	if (fd < 0)
		return fail("open O_RDWR");
	if (!strcmp(op, "open-only"))
		return 0;
	if (!strcmp(op, "pwrite"))
		return pwrite(fd, "x", 1, 0) == 1 ? 0 : fail("pwrite");
	if (!strcmp(op, "fallocate"))
		return fallocate(fd, 0, 0, 1 << 20) ? fail("fallocate") : 0;
	if (!strcmp(op, "ftruncate"))
		return ftruncate(fd, 1) ? fail("ftruncate") : 0;
	if (!strcmp(op, "mmap-shared")) {
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			return fail("mmap MAP_SHARED PROT_WRITE");
		((char *)m)[0] ^= 1;
		return msync(m, 4096, MS_SYNC) ? fail("msync") : 0;
	}
	src = mkstemp(tmp);
	if (src < 0 || write(src, "keel", 4) != 4)
		return fail("mkstemp");
	unlink(tmp);
	if (!strcmp(op, "copy_file_range"))
		return copy_file_range(src, &off, fd, NULL, 4, 0) == 4 ? 0 :
									 fail("copy_file_range");
	if (!strcmp(op, "sendfile"))
		return sendfile(fd, src, &off, 4) == 4 ? 0 : fail("sendfile");
	if (!strcmp(op, "splice")) {
		if (pipe(p) || write(p[1], "keel", 4) != 4)
			return fail("pipe");
		return splice(p[0], NULL, fd, &off, 4, 0) == 4 ? 0 : fail("splice");
	}
	fprintf(stderr, "unknown write op %s\n", op);
	return 2;
}

int main(int argc, char **argv)
{
	struct stat st;
	void *m;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: see the comment in exec_helper.c\n");
		return 2;
	}
	if (!strcmp(argv[1], "memfd-exec")) {
		char *args[] = { argv[2], NULL };

		fd = memfd_create("keel-test", MFD_CLOEXEC);
		if (fd < 0 || copy_into(fd, argv[2]))
			return fail("memfd copy");
		fexecve(fd, args, environ);
		return fail("fexecve");
	}
	if (!strcmp(argv[1], "mprotect-exec") || !strcmp(argv[1], "mmap-exec")) {
		bool direct = !strcmp(argv[1], "mmap-exec");

		fd = open(argv[2], O_RDONLY);
		if (fd < 0)
			return fail("open");
		m = mmap(NULL, 4096, direct ? PROT_READ | PROT_EXEC : PROT_READ, MAP_PRIVATE, fd,
			 0);
		if (m == MAP_FAILED)
			return fail("mmap");
		if (!direct && mprotect(m, 4096, PROT_READ | PROT_EXEC))
			return fail("mprotect");
		return 0;
	}
	if (!strcmp(argv[1], "init-module")) {
		fd = open(argv[2], O_RDONLY);
		if (fd < 0 || fstat(fd, &st))
			return fail("open");
		m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED)
			return fail("mmap");
		if (syscall(SYS_init_module, m, (unsigned long)st.st_size, ""))
			return fail("init_module");
		return 0;
	}
	if (!strcmp(argv[1], "write") && argc == 4)
		return do_write(argv[2], argv[3]);
	/* by path, with no open: coreutils' touch and truncate open for writing first */
	if (!strcmp(argv[1], "utimes"))
		return utimensat(AT_FDCWD, argv[2], NULL, 0) ? fail("utimensat") : 0;
	if (!strcmp(argv[1], "truncate"))
		return truncate(argv[2], 0) ? fail("truncate") : 0;
	if (!strcmp(argv[1], "setxattr"))
		return setxattr(argv[2], "trusted.keel", "1", 1, 0) ? fail("setxattr") : 0;
	if (!strcmp(argv[1], "hold-write") && argc == 4) {
		fd = open(argv[2], O_WRONLY | O_APPEND);
		if (fd < 0)
			return fail("open");
		sleep(atoi(argv[3]));
		return 0;
	}
	fprintf(stderr, "unknown command %s\n", argv[1]);
	return 2;
}
