// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

#include "exec/hash.h"

int keel_hash_fd(int fd, const char *algo, char *hex, size_t len)
{
	unsigned char buf[64 * 1024], md[EVP_MAX_MD_SIZE];
	const EVP_MD *type = EVP_get_digestbyname(algo);
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	off_t off = 0;
	ssize_t n;
	int err = 0;

	if (!type)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (!EVP_DigestInit_ex(ctx, type, NULL)) {
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
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			err = -EIO;
			goto free_ctx;
		}
		off += n;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		err = -EIO;
		goto free_ctx;
	}
	if (len < 2 * (size_t)mdlen + 1) {
		err = -ENOBUFS;
		goto free_ctx;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
free_ctx:
	EVP_MD_CTX_free(ctx);
	return err;
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
