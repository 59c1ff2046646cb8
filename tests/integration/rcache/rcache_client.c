// SPDX-License-Identifier: GPL-2.0-only
/*
 * A raw keel-rcache client for the tests (not a disk server):
 *
 *   rcache_client SOCKET revoke
 *     admits 16 blocks of a pattern from a keel.ko handle, looks them up
 *     into a zeroed buffer (the bytes must come back through the handle),
 *     revokes the handle and looks them up again: the daemon must answer
 *     an error with no hits, and stay up (with a plain memcpy through its
 *     mapping it died of SIGBUS).  Exit 77 without keel.ko.
 *
 *   rcache_client SOCKET hold SECONDS
 *     holds one control connection for SECONDS (a client slot), printing
 *     "held" once greeted, or the refusal and exit 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "keel/memh.h"
#include "keel/rcache.h"

#define NBLK 16
#define DISK 0x6b65656c74657374ull	/* "keeltest" */

static int call(int sock, uint32_t op, uint64_t seq, struct keel_rcache_reply *rep)
{
	static uint64_t id;
	struct keel_rcache_req q = { .op = op, .id = ++id, .disk_id = DISK, .off = 0,
				     .len = NBLK * 4096, .seq = seq, .cid = 7 };
	int r = keel_rcache_call(sock, &q, NULL, rep, NULL);

	if (r) {
		fprintf(stderr, "rcache_client: op %u: the connection failed: %s\n", op,
			strerror(-r));
		exit(1);
	}
	return rep->status;
}

static int do_revoke(const char *path)
{
	struct keel_memh_opts o = { .prot = KEEL_MEMH_READ | KEEL_MEMH_WRITE };
	struct keel_rcache_reply rep;
	struct keel_memh *h;
	char why[512];
	uint32_t bs;
	unsigned char *buf = mmap(NULL, NBLK * 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int sock, r;

	if (buf == MAP_FAILED || keel_memh_create(buf, NBLK * 4096, &o, &h)) {
		perror("rcache_client: handle");
		return 1;
	}
	if (keel_memh_fallback(h)) {
		printf("no /dev/keel: the handle is memh's fallback\n");
		return 77;
	}
	sock = keel_rcache_connect(path, h, 5000, &bs, NULL, why, sizeof(why));
	if (sock < 0 || bs != 4096) {
		fprintf(stderr, "rcache_client: %s (block size %u)\n", sock < 0 ? why : "", bs);
		return 1;
	}
	for (size_t i = 0; i < NBLK * 4096; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	call(sock, KEEL_RCACHE_LOOKUP, 0, &rep);	/* misses; its seq */
	r = call(sock, KEEL_RCACHE_ADMIT, rep.seq, &rep);
	printf("admitted %u of %d blocks from the handle (status %d)\n", rep.count, NBLK, r);
	if (r || rep.count != NBLK)
		return 1;
	memset(buf, 0, NBLK * 4096);
	r = call(sock, KEEL_RCACHE_LOOKUP, 0, &rep);
	for (size_t i = 0; i < NBLK * 4096; i++)
		if (buf[i] != (unsigned char)(i * 7 + 3)) {
			printf("byte %zu of the buffer: %u, expected %u\n", i, buf[i],
			       (unsigned char)(i * 7 + 3));
			return 1;
		}
	printf("lookup: %u hits (status %d), the buffer holds the admitted bytes\n", rep.count,
	       r);
	if (r || rep.count != NBLK)
		return 1;
	r = keel_memh_revoke(h);
	if (r) {
		fprintf(stderr, "rcache_client: revoke: %s\n", strerror(-r));
		return 1;
	}
	r = call(sock, KEEL_RCACHE_LOOKUP, 0, &rep);
	printf("lookup after revoking the handle: %u hits, status %d (%s)\n", rep.count, r,
	       strerror(-r));
	return r < 0 && !rep.count ? 0 : 1;
}

static int do_hold(const char *path, unsigned int seconds)
{
	char why[512];
	int sock = keel_rcache_connect(path, NULL, 5000, NULL, NULL, why, sizeof(why));

	if (sock < 0) {
		printf("%s\n", why);
		return 1;
	}
	printf("held\n");
	fflush(stdout);
	sleep(seconds);
	close(sock);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[2], "revoke"))
		return do_revoke(argv[1]);
	if (argc == 4 && !strcmp(argv[2], "hold"))
		return do_hold(argv[1], (unsigned int)atoi(argv[3]));
	fprintf(stderr, "usage: rcache_client SOCKET revoke | hold SECONDS\n");
	return 2;
}
