// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec_kexec_helper: the two kexec system calls, for test_exec_kexec.sh.
 *
 *   exec_kexec_helper file KERNEL   kexec_file_load(KERNEL, no initramfs), then unload
 *   exec_kexec_helper mem           kexec_load with no segments (an unload)
 *
 * Prints "ok" or "errno N (name)" and exits 0 or 1.  No image is ever
 * booted: a loaded one is unloaded at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEXEC_FILE_UNLOAD	0x1
#define KEXEC_FILE_NO_INITRAMFS 0x4

static int report(long r)
{
	if (r == 0) {
		printf("ok\n");
		return 0;
	}
	printf("errno %d (%s)\n", errno, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "file")) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		long r;

		if (fd < 0) {
			perror(argv[2]);
			return 2;
		}
		r = syscall(SYS_kexec_file_load, fd, -1, 1, "", KEXEC_FILE_NO_INITRAMFS);
		if (r == 0)
			syscall(SYS_kexec_file_load, -1, -1, 0, NULL, KEXEC_FILE_UNLOAD);
		return report(r);
	}
	if (argc == 2 && !strcmp(argv[1], "mem"))
		return report(syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL));
	fprintf(stderr, "usage: exec_kexec_helper file KERNEL | mem\n");
	return 2;
}
