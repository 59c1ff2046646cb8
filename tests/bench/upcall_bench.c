// SPDX-License-Identifier: GPL-2.0-only
/*
 * Upcall round trip against the handler-thread design, in the same run.
 *
 *   upcall_bench [N]    (needs keel.ko: run it with tests/bench/upcall_vm.sh)
 *
 * Both sides run the same filter (allow a 16-byte write to /dev/null, after
 * looking at the first byte) and the kernel completes the same request:
 *   keel:  KEEL_IOC_FILTER_SUBMIT on a filter registered with an entry point:
 *          the filter runs as an upcall on the submitting thread.
 *   peer:  the same ioctl on a KEEL_UPCALL_HANDLER filter: the kernel queues
 *          the request and sleeps while a handler thread receives it
 *          (KEEL_IOC_FILTER_RECV), runs the filter and answers
 *          (KEEL_IOC_FILTER_ANSWER), as FUSE and seccomp user notification
 *          do.
 * Prints each figure and the ratio; nothing is asserted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keel/upcall.h"

static int f_bench(struct keel_io_req *req, void *arg)
{
	(void)arg;
	if (*(const char *)(uintptr_t)req->buf == 'R') {
		req->error = EPERM;
		return KEEL_FILTER_REFUSE;
	}
	return KEEL_FILTER_ALLOW;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *handler(void *arg)
{
	int id = *(int *)arg;

	while (keel_filter_serve(id, f_bench, NULL) == 0)
		;
	return NULL;
}

static double run(int id, int null, long n)
{
	char data[16] = "0123456789abcde";
	double t0 = now();
	long i;

	for (i = 0; i < n; i++) {
		if (keel_filter_submit(id, KEEL_IO_WRITE, null, data, 16, -1) != 16) {
			fprintf(stderr, "upcall_bench: submit %ld failed\n", i);
			exit(1);
		}
	}
	return (now() - t0) * 1e6 / n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int up, hd, null, ret;
	double keel, peer;
	pthread_t th;

	ret = keel_upcall_open();
	if (ret) {
		/* tests/bench/run on a host without the module: not a failure. */
		printf("upcall_bench: skipped: cannot open /dev/keel (%s); run tests/vm/run -- tests/bench/upcall_vm.sh\n",
		       strerror(-ret));
		return 0;
	}
	null = open("/dev/null", O_WRONLY);
	up = keel_upcall_register(f_bench, NULL, 1, 0);
	hd = keel_upcall_register_handler();
	if (null < 0 || up < 0 || hd < 0) {
		fprintf(stderr, "upcall_bench: cannot set up filters\n");
		return 1;
	}
	pthread_create(&th, NULL, handler, &hd);
	run(up, null, n / 10 + 1); /* warm-up */
	run(hd, null, n / 10 + 1);
	keel = run(up, null, n);
	peer = run(hd, null, n);
	printf("upcall round trip, %ld requests each, %ld CPUs\n", n,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("peer (handler thread, kernel waits): %8.2f us/request\n", peer);
	printf("keel (upcall on the same thread):    %8.2f us/request\n", keel);
	printf("ratio peer/keel: %.2f\n", peer / keel);
	return 0;
}
