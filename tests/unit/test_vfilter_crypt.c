// SPDX-License-Identifier: GPL-2.0-only
/* The crypt filter: AES-256-XTS per sector, tweak = sector number. */
#include <openssl/evp.h>

#include "vdisk_util.h"

#define MiB (1u << 20)

static const char *key_hex =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"f0e0d0c0b0a090807060504030201000ffeeddccbbaa99887766554433221100\n";

static void make(struct tdisk *t)
{
	tdisk_make(t, 4 * MiB, "[vdisk]\nfilters = crypt\n[filter.crypt]\nkey_file = disk.key\n");
	tdisk_write_file(t, "disk.key", key_hex, strlen(key_hex), 0600);
}

/* What the sector @sector of @plain is under the key, computed here with libcrypto. */
static void xts(const unsigned char *plain, unsigned char *out, uint64_t sector)
{
	unsigned char key[64], iv[16] = { 0 };
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n;

	for (int i = 0; i < 64; i++)
		sscanf(key_hex + 2 * i, "%2hhx", &key[i]);
	for (int i = 0; i < 8; i++)
		iv[i] = (unsigned char)(sector >> (8 * i));
	cr_assert(EVP_EncryptInit_ex(ctx, EVP_aes_256_xts(), NULL, key, iv));
	cr_assert(EVP_EncryptUpdate(ctx, out, &n, plain, 512));
	EVP_CIPHER_CTX_free(ctx);
}

Test(vfilter_crypt, below_crypt_is_ciphertext_of_the_lba_tweak)
{
	struct tdisk t;
	unsigned char plain[4096], raw[4096], want[512], back[4096];

	make(&t);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	memset(plain, 'A', sizeof(plain));	/* eight equal sectors */
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
	cr_log_info("checked: below crypt = AES-256-XTS with tweak LBA (libcrypto computed here); top = plaintext, after reopen too");
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
