/* SPDX-License-Identifier: GPL-2.0-only */
/* File digests through libcrypto's EVP interface (OpenSSL, libssl-dev). */
#ifndef KEEL_EXEC_HASH_H
#define KEEL_EXEC_HASH_H

#include <stddef.h>

/*
 * Digest everything @fd holds from offset 0 (pread: the file offset is
 * untouched) into lower-case hex in @hex (65 bytes for "sha256", 33 for
 * "md5").  Returns 0 or a negative errno.
 */
int keel_hash_fd(int fd, const char *algo, char *hex, size_t len);
int keel_hash_path(const char *path, const char *algo, char *hex, size_t len);
/*
 * Two digests of one read of @fd (dpkg's md5 and keel's SHA-256 of the
 * very same bytes): @hex1 and @hex2 as above.
 */
int keel_hash_fd2(int fd, const char *algo1, char *hex1, size_t len1, const char *algo2, char *hex2,
		  size_t len2);

#endif /* KEEL_EXEC_HASH_H */
