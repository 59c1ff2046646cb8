// SPDX-License-Identifier: GPL-2.0-only
/*
 * memh_bench: a server fills a client's buffer on the client's behalf, for
 * buffers of 4 KiB to 64 MiB, three ways in the same run:
 *   handle    the client's memory handle (keel.ko if loaded, else the
 *             library's fallback, which the output names)
 *   pvm       process_vm_writev into the client (the peer figure)
 *   socket    copying over a Unix socket into the client's buffer
 * Prints latency per transfer and bandwidth, and handle/pvm ratios.
 * Figures are reported, never asserted.
 *   memh_bench [--quick]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keel/memh.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "memh_bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* The client: a buffer, a handle on it, then drain socket copies until EOF. */
static void client(int sock, size_t size)
{
	struct keel_memh_opts o = { .prot = KEEL_MEMH_READ | KEEL_MEMH_WRITE };
	char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct keel_memh *h;
	int err;

	if (buf == MAP_FAILED)
		die("mmap", errno);
	memset(buf, 0, size);
	err = keel_memh_create(buf, size, &o, &h);
	if (err)
		die("keel_memh_create", -err);
	err = keel_memh_send(sock, h, &buf, sizeof(buf));
	if (err)
		die("keel_memh_send", -err);
	for (;;) { /* socket mode: read @size bytes, ack with one byte */
		size_t got = 0;
		ssize_t n;

		while (got < size && (n = read(sock, buf + got, size - got)) > 0)
			got += n;
		if (got < size)
			_exit(0);
		if (write(sock, "k", 1) != 1)
			_exit(0);
	}
}

struct run {
	double handle, pvm, sock; /* seconds per transfer */
	int fallback;
};

static void measure(size_t size, int iters, struct run *r)
{
	char *src = malloc(size), *remote, ack;
	struct keel_memh *h;
	size_t mlen;
	int sv[2], err;
	pid_t pid;
	double t;

	memset(src, 'x', size);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", errno);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		client(sv[1], size);
	}
	close(sv[1]);
	err = keel_memh_recv(sv[0], &remote, sizeof(remote), &mlen, &h);
	if (err)
		die("keel_memh_recv", -err);
	r->fallback = keel_memh_fallback(h);

	t = now();
	for (int i = 0; i < iters; i++)
		if (keel_memh_write(h, 0, src, size) != (ssize_t)size)
			die("keel_memh_write", EIO);
	r->handle = (now() - t) / iters;

	t = now();
	for (int i = 0; i < iters; i++) {
		struct iovec l = { src, size }, rv = { remote, size };

		if (process_vm_writev(pid, &l, 1, &rv, 1, 0) != (ssize_t)size)
			die("process_vm_writev", errno);
	}
	r->pvm = (now() - t) / iters;

	t = now();
	for (int i = 0; i < iters; i++) {
		size_t put = 0;
		ssize_t n;

		while (put < size && (n = write(sv[0], src + put, size - put)) > 0)
			put += n;
		if (read(sv[0], &ack, 1) != 1)
			die("socket ack", errno);
	}
	r->sock = (now() - t) / iters;

	keel_memh_free(h);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	free(src);
}

int main(int argc, char **argv)
{
	size_t sizes[] = { 4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20 };
	int quick = argc > 1 && !strcmp(argv[1], "--quick");
	struct run r;

	printf("%-8s %12s %12s %12s %10s %10s %10s %8s\n", "size", "handle_us", "pvm_us",
	       "socket_us", "handle_MBs", "pvm_MBs", "socket_MBs", "h/pvm");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t s = sizes[i];
		int iters = (int)((quick ? 64 : 256) * (1 << 20) / s);

		iters = iters < 3 ? 3 : iters > 2000 ? 2000 : iters;
		measure(s, iters, &r);
		printf("%-8zu %12.1f %12.1f %12.1f %10.0f %10.0f %10.0f %8.2f\n", s, r.handle * 1e6,
		       r.pvm * 1e6, r.sock * 1e6, s / r.handle / 1e6, s / r.pvm / 1e6,
		       s / r.sock / 1e6, r.pvm / r.handle);
	}
	printf("handle mode: %s; h/pvm > 1 means the handle is faster\n",
	       r.fallback ? "fallback (process_vm_writev: keel.ko not loaded)" : "keel.ko");
	return 0;
}
