// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvm_vm: create a KVM VM and destroy it, with no guest: open /dev/kvm,
 * KVM_CREATE_VM, hold it for MS milliseconds, close.  Prints its pid.
 * Exit 2: /dev/kvm cannot be opened, 3: KVM_CREATE_VM failed.
 *
 *   kvm_vm [MS]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 200;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int kvm, vm;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvm_vm: opening /dev/kvm: %s\n", strerror(errno));
		return 2;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0) {
		fprintf(stderr, "kvm_vm: KVM_CREATE_VM: %s\n", strerror(errno));
		return 3;
	}
	printf("%d\n", (int)getpid());
	fflush(stdout);
	nanosleep(&ts, NULL);
	close(vm); /* the last reference: kvm_destroy_vm */
	close(kvm);
	return 0;
}
