// SPDX-License-Identifier: GPL-2.0-only
/* The crypt filter: AES-256-XTS per sector, tweak = sector number. */
#include <openssl/evp.h>
#include <pthread.h>

#include "vdisk_util.h"

#define MiB (1u << 20)

static const char *key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
			     "f0e0d0c0b0a090807060504030201000ffeeddccbbaa99887766554433221100\n";

static void make(struct tdisk *t)
{
	tdisk_make(t, 4 * MiB, "[vdisk]\nfilters = crypt\n[filter.crypt]\nkey_file = disk.key\n");
	tdisk_write_file(t, "disk.key", key_hex, strlen(key_hex), 0600);
}

/* What @n bytes of @plain are as one XTS data unit with tweak @sector
 * under the key, computed here with libcrypto. */
static void xts_n(const unsigned char *plain, unsigned char *out, uint64_t sector, int n)
{
	unsigned char key[64], iv[16] = { 0 };
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	for (int i = 0; i < 64; i++)
		sscanf(key_hex + 2 * i, "%2hhx", &key[i]);
	for (int i = 0; i < 8; i++)
		iv[i] = (unsigned char)(sector >> (8 * i));
	cr_assert(EVP_EncryptInit_ex(ctx, EVP_aes_256_xts(), NULL, key, iv));
	cr_assert(EVP_EncryptUpdate(ctx, out, &n, plain, n));
	EVP_CIPHER_CTX_free(ctx);
}

static void xts(const unsigned char *plain, unsigned char *out, uint64_t sector)
{
	xts_n(plain, out, sector, 512);
}

Test(vfilter_crypt, below_crypt_is_ciphertext_of_the_lba_tweak)
{
	struct tdisk t;
	unsigned char plain[4096], raw[4096], want[512], back[4096];

	make(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	memset(plain, 'A', sizeof(plain)); /* eight equal sectors */
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), plain, sizeof(plain), MiB, 0), 0);
	cr_assert_eq(keel_vfilter_pread(tdisk_at(&t, "vmdk"), raw, sizeof(raw), MiB), 0);
	for (int s = 0; s < 8; s++) {
		xts(plain, want, MiB / 512 + s);
		cr_assert_arr_eq(raw + 512 * s, want, 512, "sector %d is not AES-XTS(LBA)", s);
	}
	cr_assert(memcmp(raw, raw + 512, 512), "equal plaintext sectors gave equal ciphertext");
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), back, sizeof(back), MiB), 0);
	cr_assert_arr_eq(back, plain, sizeof(plain));
	tdisk_close(&t);
	/* the key survives a reopen: the data does too */
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), back, sizeof(back), MiB), 0);
	cr_assert_arr_eq(back, plain, sizeof(plain));
	cr_log_info(
		"checked: below crypt = AES-256-XTS with tweak LBA (libcrypto computed here); top = plaintext, after reopen too");
	tdisk_cleanup(&t);
}

Test(vfilter_crypt, zeroing_discard_reads_back_zeros)
{
	struct tdisk t;
	unsigned char buf[8192], zero[8192] = { 0 };

	make(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	fill(buf, sizeof(buf), 3);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), buf, sizeof(buf), 0, 0), 0);
	cr_assert_eq(keel_vfilter_discard(keel_vdisk_top(t.d), 0, sizeof(buf), KEEL_VF_ZERO), 0);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, sizeof(buf), 0), 0);
	cr_assert_arr_eq(buf, zero, sizeof(buf));
	cr_assert_eq(keel_vfilter_pread(tdisk_at(&t, "vmdk"), buf, sizeof(buf), 0), 0);
	cr_assert(memcmp(buf, zero, sizeof(buf)), "zeros stored in clear below crypt");
	tdisk_cleanup(&t);
}

static void bad_key(const void *key, size_t len, mode_t mode, const char *want)
{
	struct tdisk t;

	tdisk_make(&t, MiB, "[vdisk]\nfilters = crypt\n[filter.crypt]\nkey_file = disk.key\n");
	if (key)
		tdisk_write_file(&t, "disk.key", key, len, mode);
	cr_assert_neq(tdisk_open(&t, 0), 0);
	cr_assert(strstr(t.err, "[filter.crypt] key_file"), "%s", t.err);
	cr_assert(strstr(t.err, want), "wanted \"%s\" in: %s", want, t.err);
	cr_log_info("checked: %s", t.err);
	tdisk_cleanup(&t);
}

Test(vfilter_crypt, bad_keys_are_refused)
{
	unsigned char same[64];

	memset(same, 7, sizeof(same));
	bad_key(NULL, 0, 0, "No such file");
	bad_key("short", 5, 0600, "holds 5 bytes");
	bad_key(key_hex, 129, 0644, "chmod 600");
	bad_key(same, 64, 0600, "halves");
	bad_key("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"f0e0d0c0b0a090807060504030201000ffeeddccbbaa99887766554433221100",
		128, 0600, "offset 0: not a hex digit");
}

static void make4k(struct tdisk *t, uint64_t size)
{
	tdisk_make(t, size,
		   "[vdisk]\nfilters = crypt\n[filter.crypt]\nkey_file = disk.key\n"
		   "sector_size = 4096\n");
	tdisk_write_file(t, "disk.key", key_hex, strlen(key_hex), 0600);
}

/* sector_size = 4096: each 4096-byte sector is one XTS unit whose tweak is
 * its first LBA; I/O covering part of a sector still works, and a trim of
 * part of a sector does not lose the rest of it. */
Test(vfilter_crypt, sector_4096_is_one_xts_unit)
{
	struct tdisk t;
	unsigned char plain[8192], raw[8192], want[4096], back[8192], part[512];
	json_t *st = NULL;

	make4k(&t, 4 * MiB);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	memset(plain, 'A', sizeof(plain));
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), plain, sizeof(plain), MiB, 0), 0);
	cr_assert_eq(keel_vfilter_pread(tdisk_at(&t, "vmdk"), raw, sizeof(raw), MiB), 0);
	for (int u = 0; u < 2; u++) {
		xts_n(plain, want, MiB / 512 + 8 * u, 4096);
		cr_assert_arr_eq(raw + 4096 * u, want, 4096, "unit %d is not AES-XTS(4096, LBA)",
				 u);
	}
	/* not eight 512-byte units: the second sector is not XTS with tweak LBA + 1 */
	xts(plain, want, MiB / 512 + 1);
	cr_assert(memcmp(raw + 512, want, 512), "the unit is eight 512-byte units");

	/* 512 bytes inside the first unit: the unit is re-encrypted whole */
	fill(part, sizeof(part), 9);
	memcpy(plain + 1024, part, sizeof(part));
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), part, sizeof(part), MiB + 1024, 0),
		     0);
	cr_assert_eq(keel_vfilter_pread(tdisk_at(&t, "vmdk"), raw, 4096, MiB), 0);
	xts_n(plain, want, MiB / 512, 4096);
	cr_assert_arr_eq(raw, want, 4096,
			 "after a partial write the unit is not XTS of the new plaintext");
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), back, 1536, MiB + 512), 0);
	cr_assert_arr_eq(back, plain + 512, 1536, "a read inside a unit");
	/* a write straddling the two units, unaligned at both ends */
	memset(plain + 3584, 'B', 1024);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), plain + 3584, 1024, MiB + 3584, 0),
		     0);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), back, sizeof(back), MiB), 0);
	cr_assert_arr_eq(back, plain, sizeof(back), "a write straddling two units");

	/* a trim of 512 bytes inside a unit leaves its other sectors readable;
	 * a zeroing discard there reads zeros */
	cr_assert_eq(keel_vfilter_discard(keel_vdisk_top(t.d), MiB + 512, 512, 0), 0);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), back, 4096, MiB), 0);
	cr_assert_arr_eq(back, plain, 512);
	cr_assert_arr_eq(back + 1024, plain + 1024, 3072, "a trim of 512 bytes destroyed its unit");
	cr_assert_eq(keel_vfilter_discard(keel_vdisk_top(t.d), MiB + 512, 512, KEEL_VF_ZERO), 0);
	memset(plain + 512, 0, 512);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), back, sizeof(back), MiB), 0);
	cr_assert_arr_eq(back, plain, sizeof(back), "zeroing 512 bytes inside a unit");
	cr_assert_eq(keel_vfilter_control(tdisk_at(&t, "crypt"), "stats", NULL, &st, t.err,
					  sizeof(t.err)),
		     0);
	cr_assert_eq(json_integer_value(json_object_get(st, "sector_size")), 4096);
	json_decref(st);
	tdisk_close(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), back, sizeof(back), MiB), 0);
	cr_assert_arr_eq(back, plain, sizeof(back), "after reopening");
	cr_log_info("checked: sector_size 4096: below crypt = AES-256-XTS of 4096-byte units with "
		    "tweak = first LBA (libcrypto here); partial, straddling and unaligned I/O, a "
		    "partial trim keeps the unit, partial zeroing, reopen");
	tdisk_cleanup(&t);
}

#define WRITERS 8
#define ROUNDS	300
#define UNITS	16

struct writer {
	struct keel_vfilter *top;
	int id;
};

/* each writer owns sector @id of every unit and rewrites it ROUNDS times */
static void *writer(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[512];

	for (int r = 0; r < ROUNDS; r++)
		for (int u = 0; u < UNITS; u++) {
			memset(buf, (w->id << 4) | (r & 15), sizeof(buf));
			if (keel_vfilter_pwrite(w->top, buf, sizeof(buf),
						(uint64_t)u * 4096 + 512 * (uint64_t)w->id, 0))
				return (void *)1;
		}
	return NULL;
}

/* Eight threads writing eight different 512-byte sectors of the same
 * 4096-byte units: the read-modify-write of one must not undo another's. */
Test(vfilter_crypt, sector_4096_partial_writers_do_not_undo_each_other)
{
	struct tdisk t;
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	unsigned char back[UNITS * 4096];
	int lost = 0;

	make4k(&t, 4 * MiB);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .top = keel_vdisk_top(t.d), .id = i };
		cr_assert_eq(pthread_create(&th[i], NULL, writer, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		void *ret;

		pthread_join(th[i], &ret);
		cr_assert_null(ret, "writer %d failed", i);
	}
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), back, sizeof(back), 0), 0);
	for (int u = 0; u < UNITS; u++)
		for (int i = 0; i < WRITERS; i++)
			lost += back[u * 4096 + 512 * i] !=
				(unsigned char)((i << 4) | ((ROUNDS - 1) & 15));
	cr_assert_eq(lost, 0, "%d of %d sectors do not hold their writer's last write", lost,
		     UNITS * WRITERS);
	cr_log_info("checked: %d threads x %d rounds of 512-byte writes into shared 4096-byte "
		    "units: every sector holds its writer's last write",
		    WRITERS, ROUNDS);
	tdisk_cleanup(&t);
}

Test(vfilter_crypt, bad_sector_sizes_are_refused)
{
	struct tdisk t;

	tdisk_make(&t, MiB,
		   "[vdisk]\nfilters = crypt\n[filter.crypt]\nkey_file = disk.key\n"
		   "sector_size = 1024\n");
	tdisk_write_file(&t, "disk.key", key_hex, strlen(key_hex), 0600);
	cr_assert_neq(tdisk_open(&t, 0), 0);
	cr_assert(strstr(t.err, "[filter.crypt] sector_size: 1024 is not 512 or 4096"), "%s",
		  t.err);
	cr_log_info("checked: %s", t.err);
	tdisk_cleanup(&t);
	make4k(&t, MiB + 512);
	cr_assert_neq(tdisk_open(&t, 0), 0);
	cr_assert(strstr(t.err, "[filter.crypt] sector_size: the disk (1049088 bytes) is not a "
				"whole number of 4096-byte sectors"),
		  "%s", t.err);
	cr_log_info("checked: %s", t.err);
	tdisk_cleanup(&t);
}
