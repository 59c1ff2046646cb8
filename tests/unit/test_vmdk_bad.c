// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bad VMDK input: truncated files, bad magic, tables pointing past the end,
 * garbage descriptors, huge sizes, overflowing grain counts.  Each one gets
 * an error naming the file, the offset or descriptor line, and the field;
 * none crashes; and the file is byte-identical after keel tried to open it
 * for writing (nothing is written to a disk keel could not parse).
 */
#include <errno.h>

#include "vmdk_helpers.h"

static void put_le(const char *path, uint64_t off, uint64_t v, int bytes)
{
	unsigned char b[8];
	int fd = open(path, O_WRONLY);

	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	cr_assert(fd >= 0 && pwrite(fd, b, (size_t)bytes, (off_t)off) == bytes);
	close(fd);
}

static uint32_t get_le32(const char *path, uint64_t off)
{
	unsigned char b[4];
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0 && pread(fd, b, 4, (off_t)off) == 4);
	close(fd);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* a keel monolithicSparse of 8 MiB with one grain written */
static char *sparse_image(const char *dir, const char *name)
{
	char *path = pathf("%s/%s", dir, name), err[512], buf[4096];
	struct keel_vmdk_create_opts o = { .size = 8 << 20, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	struct keel_vmdk *d;

	cr_assert_eq(keel_vmdk_create(path, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_open(path, 0, &d, err, sizeof(err)), 0, "%s", err);
	memset(buf, 0x42, sizeof(buf));
	cr_assert_eq(keel_vmdk_pwrite(d, buf, sizeof(buf), 0), 0);
	keel_vmdk_close(d);
	return path;
}

static char *text_image(const char *dir, const char *name, const char *desc)
{
	char *path = pathf("%s/%s", dir, name), *flat = pathf("%s/f.raw", dir);

	spit(path, desc, strlen(desc));
	cr_assert_eq(shell("truncate -s 1M %s", flat), 0);
	free(flat);
	return path;
}

/* Opening @path for writing fails with @want_errno, an error holding every
 * one of @needles, and leaves every file in @dir as it was. */
static void expect_refused(const char *dir, const char *path, int want_errno, const char *what,
			   const char *const *needles)
{
	char err[512], *sum = pathf("%s.sum", dir), *sum2 = pathf("%s.sum2", dir);
	struct keel_vmdk *d = NULL;
	int r;

	cr_assert_eq(shell("cd %s && md5sum * > %s", dir, sum), 0);
	r = keel_vmdk_open(path, 0, &d, err, sizeof(err));
	cr_assert_lt(r, 0, "%s: opened", what);
	cr_assert_null(d);
	if (want_errno)
		cr_assert_eq(r, -want_errno, "%s: errno %d (%s)", what, -r, err);
	cr_assert(strstr(err, strrchr(path, '/') + 1), "%s: the error does not name the file: %s",
		  what, err);
	for (int i = 0; needles[i]; i++)
		cr_assert(strstr(err, needles[i]), "%s: '%s' missing from: %s", what, needles[i],
			  err);
	cr_assert_eq(shell("cd %s && md5sum * > %s && cmp -s %s %s", dir, sum2, sum, sum2), 0,
		     "%s: a file changed", what);
	cr_log_info("%s: %s", what, err);
	unlink(sum);
	unlink(sum2);
	free(sum);
	free(sum2);
}

#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

Test(vmdk_bad, sparse_headers)
{
	char *dir = scratch_dir(), *p;

	p = sparse_image(dir, "trunc.vmdk");
	cr_assert_eq(truncate(p, 300), 0);
	expect_refused(dir, p, EINVAL, "truncated to 300 bytes", NEEDLES("offset 0", "header"));
	unlink(p);
	free(p);

	p = sparse_image(dir, "trunc2.vmdk");
	cr_assert_eq(truncate(p, 8192), 0);
	expect_refused(dir, p, EINVAL, "truncated to 8192 bytes",
		       NEEDLES("offset 36", "descriptorSize"));
	unlink(p);
	free(p);

	p = sparse_image(dir, "version.vmdk");
	put_le(p, 4, 7, 4);
	expect_refused(dir, p, ENOTSUP, "version 7", NEEDLES("offset 4", "version"));
	unlink(p);
	free(p);

	p = sparse_image(dir, "gd.vmdk");
	put_le(p, 56, 0x7fffffff, 8);
	expect_refused(dir, p, EINVAL, "gdOffset past the end", NEEDLES("offset 56", "gdOffset"));
	unlink(p);
	free(p);

	p = sparse_image(dir, "rgd.vmdk");
	put_le(p, 48, 1ULL << 40, 8);
	expect_refused(dir, p, EINVAL, "rgdOffset past the end", NEEDLES("offset 48", "rgdOffset"));
	unlink(p);
	free(p);

	p = sparse_image(dir, "cap.vmdk");
	put_le(p, 12, 1ULL << 60, 8);
	expect_refused(dir, p, EFBIG, "capacity 2^60 sectors", NEEDLES("offset 12", "capacity"));
	unlink(p);
	free(p);

	p = sparse_image(dir, "grains.vmdk");
	put_le(p, 20, 1, 8); /* grainSize 1 sector */
	put_le(p, 44, 1, 4); /* 1 entry per table */
	put_le(p, 12, 1ULL << 36, 8);
	expect_refused(dir, p, EFBIG, "2^36 grain tables", NEEDLES("offset 12", "grain tables"));
	unlink(p);
	free(p);

	p = sparse_image(dir, "gsize.vmdk");
	put_le(p, 20, 3, 8);
	expect_refused(dir, p, EINVAL, "grainSize 3", NEEDLES("offset 20", "grainSize"));
	unlink(p);
	free(p);

	p = sparse_image(dir, "gtes.vmdk");
	put_le(p, 44, 100000, 4);
	expect_refused(dir, p, EINVAL, "numGTEsPerGT 100000", NEEDLES("offset 44", "numGTEsPerGT"));
	unlink(p);
	free(p);
	scratch_rm(dir);
}

Test(vmdk_bad, tables_pointing_past_the_end)
{
	char *dir = scratch_dir(), *p, err[512], buf[512];
	uint32_t gd_sector, gt_sector;
	struct keel_vmdk *d;
	json_t *report = json_object();

	/* a grain directory entry */
	p = sparse_image(dir, "gde.vmdk");
	gd_sector = get_le32(p, 56);
	put_le(p, (uint64_t)gd_sector * 512, 0x7ffffff0, 4);
	expect_refused(dir, p, EINVAL, "grain directory entry 0 past the end",
		       NEEDLES("gdOffset entry 0", "past the end"));
	unlink(p);
	free(p);

	/* a grain table entry: a writable open refuses, a read-only one fails that grain only */
	p = sparse_image(dir, "gte.vmdk");
	gd_sector = get_le32(p, 56);
	gt_sector = get_le32(p, (uint64_t)gd_sector * 512);
	put_le(p, (uint64_t)gt_sector * 512, 0x7ffffff0, 4);
	expect_refused(dir, p, EIO, "grain table entry past the end",
		       NEEDLES("grain table 0 entry 0", "past the end"));
	cr_assert_eq(keel_vmdk_open(p, KEEL_VMDK_RDONLY, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_pread(d, buf, sizeof(buf), 0), -EIO);
	keel_vmdk_last_error(d, err, sizeof(err));
	cr_assert(strstr(err, "grain table 0 entry 0") && strstr(err, "offset"), "%s", err);
	cr_assert_eq(keel_vmdk_pread(d, buf, sizeof(buf), 4 << 20), 0, "another grain reads fine");
	keel_vmdk_close(d);
	cr_assert_eq(keel_vmdk_check(p, report, err, sizeof(err)), -EUCLEAN);
	{
		json_t *errs = json_object_get(report, "errors"), *e;
		size_t i;
		bool found = false;

		json_array_foreach(errs, i, e)
			if (strstr(json_string_value(e), "entry 0") &&
			    strstr(json_string_value(e), "past the end")) {
				found = true;
				cr_log_info("keel_vmdk_check reports: %s", json_string_value(e));
			}
		cr_assert(found, "check did not report the entry: %s", err);
	}
	cr_assert_geq(json_integer_value(json_object_get(report, "error_count")), 1);
	cr_log_info("read-only: the bad grain fails with EIO, another grain reads");
	json_decref(report);
	free(p);

	/* a grain table entry pointing into the header: writing it would destroy it */
	p = sparse_image(dir, "gtm.vmdk");
	gd_sector = get_le32(p, 56);
	gt_sector = get_le32(p, (uint64_t)gd_sector * 512);
	put_le(p, (uint64_t)gt_sector * 512 + 8, 0, 4);
	put_le(p, (uint64_t)gt_sector * 512 + 8, 2, 4);
	expect_refused(dir, p, EIO, "grain table entry into the metadata",
		       NEEDLES("grain table 0 entry 2", "metadata"));
	free(p);
	scratch_rm(dir);
}

static const char head[] = "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n";

Test(vmdk_bad, descriptors)
{
	char *dir = scratch_dir(), *p;

	p = text_image(dir, "ctl.vmdk", "# Disk DescriptorFile\nversion=1\n\x01\x02garbage\n");
	expect_refused(dir, p, EINVAL, "control characters",
		       NEEDLES("descriptor line 3", "control character"));
	free(p);
	p = text_image(dir, "words.vmdk", "# Disk DescriptorFile\nversion=1\nhello world\n");
	expect_refused(dir, p, EINVAL, "a line of words", NEEDLES("descriptor line 3", "neither"));
	free(p);
	p = pathf("%s/bin2.vmdk", dir);
	spit(p,
	     "XXXX\0\0\0\0\x7f"
	     "ELF",
	     12);
	expect_refused(dir, p, EINVAL, "a binary file", NEEDLES("offset 0", "magic"));
	free(p);
	p = text_image(dir, "type.vmdk", "createType=\"fancy\"\nRW 2048 FLAT \"f.raw\" 0\n");
	expect_refused(dir, p, EINVAL, "unknown createType",
		       NEEDLES("descriptor line 1", "createType"));
	free(p);
	p = text_image(dir, "notype.vmdk", "version=1\nRW 2048 FLAT \"f.raw\" 0\n");
	expect_refused(dir, p, EINVAL, "no createType", NEEDLES("createType", "missing"));
	free(p);
	p = text_image(dir, "noext.vmdk", "createType=\"monolithicFlat\"\n");
	expect_refused(dir, p, EINVAL, "no extents", NEEDLES("extent"));
	free(p);
	p = text_image(dir, "huge.vmdk",
		       "createType=\"monolithicFlat\"\nRW 99999999999999999999 FLAT \"f.raw\" 0\n");
	expect_refused(dir, p, EINVAL, "extent size overflowing 64 bits",
		       NEEDLES("descriptor line 2", "extent size"));
	free(p);
	p = text_image(dir, "huge2.vmdk",
		       "createType=\"monolithicFlat\"\nRW 137438953473 FLAT \"f.raw\" 0\n");
	expect_refused(dir, p, EINVAL, "a 64 TiB extent",
		       NEEDLES("descriptor line 2", "extent size", "limit"));
	free(p);
	p = text_image(dir, "sum.vmdk",
		       "createType=\"twoGbMaxExtentFlat\"\nRW 100000000000 FLAT \"f.raw\" 0\n"
		       "RW 100000000000 FLAT \"f.raw\" 0\n");
	expect_refused(dir, p, EINVAL, "extents adding up past the limit",
		       NEEDLES("descriptor line 3", "add up"));
	free(p);
	p = text_image(dir, "short.vmdk",
		       "createType=\"monolithicFlat\"\nRW 4096 FLAT \"f.raw\" 0\n");
	expect_refused(dir, p, EINVAL, "a flat file shorter than its extent",
		       NEEDLES("descriptor line 2", "extent size", "f.raw"));
	free(p);
	p = text_image(dir, "missing.vmdk",
		       "createType=\"monolithicFlat\"\nRW 2048 FLAT \"nothere.raw\" 0\n");
	expect_refused(dir, p, ENOENT, "a missing extent file",
		       NEEDLES("descriptor line 2", "nothere.raw"));
	free(p);
	p = text_image(dir, "cid.vmdk",
		       "CID=xyz\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"f.raw\" 0\n");
	expect_refused(dir, p, EINVAL, "a CID that is not hex",
		       NEEDLES("descriptor line 1", "CID"));
	free(p);
	p = text_image(dir, "hint.vmdk",
		       "parentCID=12345678\ncreateType=\"monolithicSparse\"\n"
		       "RW 2048 SPARSE \"x.vmdk\"\n");
	expect_refused(dir, p, EINVAL, "a parentCID without parentFileNameHint",
		       NEEDLES("parentFileNameHint", "missing"));
	free(p);
	p = text_image(dir, "dup.vmdk",
		       "CID=1\nCID=2\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"f.raw\" 0\n");
	expect_refused(dir, p, EINVAL, "a key given twice", NEEDLES("descriptor line 2", "twice"));
	free(p);
	p = text_image(dir, "access.vmdk", "createType=\"monolithicFlat\"\nRW 2048 FLAT f.raw 0\n");
	expect_refused(dir, p, EINVAL, "an unquoted file name",
		       NEEDLES("descriptor line 2", "extent file"));
	free(p);
	(void)head;
	scratch_rm(dir);
}

Test(vmdk_bad, embedded_descriptor_garbage_and_sizes)
{
	char *dir = scratch_dir(), *p, err[512];
	struct keel_vmdk_create_opts o = { .size = 1ULL << 50,
					   .type = KEEL_VMDK_MONOLITHIC_SPARSE };

	p = sparse_image(dir, "emb.vmdk");
	put_le(p, 512 + 30, 0x0202020202020202ULL, 8);
	expect_refused(dir, p, EINVAL, "garbage in an embedded descriptor",
		       NEEDLES("descriptor line", "control character"));
	free(p);

	p = pathf("%s/big.vmdk", dir);
	cr_assert_eq(keel_vmdk_create(p, &o, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "size"), "%s", err);
	cr_log_info("create 1 PiB: %s", err);
	o.size = 3ULL << 40;
	cr_assert_eq(keel_vmdk_create(p, &o, err, sizeof(err)), -EFBIG);
	cr_assert(strstr(err, "twoGbMaxExtentSparse"), "%s", err);
	cr_log_info("create 3 TiB monolithicSparse: %s", err);
	o.size = 12345;
	cr_assert_eq(keel_vmdk_create(p, &o, err, sizeof(err)), -EINVAL);
	o.size = 60ULL << 40;
	o.type = KEEL_VMDK_TWOGB_FLAT;
	cr_assert_eq(keel_vmdk_create(p, &o, err, sizeof(err)), -EFBIG);
	cr_log_info("create 60 TiB twoGbMaxExtentFlat: %s", err);
	cr_assert_eq(access(p, F_OK), -1, "a failed create left %s behind", p);
	{
		/* NAME-f001.vmdk would pass the 255-byte limit of a file name */
		char *longname = pathf("%s/%0250d.vmdk", dir, 7);

		o.size = 1 << 20;
		cr_assert_eq(keel_vmdk_create(longname, &o, err, sizeof(err)), -ENAMETOOLONG, "%s",
			     err);
		cr_log_info("create with a 255-byte name: %s",
			    strstr(err, ": the") ? strstr(err, ": the") : err);
		cr_assert_eq(access(longname, F_OK), -1, "a failed create left %s behind",
			     longname);
		free(longname);
	}
	o.size = 1 << 20;
	o.type = KEEL_VMDK_MONOLITHIC_FLAT;
	cr_assert_eq(keel_vmdk_create(p, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_create(p, &o, err, sizeof(err)), -EEXIST,
		     "create over an existing disk");
	free(p);
	scratch_rm(dir);
}
