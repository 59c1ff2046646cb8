// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VMDK library (agent/vmdk/): every writable createType round-trips
 * random unaligned writes (across grains and extent boundaries) against a
 * raw reference; delta chains read through to the base and write only the
 * top; a loop, a missing parent and a changed parent CID refuse to open;
 * several threads allocating grains at once lose nothing.
 */
#include <errno.h>
#include <pthread.h>

#include "vmdk_helpers.h"

/* Random writes to @path and to the raw file @ref alike, then compare the
 * written ranges (and the whole disk when small) after a reopen. */
static void exercise(const char *path, const char *ref, uint64_t size, int ops, uint64_t seed,
		     const uint64_t *hot, int nhot)
{
	char err[512];
	struct keel_vmdk *d;
	uint64_t(*ranges)[2] = calloc((size_t)ops, sizeof(*ranges));
	unsigned char *buf = malloc(300000), *got = malloc(300000 + 8192),
		      *want = malloc(300000 + 8192);
	int rfd = open(ref, O_RDWR | O_CREAT, 0644), r;

	cr_assert(ranges && buf && got && want && rfd >= 0);
	cr_assert(!ftruncate(rfd, (off_t)size));
	r = keel_vmdk_open(path, 0, &d, err, sizeof(err));
	cr_assert_eq(r, 0, "open %s: %s", path, err);
	cr_assert_eq(keel_vmdk_size(d), size);
	for (int i = 0; i < ops; i++) {
		uint64_t x = seed + (uint64_t)i * 7919, len = 1 + (x * 2654435761u) % 200000, off;

		/* some writes straddle the interesting offsets (grain and extent edges) */
		off = nhot && i % 2 ? hot[i / 2 % nhot] - len / 2 :
				      (x * 0x5851f42d4c957f2dULL) % size;
		if (off > size - 1)
			off = 0;
		if (len > size - off)
			len = size - off;
		pattern(buf, len, x);
		r = keel_vmdk_pwrite(d, buf, len, off);
		keel_vmdk_last_error(d, err, sizeof(err));
		cr_assert_eq(r, 0, "write %lu at %lu: %s", len, off, err);
		cr_assert(pwrite(rfd, buf, len, (off_t)off) == (ssize_t)len);
		ranges[i][0] = off;
		ranges[i][1] = len;
	}
	cr_assert_eq(keel_vmdk_flush(d), 0);
	keel_vmdk_close(d);
	r = keel_vmdk_open(path, KEEL_VMDK_RDONLY, &d, err, sizeof(err));
	cr_assert_eq(r, 0, "reopen %s: %s", path, err);
	for (int i = 0; i < ops; i++) {
		uint64_t off = ranges[i][0] > 4096 ? ranges[i][0] - 4096 : 0;
		uint64_t len = ranges[i][1] + 8192;

		if (len > size - off)
			len = size - off;
		cr_assert_eq(keel_vmdk_pread(d, got, len, off), 0);
		cr_assert(pread(rfd, want, len, (off_t)off) == (ssize_t)len);
		cr_assert(!memcmp(got, want, len), "%s: bytes %lu+%lu differ from the reference",
			  path, off, len);
	}
	keel_vmdk_close(d);
	close(rfd);
	if (size <= 64 << 20) {
		size_t n, m;
		void *a = read_disk(path, &n), *b = slurp(ref, &m);

		cr_assert(n == m && !memcmp(a, b, n), "%s: whole disk differs from the reference",
			  path);
		free(a);
		free(b);
	}
	cr_log_info("checked: %d random writes (1..200000 bytes, unaligned) read back through "
		    "a reopen of %s (%lu bytes)",
		    ops, strrchr(path, '/') + 1, size);
	free(ranges);
	free(buf);
	free(got);
	free(want);
}

static void roundtrip(enum keel_vmdk_type type, uint64_t size, const uint64_t *hot, int nhot)
{
	char *dir = scratch_dir(), err[512];
	char *path = pathf("%s/disk.vmdk", dir), *ref = pathf("%s/ref.raw", dir);
	struct keel_vmdk_create_opts o = { .size = size, .type = type };
	int r = keel_vmdk_create(path, &o, err, sizeof(err));

	cr_assert_eq(r, 0, "create: %s", err);
	exercise(path, ref, size, 60, type + 1, hot, nhot);
	free(path);
	free(ref);
	scratch_rm(dir);
}

static const uint64_t grain_edges[] = { 65536, 65536 * 512, 65536 * 512 * 2 + 65536, 12 << 20 };

Test(vmdk, monolithic_sparse_roundtrip)
{
	roundtrip(KEEL_VMDK_MONOLITHIC_SPARSE, (64 << 20) + 512 * 3, grain_edges, 4);
}

Test(vmdk, monolithic_flat_roundtrip)
{
	roundtrip(KEEL_VMDK_MONOLITHIC_FLAT, 40 << 20, grain_edges, 4);
}

/* 2047 MiB extents: 4 GiB + 1 MiB makes three, writes straddle both edges */
static const uint64_t extent_edges[] = { 2047ULL << 20, 4094ULL << 20, 65536 * 7 };

Test(vmdk, twogb_sparse_roundtrip)
{
	roundtrip(KEEL_VMDK_TWOGB_SPARSE, (4096ULL + 1) << 20, extent_edges, 3);
}

Test(vmdk, twogb_flat_roundtrip)
{
	roundtrip(KEEL_VMDK_TWOGB_FLAT, (4096ULL + 1) << 20, extent_edges, 3);
}

static int open_err(const char *path, unsigned int flags, char *err, size_t errlen)
{
	struct keel_vmdk *d = NULL;
	int r = keel_vmdk_open(path, flags, &d, err, errlen);

	keel_vmdk_close(d);
	return r;
}

static void write_at(const char *path, uint64_t off, size_t len, uint64_t seed)
{
	char err[512];
	struct keel_vmdk *d;
	void *buf = malloc(len);
	int r = keel_vmdk_open(path, 0, &d, err, sizeof(err));

	cr_assert_eq(r, 0, "open %s: %s", path, err);
	pattern(buf, len, seed);
	r = keel_vmdk_pwrite(d, buf, len, off);
	keel_vmdk_last_error(d, err, sizeof(err));
	cr_assert_eq(r, 0, "write: %s", err);
	keel_vmdk_close(d);
	free(buf);
}

Test(vmdk, delta_chain_reads_through_writes_top)
{
	char *dir = scratch_dir(), err[512];
	char *base = pathf("%s/base.vmdk", dir), *mid = pathf("%s/mid.vmdk", dir),
	     *top = pathf("%s/top.vmdk", dir);
	struct keel_vmdk_create_opts o = { .size = 8 << 20, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	size_t n, blen, blen2;
	unsigned char *want = calloc(1, 8 << 20), *got, *base_before, *base_after;
	struct keel_vmdk *d;
	unsigned int depth;
	uint32_t cid;

	cr_assert_eq(keel_vmdk_create(base, &o, err, sizeof(err)), 0, "%s", err);
	write_at(base, 0, 3 << 20, 1);
	pattern(want, 3 << 20, 1);
	o.parent = base;
	cr_assert_eq(keel_vmdk_create(mid, &o, err, sizeof(err)), 0, "%s", err);
	write_at(mid, 1000000, 70000, 2); /* partial grains: the rest comes from base */
	pattern(want + 1000000, 70000, 2);
	o.parent = mid;
	o.type = KEEL_VMDK_TWOGB_SPARSE;
	cr_assert_eq(keel_vmdk_create(top, &o, err, sizeof(err)), 0, "%s", err);
	base_before = slurp(base, &blen);
	write_at(top, 1050000, 5000, 3);
	pattern(want + 1050000, 5000, 3);
	write_at(top, 6 << 20, 100, 4);
	pattern(want + (6 << 20), 100, 4);
	base_after = slurp(base, &blen2);
	cr_assert(blen == blen2 && !memcmp(base_before, base_after, blen),
		  "writing the top delta changed the base");
	got = read_disk(top, &n);
	cr_assert_eq(n, 8 << 20);
	cr_assert(!memcmp(got, want, n), "the chain does not read as base + mid + top writes");
	cr_assert_eq(keel_vmdk_open(top, KEEL_VMDK_RDONLY, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_layer_of(d, 1052000, &depth, &cid), 0);
	cr_assert_eq(depth, 0);
	cr_assert_eq(cid, keel_vmdk_cid(d));
	cr_assert_eq(keel_vmdk_layer_of(d, 1000000, &depth, &cid), 0);
	cr_assert_eq(depth, 1);
	cr_assert_eq(keel_vmdk_layer_of(d, 10, &depth, &cid), 0);
	cr_assert_eq(depth, 2);
	cr_assert_eq(keel_vmdk_layer_of(d, 7 << 20, &depth, &cid), -ENOENT);
	keel_vmdk_close(d);
	cr_log_info(
		"checked: a 3-layer chain (sparse, sparse, twoGb sparse) reads base+mid+top, "
		"the base file is byte-identical after writes to the top, layer_of gives 0/1/2/ENOENT");
	free(want);
	free(got);
	free(base_before);
	free(base_after);
	free(base);
	free(mid);
	free(top);
	scratch_rm(dir);
}

Test(vmdk, delta_errors_missing_parent_cid_mismatch_loop)
{
	char *dir = scratch_dir(), err[512];
	char *base = pathf("%s/base.vmdk", dir), *d1 = pathf("%s/d1.vmdk", dir),
	     *d2 = pathf("%s/d2.vmdk", dir), *moved = pathf("%s/moved.vmdk", dir);
	struct keel_vmdk_create_opts o = { .size = 4 << 20, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	struct keel_vmdk *d;
	char *text, *p;
	size_t n;
	uint32_t d2cid;
	int r;

	cr_assert_eq(keel_vmdk_create(base, &o, err, sizeof(err)), 0, "%s", err);
	o.parent = base;
	o.type = KEEL_VMDK_TWOGB_SPARSE; /* text descriptors, easy to edit */
	cr_assert_eq(keel_vmdk_create(d1, &o, err, sizeof(err)), 0, "%s", err);
	o.parent = d1;
	cr_assert_eq(keel_vmdk_create(d2, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(open_err(d2, 0, err, sizeof(err)), 0, "%s", err);

	/* missing parent */
	cr_assert(!rename(base, moved));
	r = open_err(d2, 0, err, sizeof(err));
	cr_assert_eq(r, -ENOENT, "missing parent: %d %s", r, err);
	cr_assert(strstr(err, "d1.vmdk") && strstr(err, "parentFileNameHint") &&
			  strstr(err, "base.vmdk"),
		  "missing parent: %s", err);
	cr_log_info("missing parent: %s", err);
	cr_assert(!rename(moved, base));

	/* the base written after the deltas were made: its CID changed */
	write_at(base, 0, 512, 9);
	r = open_err(d2, 0, err, sizeof(err));
	cr_assert_eq(r, -ESTALE, "cid mismatch: %d %s", r, err);
	cr_assert(strstr(err, "d1.vmdk") && strstr(err, "parentCID"), "cid mismatch: %s", err);
	cr_log_info("changed parent: %s", err);

	/* a loop: d1 made to name d2 (with d2's CID) as its parent */
	cr_assert_eq(keel_vmdk_open(d2, KEEL_VMDK_RDONLY, &d, err, sizeof(err)), -ESTALE);
	text = slurp(d2, &n);
	p = strstr(text, "\nCID=");
	cr_assert(p && sscanf(p + 5, "%x", &d2cid) == 1);
	free(text);
	text = slurp(d1, &n);
	text[n] = '\0';
	p = strstr(text, "parentCID=");
	cr_assert(p);
	snprintf(p + 10, 9, "%08x", d2cid);
	p[18] = '\n';
	p = strstr(text, "parentFileNameHint=\"base.vmdk\"");
	cr_assert(p);
	memcpy(p + 20, "d2.v", 4); /* same length: "d2.vmdk\"" replaces "base.vmdk" */
	memmove(p + 24, p + 26, strlen(p + 26) + 1);
	spit(d1, text, strlen(text));
	free(text);
	r = open_err(d2, 0, err, sizeof(err));
	cr_assert_eq(r, -ELOOP, "loop: %d %s", r, err);
	cr_assert(strstr(err, "loop") && strstr(err, "d2.vmdk"), "loop: %s", err);
	cr_log_info("loop: %s", err);
	free(base);
	free(d1);
	free(d2);
	free(moved);
	scratch_rm(dir);
}

Test(vmdk, cid_changes_once_per_open_and_rdonly_refuses)
{
	char *dir = scratch_dir(), err[512];
	char *path = pathf("%s/a.vmdk", dir);
	struct keel_vmdk_create_opts o = { .size = 1 << 20, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	struct keel_vmdk *d;
	char buf[512] = "x";
	uint32_t c0, c1;

	cr_assert_eq(keel_vmdk_create(path, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_open(path, KEEL_VMDK_RDONLY, &d, err, sizeof(err)), 0);
	c0 = keel_vmdk_cid(d);
	cr_assert_eq(keel_vmdk_pwrite(d, buf, 512, 0), -EROFS);
	keel_vmdk_close(d);
	cr_assert_eq(keel_vmdk_open(path, 0, &d, err, sizeof(err)), 0);
	cr_assert_eq(keel_vmdk_cid(d), c0);
	cr_assert_eq(keel_vmdk_pwrite(d, buf, 512, 0), 0);
	c1 = keel_vmdk_cid(d);
	cr_assert_neq(c1, c0);
	cr_assert_eq(keel_vmdk_pwrite(d, buf, 512, 512), 0);
	cr_assert_eq(keel_vmdk_cid(d), c1);
	cr_assert_eq(keel_vmdk_pwrite(d, buf, 512, 1 << 20), -EINVAL);
	keel_vmdk_close(d);
	cr_assert_eq(keel_vmdk_open(path, KEEL_VMDK_RDONLY, &d, err, sizeof(err)), 0);
	cr_assert_eq(keel_vmdk_cid(d), c1, "the new CID is not on disk");
	cr_assert_str_eq(keel_vmdk_ddb(d, "ddb.adapterType"), "ide");
	keel_vmdk_close(d);
	cr_log_info("checked: CID %08x -> %08x on the first write only, kept on disk; "
		    "read-only opens refuse writes; writes past the end fail",
		    c0, c1);
	free(path);
	scratch_rm(dir);
}

Test(vmdk, zero_hides_parent_data)
{
	char *dir = scratch_dir(), err[512];
	char *base = pathf("%s/b.vmdk", dir), *top = pathf("%s/t.vmdk", dir);
	struct keel_vmdk_create_opts o = { .size = 4 << 20, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	struct keel_vmdk *d;
	unsigned char *got;
	size_t n;

	cr_assert_eq(keel_vmdk_create(base, &o, err, sizeof(err)), 0, "%s", err);
	write_at(base, 0, 4 << 20, 5);
	o.parent = base;
	cr_assert_eq(keel_vmdk_create(top, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_open(top, 0, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_zero(d, 100000, 200000), 0);
	keel_vmdk_close(d);
	got = read_disk(top, &n);
	for (size_t i = 100000; i < 300000; i++)
		cr_assert_eq(got[i], 0, "byte %zu not zeroed", i);
	cr_assert_neq(got[99999] | got[300000], 0);
	free(got);
	cr_log_info(
		"checked: zeroing 200000 bytes of a delta reads zeros there, the parent around");
	free(base);
	free(top);
	scratch_rm(dir);
}

static pthread_barrier_t grain_barrier;

struct writer {
	const char *path;
	struct keel_vmdk *d;
	int id;
};

/* each thread writes its own 16 KiB quarter of every 64 KiB grain */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[16384];

	for (uint64_t g = 0; g < 256; g++) {
		pattern(buf, sizeof(buf), g * 4 + (uint64_t)w->id);
		/* all four reach each grain together: they race to allocate it */
		pthread_barrier_wait(&grain_barrier);
		if (keel_vmdk_pwrite(w->d, buf, sizeof(buf), g * 65536 + (uint64_t)w->id * 16384))
			return (void *)1;
	}
	return NULL;
}

Test(vmdk, concurrent_grain_allocation)
{
	char *dir = scratch_dir(), err[512];
	char *path = pathf("%s/c.vmdk", dir);
	struct keel_vmdk_create_opts o = { .size = 16 << 20, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	struct writer w[4];
	pthread_t t[4];
	struct keel_vmdk *d;
	unsigned char *got, want[16384];
	json_t *report = json_object();
	size_t n;

	struct stat st0, st1;

	for (int round = 0; round < 4; round++) {
		unlink(path);
		cr_assert_eq(keel_vmdk_create(path, &o, err, sizeof(err)), 0, "%s", err);
		cr_assert(!stat(path, &st0));
		cr_assert_eq(keel_vmdk_open(path, 0, &d, err, sizeof(err)), 0, "%s", err);
		pthread_barrier_init(&grain_barrier, NULL, 4);
		for (int i = 0; i < 4; i++) {
			w[i] = (struct writer){ .path = path, .d = d, .id = i };
			cr_assert(!pthread_create(&t[i], NULL, writer_main, &w[i]));
		}
		for (int i = 0; i < 4; i++) {
			void *ret;

			pthread_join(t[i], &ret);
			cr_assert_null(ret, "thread %d failed", i);
		}
		pthread_barrier_destroy(&grain_barrier);
		keel_vmdk_close(d);
		got = read_disk(path, &n);
		for (uint64_t g = 0; g < 256; g++)
			for (int i = 0; i < 4; i++) {
				pattern(want, sizeof(want), g * 4 + (uint64_t)i);
				cr_assert(!memcmp(got + g * 65536 + i * 16384, want, sizeof(want)),
					  "grain %lu quarter %d lost", g, i);
			}
		cr_assert_eq(keel_vmdk_check(path, report, err, sizeof(err)), 0, "check: %s", err);
		cr_assert_eq(
			json_integer_value(json_object_get(
				json_array_get(
					json_object_get(
						json_array_get(json_object_get(report, "layers"), 0),
						"extents"),
					0),
				"allocated_grains")),
			256);
		/* each grain appended once: a grain allocated twice grows the file */
		cr_assert(!stat(path, &st1));
		cr_assert_eq(st1.st_size - st0.st_size, 256 * 65536,
			     "round %d: %ld bytes of grains for 256", round,
			     (long)(st1.st_size - st0.st_size));
		free(got);
	}
	json_decref(report);
	cr_log_info(
		"checked: 4 rounds of 4 threads racing to allocate the same 256 grains lose no write, "
		"allocate each grain once (file grows by 256 grains; keel_vmdk_check: 256 grains, clean)");
	free(path);
	scratch_rm(dir);
}

Test(vmdk, zero_flat_punches_holes)
{
	char *dir = scratch_dir(), err[512];
	char *path = pathf("%s/f.vmdk", dir), *flat = pathf("%s/f-flat.vmdk", dir);
	struct keel_vmdk_create_opts o = { .size = 64 << 20, .type = KEEL_VMDK_MONOLITHIC_FLAT };
	struct keel_vmdk *d;
	unsigned char *got, *buf = malloc(64 << 20);
	struct stat st;
	long before;
	uint32_t cid;
	size_t n;

	cr_assert_eq(keel_vmdk_create(path, &o, err, sizeof(err)), 0, "%s", err);
	pattern(buf, 64 << 20, 3);
	cr_assert_eq(keel_vmdk_open(path, 0, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_pwrite(d, buf, 64 << 20, 0), 0);
	cr_assert_eq(keel_vmdk_flush(d), 0);
	keel_vmdk_close(d);
	cr_assert(!stat(flat, &st));
	before = (long)st.st_blocks;
	cr_assert_eq(keel_vmdk_open(path, 0, &d, err, sizeof(err)), 0, "%s", err);
	cid = keel_vmdk_cid(d);
	cr_assert_eq(keel_vmdk_zero(d, 1 << 20, 60 << 20), 0);
	cr_assert_neq(keel_vmdk_cid(d), cid, "zeroing is a write: a new CID");
	keel_vmdk_close(d);
	cr_assert(!stat(flat, &st));
	got = read_disk(path, &n);
	memset(buf + (1 << 20), 0, 60 << 20);
	cr_assert(!memcmp(got, buf, n), "zeroed range does not read as zeros, or more was zeroed");
	cr_assert_lt((long)st.st_blocks, before / 2, "no hole punched: %ld blocks, %ld before",
		     (long)st.st_blocks, before);
	cr_log_info("checked: zeroing 60 MiB of a flat disk reads zeros there, the rest kept, the "
		    "file's blocks %ld -> %ld (a hole), new CID",
		    before, (long)st.st_blocks);
	free(got);
	free(buf);
	free(path);
	free(flat);
	scratch_rm(dir);
}

/* An ESX-style descriptor: CRLF lines, comments, encoding, createType vmfs
 * with a VMFS extent, ddb keys keel does not use; a write rewrites it with
 * a new CID and every other key kept. */
Test(vmdk, vmware_descriptor_crlf_kept_keys)
{
	static const char desc[] =
		"# Disk DescriptorFile\r\n"
		"version=1\r\n"
		"encoding=\"UTF-8\"\r\n"
		"CID=fffffffe\r\n"
		"parentCID=ffffffff\r\n"
		"isNativeSnapshot=\"no\"\r\n"
		"createType=\"vmfs\"\r\n"
		"\r\n"
		"# Extent description\r\n"
		"RW 2048 VMFS \"vm1-flat.vmdk\"\r\n"
		"\r\n"
		"# The Disk Data Base \r\n"
		"#DDB\r\n"
		"\r\n"
		"ddb.adapterType = \"lsilogic\"\r\n"
		"ddb.uuid = \"60 00 C2 9a 7b 1c 4e 3d-8a 2f 11 22 33 44 55 66\"\r\n"
		"ddb.longContentID = \"0123456789abcdef0123456789abcdef\"\r\n";
	char *dir = scratch_dir(), err[512];
	char *path = pathf("%s/vm1.vmdk", dir), *flat = pathf("%s/vm1-flat.vmdk", dir);
	struct keel_vmdk *d;
	char buf[512], *text;
	size_t n;

	spit(path, desc, sizeof(desc) - 1);
	cr_assert_eq(shell("truncate -s 1M %s", flat), 0);
	cr_assert_eq(keel_vmdk_open(path, 0, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_size(d), 1 << 20);
	cr_assert_eq(keel_vmdk_cid(d), 0xfffffffe);
	cr_assert_str_eq(keel_vmdk_ddb(d, "ddb.adapterType"), "lsilogic");
	memset(buf, 0x61, sizeof(buf));
	cr_assert_eq(keel_vmdk_pwrite(d, buf, sizeof(buf), 4096), 0);
	keel_vmdk_close(d);
	text = slurp(path, &n);
	text[n] = '\0';
	cr_assert(!strstr(text, "CID=fffffffe"), "the CID did not change:\n%s", text);
	cr_assert(strstr(text, "ddb.uuid = \"60 00 C2 9a 7b 1c 4e 3d-8a 2f 11 22 33 44 55 66\"") &&
			  strstr(text,
				 "ddb.longContentID = \"0123456789abcdef0123456789abcdef\"") &&
			  strstr(text, "encoding=\"UTF-8\"") &&
			  strstr(text, "isNativeSnapshot=\"no\"") &&
			  strstr(text, "createType=\"vmfs\"") &&
			  strstr(text, "RW 2048 VMFS \"vm1-flat.vmdk\" 0"),
		  "a key was lost in the rewrite:\n%s", text);
	free(text);
	text = slurp(flat, &n);
	cr_assert_eq(text[4096], 0x61);
	free(text);
	cr_log_info("checked: a CRLF ESX descriptor (vmfs, VMFS extent) opens, is written, and its "
		    "rewrite keeps encoding, isNativeSnapshot, ddb.uuid, ddb.longContentID");
	free(path);
	free(flat);
	scratch_rm(dir);
}

/* QEMU rewrites a descriptor file in place when it changes the CID, and
 * prints CIDs without leading zeros: a shorter CID leaves the old text's
 * tail after a NUL.  Seen in this suite once in a few runs (qemu-io into a
 * twoGbMaxExtentFlat); made here on purpose. */
Test(vmdk, descriptor_tail_after_nul)
{
	static const char desc[] =
		"# Disk DescriptorFile\nversion=1\nCID=1a2b\nparentCID=ffffffff\n"
		"createType=\"monolithicFlat\"\nRW 2048 FLAT \"t-flat.vmdk\" 0\n"
		"\0d\nddb.adapterType = \"ide\"\n";
	char *dir = scratch_dir(), err[512];
	char *path = pathf("%s/t.vmdk", dir), *flat = pathf("%s/t-flat.vmdk", dir);
	struct keel_vmdk *d;

	spit(path, desc, sizeof(desc) - 1);
	cr_assert_eq(shell("truncate -s 1M %s", flat), 0);
	cr_assert_eq(keel_vmdk_open(path, 0, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_cid(d), 0x1a2b);
	cr_assert_null(keel_vmdk_ddb(d, "ddb.adapterType"), "text after the NUL was parsed");
	keel_vmdk_close(d);
	cr_log_info("checked: a descriptor file with the old text's tail after a NUL opens; the "
		    "tail is ignored");
	free(path);
	free(flat);
	scratch_rm(dir);
}
