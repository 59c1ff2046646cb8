// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

#include "exec/hash.h"

static int to_hex(EVP_MD_CTX *ctx, char *hex, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_DigestFinal_ex(ctx, md, &mdlen))
		return -EIO;
	if (len < 2 * (size_t)mdlen + 1)
		return -ENOBUFS;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int keel_hash_fd2(int fd, const char *algo1, char *hex1, size_t len1, const char *algo2, char *hex2,
		  size_t len2)
{
	const EVP_MD *t1 = EVP_get_digestbyname(algo1);
	const EVP_MD *t2 = algo2 ? EVP_get_digestbyname(algo2) : NULL;
	unsigned char buf[64 * 1024];
	EVP_MD_CTX *c1, *c2 = NULL;
	off_t off = 0;
	ssize_t n;
	int err = 0;

	if (!t1 || (algo2 && !t2))
		return -EINVAL;
	c1 = EVP_MD_CTX_new();
	if (t2)
		c2 = EVP_MD_CTX_new();
	if (!c1 || (t2 && !c2)) {
		err = -ENOMEM;
		goto free_ctx;
	}
	if (!EVP_DigestInit_ex(c1, t1, NULL) || (c2 && !EVP_DigestInit_ex(c2, t2, NULL))) {
		err = -EIO;
		goto free_ctx;
	}
	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto free_ctx;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(c1, buf, (size_t)n) ||
		    (c2 && !EVP_DigestUpdate(c2, buf, (size_t)n))) {
			err = -EIO;
			goto free_ctx;
		}
		off += n;
	}
	err = to_hex(c1, hex1, len1);
	if (!err && c2)
		err = to_hex(c2, hex2, len2);
free_ctx:
	EVP_MD_CTX_free(c1);
	EVP_MD_CTX_free(c2);
	return err;
}

int keel_hash_fd(int fd, const char *algo, char *hex, size_t len)
{
	return keel_hash_fd2(fd, algo, hex, len, NULL, NULL, 0);
}

int keel_hash_path(const char *path, const char *algo, char *hex, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int err;

	if (fd < 0)
		return -errno;
	err = keel_hash_fd(fd, algo, hex, len);
	close(fd);
	return err;
}
