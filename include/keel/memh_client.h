/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keeld's read service, client side (docs/memh.md, "keeld's read service").
 *
 * A client connects to keeld's memh socket, sends a write-enabled memory
 * handle for one of its buffers, and asks keeld to read ranges of files
 * straight into that buffer.  Requests and replies are JSON lines:
 *
 *   {"id": 7, "path": "/srv/f", "file_offset": 0, "len": 4096, "handle_offset": 0}
 *   {"id": 7, "ok": true, "bytes": 4096}
 *   {"id": 7, "ok": false, "errno": 18, "code": "EXDEV", "error": "..."}
 *
 * All functions return 0 (or a byte count) or a negative errno, and on
 * failure put a message in @why when one is given.
 */
#ifndef KEEL_MEMH_CLIENT_H
#define KEEL_MEMH_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/memh.h"

/*
 * Connect to @sock_path, hand @h over and wait for keeld's greeting.
 * @ret_mode (may be NULL) gets "module" or "fallback": how keeld holds the
 * handle.  Returns the connected socket's fd.
 */
int keel_memh_client_open(const char *sock_path, const struct keel_memh *h, char *ret_mode,
			  size_t mode_len, char *why, size_t why_len);

/* Queue one read request without waiting for its reply. */
int keel_memh_client_send(int sock, uint64_t id, const char *path, uint64_t file_off, uint64_t len,
			  uint64_t handle_off);

/*
 * Wait for the next reply: its id in @ret_id, and the bytes read (fewer
 * than asked at the end of the file) or keeld's negative errno.
 */
ssize_t keel_memh_client_reply(int sock, uint64_t *ret_id, char *why, size_t why_len);

/*
 * Read @len bytes of @path at @file_off into the handle at @handle_off and
 * wait for the answer.  Do not mix with requests still in flight.
 */
ssize_t keel_memh_client_read(int sock, const char *path, uint64_t file_off, uint64_t len,
			      uint64_t handle_off, char *why, size_t why_len);

#endif /* KEEL_MEMH_CLIENT_H */
