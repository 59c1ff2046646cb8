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
 *
 *   rcache_client SOCKET mix N HOT_BLOCKS SCAN_FIRST SEED
 *     N one-block reads, alternating between two disks as a cache filter
 *     would send them (LOOKUP, and on a miss ADMIT what "storage" gave):
 *     disk 686f74 ("hot") reads Zipf(0.8)-distributed blocks among
 *     HOT_BLOCKS, disk 7363616e ("scan") reads blocks SCAN_FIRST,
 *     SCAN_FIRST + 1, ... once each.  Prints the hits of each disk.
 *
 *   rcache_client SOCKET limit DISK_HEX BLOCKS
 *     sets a disk's limit (CONTROL limit), as an operator sizing by hand.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "keel/memh.h"
#include "keel/rcache.h"

#define NBLK 16
#define DISK 0x6b65656c74657374ull /* "keeltest" */

static int call(int sock, uint32_t op, uint64_t seq, struct keel_rcache_reply *rep)
{
	static uint64_t id;
	struct keel_rcache_req q = { .op = op,
				     .id = ++id,
				     .disk_id = DISK,
				     .off = 0,
				     .len = NBLK * 4096,
				     .seq = seq,
				     .cid = 7 };
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
	unsigned char *buf =
		mmap(NULL, NBLK * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
	call(sock, KEEL_RCACHE_LOOKUP, 0, &rep); /* misses; its seq */
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
	printf("lookup: %u hits (status %d), the buffer holds the admitted bytes\n", rep.count, r);
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

#define HOT_DISK  0x686f74ull
#define SCAN_DISK 0x7363616eull

/* One block read through the cache: LOOKUP, on a miss ADMIT.  1 on a hit. */
static int read_block(int sock, unsigned char *buf, uint64_t disk, uint64_t block)
{
	static uint64_t id;
	struct keel_rcache_req q = { .op = KEEL_RCACHE_LOOKUP,
				     .id = ++id,
				     .disk_id = disk,
				     .off = block * 4096,
				     .len = 4096,
				     .cid = 1 };
	struct keel_rcache_reply rep;

	if (keel_rcache_call(sock, &q, NULL, &rep, NULL) || rep.status) {
		fprintf(stderr, "rcache_client: lookup of %" PRIx64 ":%" PRIu64 " failed\n", disk,
			block);
		exit(1);
	}
	if (rep.count)
		return 1;
	memset(buf, (int)(block & 0xff), 4096); /* what storage holds */
	q.op = KEEL_RCACHE_ADMIT;
	q.id = ++id;
	q.seq = rep.seq;
	if (keel_rcache_call(sock, &q, NULL, &rep, NULL) || rep.status) {
		fprintf(stderr, "rcache_client: admit failed\n");
		exit(1);
	}
	return 0;
}

static int do_mix(const char *path, unsigned long n, unsigned int hot, uint64_t scan_first,
		  unsigned short seed)
{
	struct keel_memh_opts o = { .prot = KEEL_MEMH_READ | KEEL_MEMH_WRITE };
	unsigned short xs[3] = { seed, 0x1234, 0x5678 };
	unsigned long hits[2] = { 0 }, reads[2] = { 0 };
	double *cdf = calloc(hot, sizeof(*cdf)), sum = 0;
	struct keel_memh *h;
	char why[512];
	unsigned char *buf =
		mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int sock;

	if (!cdf || !hot || buf == MAP_FAILED || keel_memh_create(buf, 4096, &o, &h)) {
		perror("rcache_client: handle");
		return 1;
	}
	sock = keel_rcache_connect(path, h, 5000, NULL, NULL, why, sizeof(why));
	if (sock < 0) {
		fprintf(stderr, "rcache_client: %s\n", why);
		return 1;
	}
	for (unsigned int i = 0; i < hot; i++)
		cdf[i] = sum += 1 / pow(i + 1, 0.8);
	for (unsigned long i = 0; i < n; i++) {
		if (i % 2 == 0) {
			double u = erand48(xs) * sum;
			unsigned int lo = 0, hi = hot - 1;

			while (lo < hi) {
				unsigned int mid = (lo + hi) / 2;

				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			/* spread the ranks over the disk: rank r is not block r */
			hits[0] +=
				read_block(sock, buf, HOT_DISK, ((uint64_t)lo * 2654435761u) % hot);
			reads[0]++;
		} else {
			hits[1] += read_block(sock, buf, SCAN_DISK, scan_first + i / 2);
			reads[1]++;
		}
	}
	printf("hot_hits %lu hot_reads %lu scan_hits %lu scan_reads %lu\n", hits[0], reads[0],
	       hits[1], reads[1]);
	free(cdf);
	return 0;
}

static int do_limit(const char *path, const char *disk, const char *blocks)
{
	char why[512], req[160], *ans = NULL;
	int sock = keel_rcache_connect(path, NULL, 5000, NULL, NULL, why, sizeof(why)), r;

	if (sock < 0) {
		fprintf(stderr, "rcache_client: %s\n", why);
		return 1;
	}
	snprintf(req, sizeof(req), "{\"op\": \"limit\", \"disk_id\": \"%016llx\", \"blocks\": %s}",
		 strtoull(disk, NULL, 16), blocks);
	r = keel_rcache_control(sock, req, &ans, why, sizeof(why));
	printf("%s\n", r ? why : ans);
	free(ans);
	return r ? 1 : 0;
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
	if (argc == 7 && !strcmp(argv[2], "mix"))
		return do_mix(argv[1], strtoul(argv[3], NULL, 10), (unsigned int)atoi(argv[4]),
			      strtoull(argv[5], NULL, 10), (unsigned short)atoi(argv[6]));
	if (argc == 5 && !strcmp(argv[2], "limit"))
		return do_limit(argv[1], argv[3], argv[4]);
	fprintf(stderr, "usage: rcache_client SOCKET revoke | hold SECONDS |\n"
			"       mix N HOT_BLOCKS SCAN_FIRST SEED | limit DISK_HEX BLOCKS\n");
	return 2;
}
