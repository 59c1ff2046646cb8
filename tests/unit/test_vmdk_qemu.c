// SPDX-License-Identifier: GPL-2.0-only
/*
 * VMDK compatibility with QEMU, both ways (qemu-img and qemu-io from
 * qemu-utils): images QEMU makes in every subformat, with known data
 * written by qemu-io, read byte-identical through keel; images keel makes
 * and writes pass `qemu-img check` and `qemu-img compare` against a raw file
 * of the data written; delta chains made by either side read on the other.
 */
#include <errno.h>
#include <inttypes.h>

#include "vmdk_helpers.h"

static const char *const subformats[] = {
	"monolithicSparse",   "monolithicFlat",	 "twoGbMaxExtentSparse",
	"twoGbMaxExtentFlat", "streamOptimized",
};

static void need_qemu(void)
{
	if (shell("command -v qemu-img >/dev/null && command -v qemu-io >/dev/null"))
		cr_skip_test("qemu-img/qemu-io not installed (qemu-utils)");
}

#define SIZE (24 << 20)

/* the raw reference: patterns at grain edges, zeros elsewhere */
static void make_ref(const char *ref)
{
	unsigned char *buf = calloc(1, SIZE);

	pattern(buf + 3, 70000, 1);
	pattern(buf + (8 << 20) - 1000, 140000, 2);
	pattern(buf + SIZE - 4096, 4096, 3);
	memset(buf + (16 << 20), 0xab, 65536 * 3);
	spit(ref, buf, SIZE);
	free(buf);
}

static void cmp_with_ref(const char *img, const char *ref)
{
	size_t n, m;
	unsigned char *a = read_disk(img, &n), *b = slurp(ref, &m);

	cr_assert_eq(n, m, "%s: size %zu, the reference %zu", img, n, m);
	if (memcmp(a, b, n))
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(a[i], b[i],
				     "%s: byte %zu reads %02x through keel, qemu wrote %02x", img,
				     i, a[i], b[i]);
	free(a);
	free(b);
}

Test(vmdk_qemu, qemu_images_read_identical)
{
	char *dir, *ref, *img;

	need_qemu();
	dir = scratch_dir();
	ref = pathf("%s/ref.raw", dir);
	make_ref(ref);
	for (size_t i = 0; i < sizeof(subformats) / sizeof(subformats[0]); i++) {
		img = pathf("%s/conv-%s.vmdk", dir, subformats[i]);
		cr_assert_eq(shell("qemu-img convert -f raw -O vmdk -o subformat=%s %s %s",
				   subformats[i], ref, img),
			     0);
		cmp_with_ref(img, ref);
		cr_log_info("checked: qemu-img convert -o subformat=%s reads byte-identical",
			    subformats[i]);
		free(img);
	}
	/* qemu-io writes into images qemu-img created empty */
	for (size_t i = 0; i < 4; i++) {
		img = pathf("%s/io-%s.vmdk", dir, subformats[i]);
		cr_assert_eq(shell("qemu-img create -q -f vmdk -o subformat=%s %s %d",
				   subformats[i], img, SIZE),
			     0);
		cr_assert_eq(
			shell("qemu-io -f vmdk -c 'write -q -P 0x5a 65000 70000' "
			      "-c 'write -q -P 0x11 8388000 200000' -c 'write -q -P 0xfe %d 512' %s",
			      SIZE - 512, img),
			0);
		{
			size_t n;
			unsigned char *got = read_disk(img, &n), *want = calloc(1, SIZE);

			memset(want + 65000, 0x5a, 70000);
			memset(want + 8388000, 0x11, 200000);
			memset(want + SIZE - 512, 0xfe, 512);
			cr_assert(n == SIZE && !memcmp(got, want, n),
				  "%s: qemu-io's writes do not read back", img);
			free(got);
			free(want);
		}
		cr_log_info("checked: qemu-io writes into an empty %s read back through keel",
			    subformats[i]);
		free(img);
	}
	free(ref);
	scratch_rm(dir);
}

static void keel_write_ref(const char *img, const char *ref, uint64_t seed)
{
	char err[512];
	struct keel_vmdk *d;
	size_t n;
	unsigned char *buf = slurp(ref, &n);

	(void)seed;
	cr_assert_eq(keel_vmdk_open(img, 0, &d, err, sizeof(err)), 0, "%s", err);
	/* in odd pieces, so grains fill from several writes */
	for (size_t off = 0; off < n;) {
		size_t len = 1 + (off * 31 + 12345) % 99991;

		if (len > n - off)
			len = n - off;
		/* skip all-zero pieces: they must read as zeros without being written */
		for (size_t i = 0; i < len; i++)
			if (buf[off + i]) {
				cr_assert_eq(keel_vmdk_pwrite(d, buf + off, len, off), 0);
				break;
			}
		off += len;
	}
	cr_assert_eq(keel_vmdk_flush(d), 0);
	keel_vmdk_close(d);
	free(buf);
}

Test(vmdk_qemu, keel_images_pass_qemu_check_and_compare)
{
	static const enum keel_vmdk_type types[] = {
		KEEL_VMDK_MONOLITHIC_SPARSE,
		KEEL_VMDK_MONOLITHIC_FLAT,
		KEEL_VMDK_TWOGB_SPARSE,
		KEEL_VMDK_TWOGB_FLAT,
	};
	char *dir, *ref, *img, err[512];

	need_qemu();
	dir = scratch_dir();
	ref = pathf("%s/ref.raw", dir);
	make_ref(ref);
	for (size_t i = 0; i < 4; i++) {
		struct keel_vmdk_create_opts o = { .size = SIZE, .type = types[i] };

		img = pathf("%s/keel-%s.vmdk", dir, keel_vmdk_type_name(types[i]));
		cr_assert_eq(keel_vmdk_create(img, &o, err, sizeof(err)), 0, "%s", err);
		keel_write_ref(img, ref, i);
		cr_assert_eq(shell("qemu-img check -q -f vmdk %s", img), 0, "qemu-img check %s",
			     img);
		cr_assert_eq(shell("qemu-img compare -q -f vmdk -F raw %s %s", img, ref), 0,
			     "qemu-img compare %s", img);
		cr_assert_eq(shell("qemu-img info %s | grep -q 'create type: %s'", img,
				   keel_vmdk_type_name(types[i])),
			     0, "qemu-img info %s", img);
		cr_log_info("checked: keel-made %s passes qemu-img check and compares equal to the "
			    "raw data written",
			    keel_vmdk_type_name(types[i]));
		free(img);
	}
	/* keel writing into a qemu-made sparse image */
	img = pathf("%s/qemu-made.vmdk", dir);
	cr_assert_eq(shell("qemu-img create -q -f vmdk -o subformat=monolithicSparse %s %d", img,
			   SIZE),
		     0);
	keel_write_ref(img, ref, 9);
	cr_assert_eq(shell("qemu-img check -q -f vmdk %s", img), 0);
	cr_assert_eq(shell("qemu-img compare -q -f vmdk -F raw %s %s", img, ref), 0);
	cr_log_info(
		"checked: keel's writes into a qemu-made monolithicSparse pass check and compare");
	free(img);
	free(ref);
	scratch_rm(dir);
}

Test(vmdk_qemu, delta_chains_both_ways)
{
	char *dir, *ref, *base, *qd, *kd, *qraw, *kref, err[512];
	struct keel_vmdk_create_opts o = { .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	unsigned char *buf;
	size_t n;

	need_qemu();
	dir = scratch_dir();
	ref = pathf("%s/ref.raw", dir);
	base = pathf("%s/base.vmdk", dir);
	qd = pathf("%s/qdelta.vmdk", dir);
	kd = pathf("%s/kdelta.vmdk", dir);
	qraw = pathf("%s/qdelta.raw", dir);
	kref = pathf("%s/kdelta.raw", dir);
	make_ref(ref);
	cr_assert_eq(shell("qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse %s %s",
			   ref, base),
		     0);

	/* qemu's delta: qemu-img create -b, qemu-io writes; keel reads it */
	cr_assert_eq(shell("cd %s && qemu-img create -q -f vmdk -b base.vmdk -F vmdk qdelta.vmdk",
			   dir),
		     0);
	cr_assert_eq(
		shell("qemu-io -f vmdk -c 'write -q -P 0x77 70000 5000' -c 'write -q -P 0x66 %d 4' %s",
		      SIZE - 4, qd),
		0);
	cr_assert_eq(shell("qemu-img convert -O raw %s %s", qd, qraw), 0);
	cmp_with_ref(qd, qraw);
	cr_log_info("checked: a qemu-made delta (qemu-io writes over a qemu base) reads identical "
		    "through keel");

	/* keel's delta on the qemu base, written by keel; qemu checks and compares it */
	o.parent = base;
	cr_assert_eq(keel_vmdk_create(kd, &o, err, sizeof(err)), 0, "%s", err);
	buf = slurp(ref, &n);
	pattern(buf + 5000000, 300000, 42);
	spit(kref, buf, n);
	{
		struct keel_vmdk *d;

		cr_assert_eq(keel_vmdk_open(kd, 0, &d, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(keel_vmdk_pwrite(d, buf + 5000000, 300000, 5000000), 0);
		keel_vmdk_close(d);
	}
	free(buf);
	cr_assert_eq(shell("qemu-img check -q %s", kd), 0);
	cr_assert_eq(shell("qemu-img compare -q -F raw %s %s", kd, kref), 0);
	cr_assert_eq(shell("qemu-img info --backing-chain %s | grep -c '^image:' | grep -qx 2", kd),
		     0);
	cr_log_info(
		"checked: a keel-made delta on a qemu base passes qemu-img check, compares equal, "
		"qemu sees a 2-layer chain");
	free(ref);
	free(base);
	free(qd);
	free(kd);
	free(qraw);
	free(kref);
	scratch_rm(dir);
}

Test(vmdk_qemu, stream_optimized_is_read_only)
{
	char *dir, *ref, *img, err[512];
	struct keel_vmdk *d = NULL;

	need_qemu();
	dir = scratch_dir();
	ref = pathf("%s/ref.raw", dir);
	img = pathf("%s/s.vmdk", dir);
	make_ref(ref);
	cr_assert_eq(shell("qemu-img convert -O vmdk -o subformat=streamOptimized %s %s", ref, img),
		     0);
	cr_assert_eq(keel_vmdk_open(img, 0, &d, err, sizeof(err)), -EROFS);
	cr_assert(strstr(err, "streamOptimized"), "%s", err);
	cr_log_info("checked: opening streamOptimized for writing fails: %s", err);
	cr_assert_eq(keel_vmdk_open(img, KEEL_VMDK_RDONLY, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_type(d), KEEL_VMDK_STREAM_OPTIMIZED);
	{
		/* 4 KiB pieces, forwards then in a scattered order: the kept
		 * inflated grain must never serve another grain's bytes */
		size_t m;
		unsigned char *want = slurp(ref, &m), piece[4096];

		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < SIZE / 4096; i++) {
				size_t k = pass ? (i * 2741) % (SIZE / 4096) : i;

				cr_assert_eq(keel_vmdk_pread(d, piece, 4096, k * 4096), 0);
				cr_assert(!memcmp(piece, want + k * 4096, 4096),
					  "piece %zu differs", k);
			}
		free(want);
		cr_log_info(
			"checked: streamOptimized read in 4 KiB pieces, in order and scattered");
	}
	keel_vmdk_close(d);
	free(ref);
	free(img);
	scratch_rm(dir);
}

/* VMware's streamOptimized layout (gdOffset "at the end", the header again in
 * a footer, compressed grains behind markers) and a tiny hand-laid sparse
 * disk, from tests/fuzz/vmdk/make_seeds.py: keel and qemu read the same. */
Test(vmdk_qemu, vmware_stream_footer_and_tiny_grains)
{
	static const char *const names[] = { "stream-footer.vmdk", "tiny-sparse.vmdk" };
	static const int grains[2][2] = { { 1, 5 }, { 0, 3 } };
	char *dir, *img, *raw;
	unsigned char *got, want[32768];
	size_t n;

	need_qemu();
	if (shell("command -v python3 >/dev/null"))
		cr_skip_test("no python3");
	dir = scratch_dir();
	{
		/* the tree is three levels above build/tests/unit/<this test> */
		char exe[4096];
		ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		cr_assert(len > 0);
		exe[len] = '\0';
		for (int up = 0; up < 4; up++)
			*strrchr(exe, '/') = '\0';
		cr_assert_eq(shell("python3 %s/tests/fuzz/vmdk/make_seeds.py %s", exe, dir), 0);
	}
	for (int k = 0; k < 2; k++) {
		img = pathf("%s/%s", dir, names[k]);
		raw = pathf("%s/%s.raw", dir, names[k]);
		memset(want, 0, sizeof(want));
		for (int j = 0; j < 2; j++)
			for (int i = 0; i < 4096; i++)
				want[grains[k][j] * 4096 + i] =
					(unsigned char)(grains[k][j] * 7 + i);
		got = read_disk(img, &n);
		cr_assert(n == sizeof(want) && !memcmp(got, want, n), "%s: keel reads other data",
			  img);
		cr_assert_eq(shell("qemu-img convert -O raw %s %s", img, raw), 0);
		free(got);
		got = slurp(raw, &n);
		cr_assert(n == sizeof(want) && !memcmp(got, want, n), "%s: qemu reads other data",
			  img);
		cr_log_info(
			"checked: %s reads the written grains and zeros elsewhere, as qemu-img does",
			names[k]);
		free(got);
		free(img);
		free(raw);
	}
	scratch_rm(dir);
}

/* qemu's zeroed_grain option: `write -z` leaves table entries of 1 that
 * must read as zeros, not as the sector 1 they would otherwise name. */
Test(vmdk_qemu, zeroed_grains)
{
	char *dir, *img, *raw;
	unsigned char *a, *b;
	size_t n, m;

	need_qemu();
	dir = scratch_dir();
	img = pathf("%s/zg.vmdk", dir);
	raw = pathf("%s/zg.raw", dir);
	cr_assert_eq(
		shell("qemu-img create -q -f vmdk -o zeroed_grain=on %s 4M && "
		      "qemu-io -f vmdk -c 'write -q -P 0x33 0 1M' -c 'write -q -z 65536 131072' %s && "
		      "qemu-img convert -O raw %s %s",
		      img, img, img, raw),
		0);
	a = read_disk(img, &n);
	b = slurp(raw, &m);
	cr_assert(n == m && !memcmp(a, b, n), "zeroed grains read differently from qemu");
	cr_assert(a[65536] == 0 && a[65535] == 0x33 && a[196608] == 0x33);
	cr_log_info("checked: grains qemu zeroed with write -z (entries of 1) read as zeros");
	free(a);
	free(b);
	free(img);
	free(raw);
	scratch_rm(dir);
}

/* A delta whose table says "zeroed" (entry 1, qemu's `write -z` with
 * zeroed_grain=on) reads zeros there, not the parent: a partial write into
 * such a grain must fill the rest of the grain with zeros, not with what the
 * parent holds, or data the guest zeroed comes back.  The second write
 * crosses from a zeroed grain into one the delta does not hold, so one
 * allocation run mixes both kinds: the unmapped grain is filled from the
 * parent, the zeroed one with zeros. */
Test(vmdk_qemu, partial_write_into_zeroed_grain_of_delta)
{
	char *dir, *base, *delta, *expect_raw, err[512];
	unsigned char *expect, *got, data[2000];
	struct keel_vmdk *d;
	const uint64_t g = 65536, size = 4 << 20;
	unsigned int depth;
	uint32_t cid;
	size_t n;

	need_qemu();
	dir = scratch_dir();
	base = pathf("%s/base.vmdk", dir);
	delta = pathf("%s/delta.vmdk", dir);
	expect_raw = pathf("%s/expect.raw", dir);
	/* base: 0x33 everywhere; delta: grains 1 and 2 zeroed by qemu */
	cr_assert_eq(
		shell("qemu-img create -q -f vmdk %s 4M && "
		      "qemu-io -f vmdk -c 'write -q -P 0x33 0 4M' %s && cd %s && "
		      "qemu-img create -q -f vmdk -o zeroed_grain=on -b base.vmdk -F vmdk delta.vmdk && "
		      "qemu-io -f vmdk -c 'write -q -z %" PRIu64 " %" PRIu64 "' delta.vmdk",
		      base, base, dir, g, 2 * g),
		0);
	cr_assert_eq(keel_vmdk_open(delta, 0, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_layer_of(d, g, &depth, &cid), -ENOENT,
		     "qemu did not leave a zeroed entry for grain 1 (the test needs one)");
	cr_assert_eq(keel_vmdk_layer_of(d, 3 * g, &depth, &cid), 0);
	cr_assert_eq(depth, 1, "grain 3 should come from the base");

	expect = malloc(size);
	cr_assert(expect);
	memset(expect, 0x33, size);
	memset(expect + g, 0, 2 * g);
	/* 1: 512 bytes inside zeroed grain 1 */
	memset(data, 0x55, 512);
	cr_assert_eq(keel_vmdk_pwrite(d, data, 512, g + 4096), 0);
	memcpy(expect + g + 4096, data, 512);
	/* 2: the last 1000 bytes of zeroed grain 2 and the first 1000 of unmapped grain 3 */
	pattern(data, sizeof(data), 7);
	cr_assert_eq(keel_vmdk_pwrite(d, data, sizeof(data), 3 * g - 1000), 0);
	memcpy(expect + 3 * g - 1000, data, sizeof(data));
	keel_vmdk_close(d);

	got = read_disk(delta, &n);
	cr_assert_eq(n, size);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], expect[i],
			     "byte %zu (grain %zu) reads %02x after partial writes, expected %02x",
			     i, i / g, got[i], expect[i]);
	spit(expect_raw, expect, size);
	cr_assert_eq(shell("qemu-img check -q %s", delta), 0);
	cr_assert_eq(shell("qemu-img compare -q -F raw %s %s", delta, expect_raw), 0,
		     "qemu reads the delta differently from what was written");
	cr_log_info(
		"checked: partial writes into grains a delta marks zeroed keep zeros around them "
		"(not the parent's 0x33), a run mixing a zeroed and an unmapped grain fills "
		"each correctly; qemu-img check and compare agree");
	free(expect);
	free(got);
	free(base);
	free(delta);
	free(expect_raw);
	scratch_rm(dir);
}
