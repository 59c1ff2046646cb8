// SPDX-License-Identifier: GPL-2.0-only
/*
 * memh_client: a client of keeld's read service (docs/memh.md), for the
 * tests and as an example.  It makes a handle for a buffer of its own,
 * hands it to keeld, asks for file ranges and checks every byte.
 *
 *   memh_client [OPTIONS] SOCKET read PATH FILE_OFF LEN HANDLE_OFF
 *	read one range; check the bytes that landed against the file and
 *	that the rest of the buffer is untouched.  Prints "ok N bytes" or
 *	"error CODE: message".  Exit 0 when ok (or when --expect CODE was
 *	the error), 1 otherwise.
 *   memh_client [OPTIONS] SOCKET pipeline N PATH LEN
 *	send N requests of LEN bytes at once; print how many were answered
 *	ok and how many EBUSY.
 *   memh_client [OPTIONS] SOCKET hold
 *	connect, print "held MODE", and wait until killed.
 *   memh_client [OPTIONS] SOCKET abandon PATH LEN
 *	send a read request and exit at once, without waiting.
 *
 * OPTIONS: --buf BYTES (the handle's size, default 1 MiB), --readonly (a
 * read-only handle), --fallback (never use keel.ko), --expect CODE,
 * --mode module|fallback (fail unless keeld says it holds the handle so).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "keel/memh_client.h"

#define FILL 0xa5

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end) {
		fprintf(stderr, "memh_client: '%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

/* The bytes that landed must be the file's, the others untouched. */
static int verify(const unsigned char *buf, size_t buf_len, const char *path, uint64_t foff,
		  uint64_t hoff, size_t n)
{
	unsigned char *want = malloc(n ? n : 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (!want || fd < 0) {
		fprintf(stderr, "memh_client: opening %s to verify: %s\n", path, strerror(errno));
		return 1;
	}
	got = pread(fd, want, n, (off_t)foff);
	close(fd);
	if (got != (ssize_t)n || memcmp(buf + hoff, want, n)) {
		fprintf(stderr,
			"memh_client: the %zu bytes in the buffer differ from %s at %" PRIu64 "\n",
			n, path, foff);
		return 1;
	}
	free(want);
	for (size_t i = 0; i < buf_len; i++) {
		if ((i < hoff || i >= hoff + n) && buf[i] != FILL) {
			fprintf(stderr, "memh_client: byte %zu outside the range was written\n", i);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct keel_memh_opts o = { .prot = KEEL_MEMH_READ | KEEL_MEMH_WRITE };
	const char *expect = NULL, *want_mode = NULL, *sock_path, *cmd;
	size_t buf_len = 1 << 20;
	char why[4200] = "", mode[16] = "";
	struct keel_memh *h;
	unsigned char *buf;
	int i = 1, sock, err;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--buf") && i + 1 < argc)
			buf_len = num(argv[++i]);
		else if (!strcmp(argv[i], "--readonly"))
			o.prot = KEEL_MEMH_READ;
		else if (!strcmp(argv[i], "--fallback"))
			o.force_fallback = true;
		else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
			expect = argv[++i];
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			want_mode = argv[++i];
		else
			goto usage;
	}
	if (argc - i < 2)
		goto usage;
	sock_path = argv[i++];
	cmd = argv[i++];
	buf_len = (buf_len + 4095) & ~4095UL;
	buf = mmap(NULL, buf_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	memset(buf, FILL, buf_len);
	err = keel_memh_create(buf, buf_len, &o, &h);
	if (err) {
		fprintf(stderr, "memh_client: creating a handle: %s\n", strerror(-err));
		return 1;
	}
	sock = keel_memh_client_open(sock_path, h, mode, sizeof(mode), why, sizeof(why));
	if (sock < 0) {
		printf("error %s: %s\n", strerrorname_np(-sock), why);
		return expect && !strcmp(expect, strerrorname_np(-sock)) ? 0 : 1;
	}
	if (want_mode && strcmp(want_mode, mode)) {
		fprintf(stderr, "memh_client: keeld holds the handle in %s mode, not %s\n", mode,
			want_mode);
		return 1;
	}

	if (!strcmp(cmd, "read") && argc - i == 4) {
		uint64_t foff = num(argv[i + 1]), len = num(argv[i + 2]), hoff = num(argv[i + 3]);
		ssize_t n = keel_memh_client_read(sock, argv[i], foff, len, hoff, why, sizeof(why));

		if (n < 0) {
			printf("error %s: %s\n", strerrorname_np((int)-n), why);
			return expect && !strcmp(expect, strerrorname_np((int)-n)) ? 0 : 1;
		}
		printf("ok %zd bytes (%s mode)\n", n, mode);
		if (expect)
			return 1;
		return verify(buf, buf_len, argv[i], foff, hoff, (size_t)n);
	}
	if (!strcmp(cmd, "pipeline") && argc - i == 3) {
		unsigned int n = (unsigned int)num(argv[i]), ok = 0, busy = 0, other = 0;
		uint64_t len = num(argv[i + 2]);

		for (unsigned int k = 0; k < n; k++)
			if (keel_memh_client_send(sock, k, argv[i + 1], 0, len, 0) < 0)
				return 1;
		for (unsigned int k = 0; k < n; k++) {
			ssize_t r = keel_memh_client_reply(sock, NULL, why, sizeof(why));

			if (r >= 0)
				ok++;
			else if (r == -EBUSY)
				busy++;
			else
				other++;
		}
		printf("ok %u busy %u other %u\n", ok, busy, other);
		return other ? 1 : 0;
	}
	if (!strcmp(cmd, "hold") && argc - i == 0) {
		printf("held %s\n", mode);
		fflush(stdout);
		pause();
		return 0;
	}
	if (!strcmp(cmd, "abandon") && argc - i == 2)
		return keel_memh_client_send(sock, 1, argv[i], 0, num(argv[i + 1]), 0) ? 1 : 0;
usage:
	fprintf(stderr,
		"usage: memh_client [--buf BYTES] [--readonly] [--fallback] [--expect CODE] [--mode MODE] SOCKET read PATH FILE_OFF LEN HANDLE_OFF | pipeline N PATH LEN | hold | abandon PATH LEN\n");
	return 2;
}
