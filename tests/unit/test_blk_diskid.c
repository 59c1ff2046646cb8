// SPDX-License-Identifier: GPL-2.0-only
/*
 * Disk identity from image metadata (agent/blk/diskid.c): VMDK descriptors
 * (text, embedded in a sparse VMDK, or beside a -flat extent) and the
 * IMAGE.keel file keel creates once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk/diskid.h"
#include "blk/model.h"
#include "tmp_path.h"

static const char qemu_desc[] = "# Disk DescriptorFile\n"
				"version=1\n"
				"CID=a19ee72c\n"
				"parentCID=ffffffff\n"
				"createType=\"monolithicFlat\"\n"
				"\n"
				"# Extent description\n"
				"RW 16384 FLAT \"disk-flat.vmdk\" 0\n"
				"\n"
				"# The Disk Data Base\n"
				"#DDB\n"
				"ddb.virtualHWVersion = \"4\"\n"
				"ddb.adapterType = \"ide\"\n";

static const char vmware_desc[] =
	"# Disk DescriptorFile\r\n"
	"version=1\r\n"
	"encoding=\"UTF-8\"\r\n"
	"CID=fffffffe\r\n"
	"parentCID=ffffffff\r\n"
	"createType=\"vmfs\"\r\n"
	"RW 41943040 VMFS \"vm1-flat.vmdk\"\r\n"
	"ddb.uuid.image = \"60 00 C2 9a 7b 1c 4e 3d-8a 2f 11 22 33 44 55 66\"\r\n"
	"ddb.longContentID = \"0123456789abcdef0123456789abcdef\"\r\n";

Test(blk_diskid, qemu_descriptor_gives_cid)
{
	char id[128];
	bool ext;

	cr_assert_eq(keel_blk_vmdk_descriptor_id(qemu_desc, sizeof(qemu_desc) - 1, "disk-flat.vmdk",
						 &ext, id, sizeof(id)),
		     0);
	cr_expect_str_eq(id, "vmdk-cid:a19ee72c");
	cr_expect(ext, "the extent line names disk-flat.vmdk");
	cr_assert_eq(keel_blk_vmdk_descriptor_id(qemu_desc, sizeof(qemu_desc) - 1, "other.vmdk",
						 &ext, id, sizeof(id)),
		     0);
	cr_expect(!ext, "another file is not this descriptor's extent");
}

Test(blk_diskid, uuid_preferred_over_cid)
{
	char id[128];

	cr_assert_eq(keel_blk_vmdk_descriptor_id(vmware_desc, sizeof(vmware_desc) - 1, NULL, NULL,
						 id, sizeof(id)),
		     0);
	cr_expect_str_eq(id, "vmdk-uuid:60-00-C2-9a-7b-1c-4e-3d-8a-2f-11-22-33-44-55-66");
}

Test(blk_diskid, not_a_descriptor)
{
	static const char junk[] = "hello\nworld=1\n\x01\x02";
	static const char nocid[] = "# Disk DescriptorFile\nversion=1\nparentCID=ffffffff\n";
	static const char badcid[] = "# Disk DescriptorFile\nCID=\"; rm -rf /\"\n";
	char id[128] = "";

	cr_expect_eq(keel_blk_vmdk_descriptor_id(junk, sizeof(junk) - 1, NULL, NULL, id,
						 sizeof(id)),
		     -EINVAL);
	cr_expect_eq(keel_blk_vmdk_descriptor_id(nocid, sizeof(nocid) - 1, NULL, NULL, id,
						 sizeof(id)),
		     -ENOENT);
	cr_expect_eq(keel_blk_vmdk_descriptor_id(badcid, sizeof(badcid) - 1, NULL, NULL, id,
						 sizeof(id)),
		     -ENOENT, "a CID that is no hex is refused");
	cr_expect_eq(keel_blk_vmdk_descriptor_id("", 0, NULL, NULL, id, sizeof(id)), -EINVAL);
}

static char *tmpdir(void)
{
	static char d[4096];

	keel_test_tmp_template(d, sizeof(d), "keel-diskid-");

	cr_assert_not_null(mkdtemp(d));
	return d;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

Test(blk_diskid, sparse_vmdk_embedded_descriptor)
{
	char *d = tmpdir(), path[256], id[128], src[24];
	unsigned char img[4096] = { 'K', 'D', 'M', 'V', 1, 0, 0, 0, 3 };
	__u64 off = 1, size = 1; /* descriptor: sector 1, one sector */

	memcpy(img + 28, &off, 8);
	memcpy(img + 36, &size, 8);
	memcpy(img + 512, qemu_desc, sizeof(qemu_desc) - 1);
	snprintf(path, sizeof(path), "%s/sparse.vmdk", d);
	write_file(path, img, sizeof(img));
	cr_assert_eq(keel_blk_image_id(path, id, sizeof(id), src, sizeof(src)), 0);
	cr_expect_str_eq(id, "vmdk-cid:a19ee72c");
	cr_expect_str_eq(src, "vmdk-sparse");
	unlink(path);
	rmdir(d);
}

Test(blk_diskid, flat_extent_uses_its_descriptor)
{
	char *d = tmpdir(), flat[256], desc[256], id[128], src[24];

	snprintf(flat, sizeof(flat), "%s/disk-flat.vmdk", d);
	snprintf(desc, sizeof(desc), "%s/disk.vmdk", d);
	write_file(flat, "\0\0\0\0", 4);
	write_file(desc, qemu_desc, sizeof(qemu_desc) - 1);
	cr_assert_eq(keel_blk_image_id(flat, id, sizeof(id), src, sizeof(src)), 0);
	cr_expect_str_eq(id, "vmdk-cid:a19ee72c");
	cr_expect_str_eq(src, "vmdk-descriptor");
	unlink(flat);
	unlink(desc);
	rmdir(d);
}

Test(blk_diskid, keel_file_created_once)
{
	char *d = tmpdir(), img[256], meta[300], id1[128], id2[128], src[24];

	snprintf(img, sizeof(img), "%s/disk.raw", d);
	snprintf(meta, sizeof(meta), "%s.keel", img);
	write_file(img, "\0\0\0\0", 4);
	cr_assert_eq(keel_blk_image_id(img, id1, sizeof(id1), src, sizeof(src)), 0);
	cr_expect_str_eq(src, "keel-file");
	cr_expect_eq(strncmp(id1, "keel:", 5), 0, "id %s", id1);
	cr_expect_eq(strlen(id1), 5 + 36, "a UUID: %s", id1);
	cr_assert_eq(access(meta, R_OK), 0, "%s was created", meta);
	cr_assert_eq(keel_blk_image_id(img, id2, sizeof(id2), src, sizeof(src)), 0);
	cr_expect_str_eq(id1, id2, "the second lookup reads the same ID back");
	/* a .keel file without disk_id is never overwritten */
	write_file(meta, "owner = someone\n", 16);
	cr_expect_eq(keel_blk_image_id(img, id2, sizeof(id2), src, sizeof(src)), -EBADMSG);
	unlink(meta);
	unlink(img);
	rmdir(d);
}

Test(blk_diskid, block_keys_match_cachesim)
{
	/* keel-cachesim mixes a trace's disk_id into block keys this way */
	cr_expect_eq(keel_blk_block_key(0, 42), 42);
	cr_expect_eq(keel_blk_block_key(3, 42), 42 ^ (3 * 0x9e3779b97f4a7c15ull));
}
