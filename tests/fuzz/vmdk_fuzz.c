// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the VMDK parser (agent/vmdk/): each input is written
 * as fuzz.vmdk beside two fixed extent files (f.raw, a flat file, and
 * base.vmdk, a small keel sparse disk) and opened read only; if it opens,
 * reads at the edges and in the middle, layer_of and keel_vmdk_check run.
 * A single-file sparse disk is also opened for writing: a write must read
 * back.  Built with clang -fsanitize=fuzzer,address,undefined; the seed
 * corpus is made by tests/fuzz/vmdk/make_seeds.py.  tests/host/test_vmdk_fuzz.sh
 * makes it under build/ and runs the fuzzer for a bounded time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmdk/vmdk_int.h"

static char dir[64], input[128]; /* scratch files, removed at exit */

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "vmdk_fuzz: could not remove %s\n", dir);
}

static void setup(void)
{
	struct keel_vmdk_create_opts o = { .size = 1 << 20, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	const char *tmp = getenv("TMPDIR");
	char path[160], err[512];
	int fd;

	snprintf(dir, sizeof(dir), "%s/keel-vmdk-fuzz-XXXXXX",
		 tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(input, sizeof(input), "%s/fuzz.vmdk", dir);
	snprintf(path, sizeof(path), "%s/f.raw", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 1 << 20))
		abort();
	close(fd);
	snprintf(path, sizeof(path), "%s/base.vmdk", dir);
	if (keel_vmdk_create(path, &o, err, sizeof(err)))
		abort();
}

static void try_write(const char *path)
{
	struct keel_vmdk *d;
	char err[512];
	unsigned char buf[4096], got[4096];
	uint64_t off;

	if (keel_vmdk_open(path, 0, &d, err, sizeof(err)))
		return;
	/* only a lone sparse file: the fixed extent files stay as they are */
	if (d->desc_sparse && d->next == 1 && d->ext[0].sparse == d->desc_sparse && !d->parent &&
	    d->desc_sparse->ngts <= 64) {
		off = d->size > sizeof(buf) ? (d->size - sizeof(buf)) / 2 : 0;
		memset(buf, 0x5c, sizeof(buf));
		if (d->size >= sizeof(buf) && !keel_vmdk_pwrite(d, buf, sizeof(buf), off)) {
			if (keel_vmdk_pread(d, got, sizeof(got), off) ||
			    memcmp(buf, got, sizeof(buf)))
				abort(); /* a write that succeeded must read back */
		}
	}
	keel_vmdk_close(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct keel_vmdk *d;
	char err[512];
	unsigned char buf[8192];
	json_t *report;
	int fd;

	if (!ready) {
		setup();
		ready = 1;
	}
	fd = open(input, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	if (!keel_vmdk_open(input, KEEL_VMDK_RDONLY, &d, err, sizeof(err))) {
		uint64_t sz = keel_vmdk_size(d),
			 offs[] = { 0, sz / 2, sz - 1, sz > 65536 ? 65535 : 0 };
		unsigned int depth;
		uint32_t cid;

		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			size_t n = sz - offs[i] < sizeof(buf) ? (size_t)(sz - offs[i]) :
								sizeof(buf);

			keel_vmdk_pread(d, buf, n, offs[i]);
			keel_vmdk_layer_of(d, offs[i], &depth, &cid);
		}
		keel_vmdk_ddb(d, "ddb.adapterType");
		keel_vmdk_close(d);
		report = json_object();
		keel_vmdk_check(input, report, err, sizeof(err));
		json_decref(report);
		if (size <= (1 << 20))
			try_write(input);
	} else if (!err[0]) {
		abort(); /* every refusal says why */
	}
	return 0;
}
