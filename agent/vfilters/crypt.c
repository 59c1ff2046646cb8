// SPDX-License-Identifier: GPL-2.0-only
/*
 * crypt: AES-256-XTS (libcrypto) of every sector (512 or 4096 bytes: one
 * XTS data unit each), the tweak being the number of the sector's first
 * 512-byte LBA on the disk (as dm-crypt's plain64 without
 * iv_large_sectors): the same data at two places encrypts differently.
 * Everything below this filter sees only ciphertext.
 *
 *   [filter.crypt]
 *   key_file = disk.key   ; 64 bytes, raw or as 128 hex digits; mode 0600
 *   sector_size = 4096    ; 512 (default) or 4096; fixed for the disk's life
 *
 * With 4096-byte sectors an I/O that covers part of a sector reads the
 * whole sector below (a write then re-encrypts and writes it whole, under
 * one of LOCKS stripe locks, so two writers of different parts of one
 * sector do not undo each other).  A zeroing discard writes encrypted zeros
 * (the disk below would read back zeros, which decrypt to noise); a plain
 * discard (trim) passes down.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keel/vfilter.h"

#define KEY_LEN	   64
#define POOL_MAX   64 /* idle cipher contexts kept per disk */
#define ZERO_CHUNK (1u << 20)
#define LOCKS	   64 /* stripe locks of partial-sector writes */

struct crypt {
	unsigned char key[KEY_LEN];
	char key_file[PATH_MAX];
	uint64_t sector; /* bytes per XTS data unit: 512 or 4096 */
	pthread_mutex_t rmw[LOCKS];
	pthread_mutex_t lock; /* the pools */
	unsigned int nidle[2];
	EVP_CIPHER_CTX *idle[2][POOL_MAX]; /* [enc] */
};

/* A context with the key schedule done; only the tweak changes per sector. */
static EVP_CIPHER_CTX *ctx_get(struct crypt *c, int enc)
{
	EVP_CIPHER_CTX *ctx = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->nidle[enc])
		ctx = c->idle[enc][--c->nidle[enc]];
	pthread_mutex_unlock(&c->lock);
	if (ctx)
		return ctx;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx && !EVP_CipherInit_ex(ctx, EVP_aes_256_xts(), NULL, c->key, NULL, enc)) {
		EVP_CIPHER_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

static void ctx_put(struct crypt *c, int enc, EVP_CIPHER_CTX *ctx)
{
	pthread_mutex_lock(&c->lock);
	if (c->nidle[enc] < POOL_MAX) {
		c->idle[enc][c->nidle[enc]++] = ctx;
		ctx = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	EVP_CIPHER_CTX_free(ctx);
}

static int transform(struct crypt *c, int enc, unsigned char *out, const unsigned char *in,
		     size_t len, uint64_t off)
{
	EVP_CIPHER_CTX *ctx = ctx_get(c, enc);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	/* @off and @len are multiples of c->sector here */
	for (size_t done = 0; done < len; done += c->sector) {
		unsigned char iv[16] = { 0 };
		uint64_t lba = (off + done) / KEEL_VF_SECTOR;
		int outl;

		for (int i = 0; i < 8; i++)
			iv[i] = (unsigned char)(lba >> (8 * i)); /* little-endian */
		if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc) ||
		    !EVP_CipherUpdate(ctx, out + done, &outl, in + done, (int)c->sector)) {
			r = -EIO;
			break;
		}
	}
	ctx_put(c, enc, ctx);
	return r;
}

/* the whole sectors holding [off, off + len) */
static void widen(const struct crypt *c, uint64_t off, uint64_t len, uint64_t *ret_off,
		  uint64_t *ret_len)
{
	*ret_off = off / c->sector * c->sector;
	*ret_len = (off + len + c->sector - 1) / c->sector * c->sector - *ret_off;
}

static int crypt_pread(struct keel_vfilter *f, void *buf, size_t len, uint64_t off)
{
	struct crypt *c = keel_vfilter_priv(f);
	uint64_t woff, wlen;
	unsigned char *w;
	int r;

	widen(c, off, len, &woff, &wlen);
	if (woff == off && wlen == len) {
		r = keel_vfilter_pread(keel_vfilter_below(f), buf, len, off);
		return r ? r : transform(c, 0, buf, buf, len, off);
	}
	w = malloc(wlen);
	if (!w)
		return -ENOMEM;
	r = keel_vfilter_pread(keel_vfilter_below(f), w, wlen, woff);
	if (!r)
		r = transform(c, 0, w, w, wlen, woff);
	if (!r)
		memcpy(buf, w + (off - woff), len);
	free(w);
	return r;
}

/* Write part of one sector at @sec: read, decrypt, change, encrypt, write,
 * with the sector's stripe lock held. */
static int write_partial(struct keel_vfilter *f, struct crypt *c, const unsigned char *buf,
			 size_t len, uint64_t off, uint64_t sec, unsigned int flags)
{
	pthread_mutex_t *lock = &c->rmw[(sec / c->sector) % LOCKS];
	unsigned char *w = malloc(c->sector);
	int r;

	if (!w)
		return -ENOMEM;
	pthread_mutex_lock(lock);
	r = keel_vfilter_pread(keel_vfilter_below(f), w, c->sector, sec);
	if (!r)
		r = transform(c, 0, w, w, c->sector, sec);
	if (!r) {
		memcpy(w + (off - sec), buf, len);
		r = transform(c, 1, w, w, c->sector, sec);
	}
	if (!r)
		r = keel_vfilter_pwrite(keel_vfilter_below(f), w, c->sector, sec, flags);
	pthread_mutex_unlock(lock);
	OPENSSL_cleanse(w, c->sector);
	free(w);
	return r;
}

static int crypt_pwrite(struct keel_vfilter *f, const void *vbuf, size_t len, uint64_t off,
			unsigned int flags)
{
	struct crypt *c = keel_vfilter_priv(f);
	const unsigned char *buf = vbuf;
	unsigned char *ct;
	size_t n;
	int r = 0;

	/* a head that starts or ends inside a sector */
	if (off % c->sector || len < c->sector) {
		uint64_t sec = off / c->sector * c->sector;

		n = sec + c->sector - off < len ? (size_t)(sec + c->sector - off) : len;
		r = write_partial(f, c, buf, n, off, sec, flags);
		buf += n;
		off += n;
		len -= n;
	}
	/* whole sectors, then a tail inside one */
	n = len / c->sector * c->sector;
	if (!r && n) {
		ct = malloc(n);
		if (!ct)
			return -ENOMEM;
		r = transform(c, 1, ct, buf, n, off);
		if (!r)
			r = keel_vfilter_pwrite(keel_vfilter_below(f), ct, n, off, flags);
		free(ct);
	}
	if (!r && len > n)
		r = write_partial(f, c, buf + n, len - n, off + n, off + n, flags);
	return r;
}

static int crypt_discard(struct keel_vfilter *f, uint64_t off, uint64_t len, unsigned int flags)
{
	unsigned char *zero;
	int r = 0;

	/* a trim of part of a 4096-byte sector passes down too: XTS decrypts
	 * each 16-byte block on its own, so the rest of the sector survives */
	if (!(flags & KEEL_VF_ZERO))
		return keel_vfilter_discard(keel_vfilter_below(f), off, len, flags);
	zero = calloc(1, ZERO_CHUNK);
	if (!zero)
		return -ENOMEM;
	while (!r && len) {
		size_t n = len < ZERO_CHUNK ? len : ZERO_CHUNK;

		r = crypt_pwrite(f, zero, n, off, flags & KEEL_VF_FUA);
		off += n;
		len -= n;
	}
	free(zero);
	return r;
}

static int crypt_control(struct keel_vfilter *f, const char *op, json_t *args, json_t **ret,
			 char *err, size_t errlen)
{
	struct crypt *c = keel_vfilter_priv(f);

	(void)args;
	if (strcmp(op, "stats")) {
		snprintf(err, errlen, "filter crypt has no operation \"%s\" (known: stats)", op);
		return -EOPNOTSUPP;
	}
	*ret = json_pack("{s:s, s:I, s:s}", "cipher", "aes-256-xts", "sector_size",
			 (json_int_t)c->sector, "key_file", c->key_file);
	return *ret ? 0 : -ENOMEM;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* 64 raw bytes, or 128 hex digits and an optional newline. */
static int read_key(struct crypt *c, const char *where, char *err, size_t errlen)
{
	unsigned char buf[2 * KEY_LEN + 2];
	struct stat st;
	ssize_t n;
	int fd = open(c->key_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		snprintf(err, errlen, "%s key_file: cannot open %s: %s", where, c->key_file,
			 strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		close(fd);
		snprintf(
			err, errlen,
			"%s key_file: %s must be a regular file readable by its owner only (chmod 600)",
			where, c->key_file);
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == KEY_LEN) {
		memcpy(c->key, buf, KEY_LEN);
	} else if (n == 2 * KEY_LEN || (n == 2 * KEY_LEN + 1 && buf[2 * KEY_LEN] == '\n')) {
		for (int i = 0; i < KEY_LEN; i++) {
			int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				snprintf(err, errlen, "%s key_file: %s: offset %d: not a hex digit",
					 where, c->key_file, 2 * i + (hi >= 0));
				return -EINVAL;
			}
			c->key[i] = (unsigned char)(hi << 4 | lo);
		}
	} else {
		snprintf(
			err, errlen,
			"%s key_file: %s holds %zd bytes; an AES-256-XTS key is 64 bytes, or 128 hex digits",
			where, c->key_file, n);
		return -EINVAL;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (!CRYPTO_memcmp(c->key, c->key + KEY_LEN / 2, KEY_LEN / 2)) {
		snprintf(err, errlen, "%s key_file: %s: the two halves of the XTS key are equal",
			 where, c->key_file);
		return -EINVAL;
	}
	return 0;
}

static int crypt_open(struct keel_vfilter *f, struct keel_vfilter_conf *conf, char *err,
		      size_t errlen)
{
	struct crypt *c = calloc(1, sizeof(*c));
	EVP_CIPHER_CTX *ctx;
	int r;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	for (int i = 0; i < LOCKS; i++)
		pthread_mutex_init(&c->rmw[i], NULL);
	keel_vfilter_set_priv(f, c);
	r = keel_vfilter_conf_u64(conf, "sector_size", KEEL_VF_SECTOR, KEEL_VF_SECTOR, 4096,
				  &c->sector, err, errlen);
	if (r)
		return r;
	if (c->sector != KEEL_VF_SECTOR && c->sector != 4096) {
		snprintf(err, errlen, "%s sector_size: %" PRIu64 " is not 512 or 4096",
			 keel_vfilter_conf_where(conf), c->sector);
		return -EINVAL;
	}
	if (keel_vfilter_disk_size(f) % c->sector) {
		snprintf(err, errlen,
			 "%s sector_size: the disk (%" PRIu64 " bytes) is not a "
			 "whole number of %" PRIu64 "-byte sectors",
			 keel_vfilter_conf_where(conf), keel_vfilter_disk_size(f), c->sector);
		return -EINVAL;
	}
	r = keel_vfilter_conf_path(conf, "key_file", NULL, c->key_file, sizeof(c->key_file), err,
				   errlen);
	if (r)
		return r;
	if (!c->key_file[0]) {
		snprintf(err, errlen, "%s key_file: missing (the crypt filter needs a key)",
			 keel_vfilter_conf_where(conf));
		return -EINVAL;
	}
	r = read_key(c, keel_vfilter_conf_where(conf), err, errlen);
	if (r)
		return r;
	ctx = ctx_get(c, 1); /* libcrypto accepts the key? */
	if (!ctx) {
		snprintf(err, errlen, "%s key_file: %s: libcrypto refused the key for AES-256-XTS",
			 keel_vfilter_conf_where(conf), c->key_file);
		return -EINVAL;
	}
	ctx_put(c, 1, ctx);
	return 0;
}

static void crypt_close(struct keel_vfilter *f)
{
	struct crypt *c = keel_vfilter_priv(f);

	if (!c)
		return;
	for (int e = 0; e < 2; e++)
		for (unsigned int i = 0; i < c->nidle[e]; i++)
			EVP_CIPHER_CTX_free(c->idle[e][i]);
	OPENSSL_cleanse(c->key, sizeof(c->key));
	pthread_mutex_destroy(&c->lock);
	for (int i = 0; i < LOCKS; i++)
		pthread_mutex_destroy(&c->rmw[i]);
	free(c);
}

/* what crypt_open() reads (agent/vdisk/create_params.c checks a create against it) */
static const struct keel_vfilter_param crypt_params[] = {
	{ "sector_size", KEEL_VF_PARAM_U64, KEEL_VF_SECTOR, 4096 },
	{ "key_file", KEEL_VF_PARAM_PATH, 0, 0 },
	{ NULL },
};

const struct keel_vfilter_ops keel_vfilter_crypt = {
	.name = "crypt",
	.summary = "AES-256-XTS per 512- or 4096-byte sector, tweak = LBA, key from a key file",
	.params = crypt_params,
	.open = crypt_open,
	.close = crypt_close,
	.pread = crypt_pread,
	.pwrite = crypt_pwrite,
	.discard = crypt_discard,
	.control = crypt_control,
};
