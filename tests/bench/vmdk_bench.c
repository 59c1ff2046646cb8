// SPDX-License-Identifier: GPL-2.0-only
/*
 * VMDK library throughput against qemu-img, the same work in the same run:
 *   import: a 256 MiB raw file (random data) into a new monolithicSparse
 *           (keel: read + keel_vmdk_pwrite in 1 MiB pieces, flush;
 *            qemu: qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse)
 *   export: that image back to a raw file
 *           (keel: keel_vmdk_pread + write in 1 MiB pieces, fsync;
 *            qemu: qemu-img convert -O raw)
 *   export of a streamOptimized image (zlib grains) the same way.
 * Prints seconds and MiB/s for each and keel/qemu throughput ratios.  Not
 * asserted.  Skips without qemu-img.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmdk/vmdk.h"

#define SIZE  (256ULL << 20)
#define CHUNK (1 << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(const char *cmd)
{
	double t = now();

	if (system(cmd)) {
		fprintf(stderr, "failed: %s\n", cmd);
		exit(1);
	}
	return now() - t;
}

static double keel_import(const char *raw, const char *img)
{
	struct keel_vmdk_create_opts o = { .size = SIZE, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	char err[512], *buf = malloc(CHUNK);
	struct keel_vmdk *d;
	double t = now();
	int fd = open(raw, O_RDONLY);

	if (fd < 0 || !buf || keel_vmdk_create(img, &o, err, sizeof(err)) ||
	    keel_vmdk_open(img, 0, &d, err, sizeof(err))) {
		fprintf(stderr, "keel import: %s\n", err);
		exit(1);
	}
	for (uint64_t off = 0; off < SIZE; off += CHUNK)
		if (pread(fd, buf, CHUNK, (off_t)off) != CHUNK ||
		    keel_vmdk_pwrite(d, buf, CHUNK, off))
			exit(1);
	keel_vmdk_flush(d);
	keel_vmdk_close(d);
	close(fd);
	free(buf);
	return now() - t;
}

static double keel_export(const char *img, const char *raw)
{
	char err[512], *buf = malloc(CHUNK);
	struct keel_vmdk *d;
	double t = now();
	int fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || !buf || keel_vmdk_open(img, KEEL_VMDK_RDONLY, &d, err, sizeof(err))) {
		fprintf(stderr, "keel export: %s\n", err);
		exit(1);
	}
	for (uint64_t off = 0; off < SIZE; off += CHUNK)
		if (keel_vmdk_pread(d, buf, CHUNK, off) ||
		    pwrite(fd, buf, CHUNK, (off_t)off) != CHUNK)
			exit(1);
	fsync(fd);
	close(fd);
	keel_vmdk_close(d);
	free(buf);
	return now() - t;
}

static void line(const char *what, double keel, double qemu)
{
	double mib = (double)(SIZE >> 20);

	printf("%-34s qemu-img %6.2f s %7.1f MiB/s | keel %6.2f s %7.1f MiB/s | keel/qemu %.2f\n",
	       what, qemu, mib / qemu, keel, mib / keel, qemu / keel);
}

int main(void)
{
	char dir[] = "/var/tmp/keel-vmdk-bench-XXXXXX", cmd[1024], raw[128], k[128], q[128], s[128];
	double tk, tq;

	if (system("command -v qemu-img >/dev/null")) {
		printf("vmdk_bench: skipped (no qemu-img)\n");
		return 0;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(raw, sizeof(raw), "%s/src.raw", dir);
	snprintf(k, sizeof(k), "%s/keel.vmdk", dir);
	snprintf(q, sizeof(q), "%s/qemu.vmdk", dir);
	snprintf(s, sizeof(s), "%s/stream.vmdk", dir);
	snprintf(cmd, sizeof(cmd), "head -c %llu /dev/urandom > %s && sync", SIZE, raw);
	run(cmd);
	snprintf(cmd, sizeof(cmd),
		 "qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse %s %s", raw, q);
	tq = run(cmd);
	tk = keel_import(raw, k);
	line("import 256 MiB -> monolithicSparse", tk, tq);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -O raw %s %s/q.raw && sync %s/q.raw", q, dir,
		 dir);
	tq = run(cmd);
	snprintf(cmd, sizeof(cmd), "%s/k.raw", dir);
	tk = keel_export(q, cmd);
	line("export monolithicSparse -> raw", tk, tq);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -O vmdk -o subformat=streamOptimized %s %s",
		 raw, s);
	run(cmd);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -O raw %s %s/q2.raw && sync %s/q2.raw", s, dir,
		 dir);
	tq = run(cmd);
	snprintf(cmd, sizeof(cmd), "%s/k2.raw", dir);
	tk = keel_export(s, cmd);
	line("export streamOptimized -> raw", tk, tq);
	snprintf(cmd, sizeof(cmd), "cmp %s/k.raw %s && cmp %s/k2.raw %s", dir, raw, dir, raw);
	if (system(cmd))
		printf("vmdk_bench: keel's exports differ from the source!\n");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
