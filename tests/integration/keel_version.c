// SPDX-License-Identifier: GPL-2.0-only
/*
 * keel_version [DEVICE]: print keel.ko's version through KEEL_IOC_VERSION
 * and check that an unknown ioctl fails with ENOTTY.  Used by test_kmod.sh.
 * Prints "abi=N flags=N version=S"; exits 0 if both ioctls behaved.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <keel/keel_uapi.h>

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/keel";
	struct keel_version v;
	int fd, rc = 0;

	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "keel_version: open %s: %s\n", dev, strerror(errno));
		return 1;
	}
	memset(&v, 0xff, sizeof(v));
	if (ioctl(fd, KEEL_IOC_VERSION, &v) < 0) {
		fprintf(stderr, "keel_version: KEEL_IOC_VERSION on %s: %s\n", dev, strerror(errno));
		rc = 1;
	} else if (!memchr(v.version, '\0', sizeof(v.version))) {
		fprintf(stderr, "keel_version: version string is not terminated\n");
		rc = 1;
	} else {
		printf("abi=%u flags=%u version=%s\n", v.abi, v.flags, v.version);
	}
	if (ioctl(fd, _IO(KEEL_IOC_MAGIC, 0x7f), 0) == 0 || errno != ENOTTY) {
		fprintf(stderr, "keel_version: unknown ioctl: expected ENOTTY, got %s\n",
			strerror(errno));
		rc = 1;
	}
	close(fd);
	return rc;
}
