// SPDX-License-Identifier: GPL-2.0-only
/* The integrity filter: CRC32C per block; corruption -> EIO and an event. */
#include "vdisk_util.h"

#define MiB (1u << 20)

static void make(struct tdisk *t)
{
	tdisk_make(t, 4 * MiB, "[vdisk]\nfilters = integrity\n");
}

/* Flip one byte of the disk below the filter, as bit rot would. */
static void corrupt(struct tdisk *t, uint64_t off)
{
	unsigned char s[512];
	struct keel_vfilter *raw = tdisk_at(t, "vmdk");

	cr_assert_eq(keel_vfilter_pread(raw, s, 512, off & ~511ull), 0);
	s[off & 511] ^= 0x40;
	cr_assert_eq(keel_vfilter_pwrite(raw, s, 512, off & ~511ull, 0), 0);
}

Test(vfilter_integrity, corruption_is_eio_and_an_event_never_data)
{
	struct tdisk t;
	unsigned char w[16384], r[16384];
	json_t *e;

	make(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	fill(w, sizeof(w), 4);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), w, sizeof(w), 2 * MiB, 0), 0);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), r, sizeof(r), 2 * MiB), 0);
	cr_assert_arr_eq(r, w, sizeof(w));
	corrupt(&t, 2 * MiB + 4096 + 1000); /* block 1 of the four */
	memset(r, 0xee, sizeof(r));
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), r, sizeof(r), 2 * MiB), -EIO);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), r, 512, 2 * MiB + 4096 + 512), -EIO,
		     "a read of part of the corrupted block passed");
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), r, 4096, 2 * MiB + 8192), 0);
	cr_assert_arr_eq(r, w + 8192, 4096);
	cr_assert_geq(json_array_size(t.events), 1);
	e = json_array_get(t.events, 0);
	cr_assert_str_eq(json_string_value(json_object_get(e, "type")), "vdisk.integrity_mismatch");
	cr_assert_eq(json_integer_value(json_object_get(e, "offset")), 2 * MiB + 4096);
	cr_assert_str_eq(json_string_value(json_object_get(e, "filter")), "integrity");
	cr_log_info(
		"checked: one flipped byte below -> EIO for reads touching its block, event at offset %lld; the next block still reads",
		json_integer_value(json_object_get(e, "offset")));
	tdisk_cleanup(&t);
}

Test(vfilter_integrity, checksums_survive_reopen_and_check_finds_corruption)
{
	struct tdisk t;
	unsigned char w[8192];
	char err[256];
	json_t *res;

	make(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	fill(w, sizeof(w), 5);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), w, sizeof(w), 0, 0), 0);
	/* a partial write keeps the whole block's checksum right */
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), w, 512, 4096 + 1024, 0), 0);
	cr_assert_eq(keel_vfilter_flush(keel_vdisk_top(t.d)), 0);
	tdisk_close(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), w, sizeof(w), 0), 0);
	corrupt(&t, 100);
	cr_assert_eq(keel_vfilter_control(keel_vdisk_top(t.d), "check", NULL, &res, err,
					  sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(json_integer_value(json_object_get(res, "mismatched")), 1);
	cr_assert_eq(json_integer_value(json_object_get(res, "verified")), 1);
	cr_assert_eq(json_integer_value(json_object_get(
			     json_array_get(json_object_get(res, "mismatches"), 0), "offset")),
		     0);
	cr_log_info("checked: reopen verifies; check: %s", json_dumps(res, JSON_COMPACT));
	json_decref(res);
	tdisk_cleanup(&t);
}

Test(vfilter_integrity, a_partial_write_never_launders_a_corrupted_block)
{
	struct tdisk t;
	unsigned char w[4096];

	make(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	fill(w, sizeof(w), 6);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), w, sizeof(w), 0, 0), 0);
	corrupt(&t, 3000);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), w, 512, 0, 0), -EIO);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), w, 4096, 0), -EIO);
	/* a full-block write replaces the block: it verifies again */
	fill(w, sizeof(w), 7);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), w, sizeof(w), 0, 0), 0);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), w, 4096, 0), 0);
	tdisk_cleanup(&t);
}

Test(vfilter_integrity, zeroing_discard_verifies_as_zeros)
{
	struct tdisk t;
	unsigned char w[8192], z[8192] = { 0 };

	make(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	fill(w, sizeof(w), 8);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), w, sizeof(w), 0, 0), 0);
	cr_assert_eq(keel_vfilter_discard(keel_vdisk_top(t.d), 1024, 6144, KEEL_VF_ZERO), 0);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), w, sizeof(w), 0), 0);
	cr_assert_arr_eq(w + 1024, z, 6144);
	corrupt(&t, 5000);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), w, sizeof(w), 0), -EIO);
	tdisk_cleanup(&t);
}

Test(vfilter_integrity, a_foreign_checksum_file_is_refused)
{
	struct tdisk t;
	char p[256];

	make(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	tdisk_close(&t);
	/* same disk, another block size: the file keeps the one it was made with */
	snprintf(p, sizeof(p), "%s", t.meta);
	tdisk_write_file(
		&t, "disk.vmdk.keel",
		"disk_id = test-disk\n[vdisk]\nfilters = integrity\n[filter.integrity]\nblock_size = 8192\n",
		85, 0644);
	cr_assert_eq(tdisk_open(&t, 0), -EINVAL);
	cr_assert(strstr(t.err, "offset 12: block_size 4096"), "%s", t.err);
	cr_log_info("checked: %s", t.err);
	tdisk_write_file(&t, "disk.vmdk.crc32c", "garbage!garbage!garbage!", 24, 0644);
	tdisk_write_file(&t, "disk.vmdk.keel",
			 "disk_id = test-disk\n[vdisk]\nfilters = integrity\n", 48, 0644);
	cr_assert_eq(tdisk_open(&t, 0), -EINVAL);
	cr_assert(strstr(t.err, "disk.vmdk.crc32c: offset 0: magic"), "%s", t.err);
	cr_log_info("checked: %s", t.err);
	(void)p;
	tdisk_cleanup(&t);
}
