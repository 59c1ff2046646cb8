/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keel-rcache's protocol and client (docs/rcache.md, "Protocol").
 *
 * A Unix stream socket.  The client's first message is a HELLO request,
 * sent with keel_memh_send() carrying a writable memory handle for the
 * client's buffer (a data client), or with plain send() (a control client:
 * only DROP and CONTROL).  Then requests and replies alternate: fixed
 * 64-byte little-endian frames, a CONTROL request followed by len bytes of
 * JSON and its reply by len bytes of JSON.
 *
 *   LOOKUP     blocks [off, off + len) of layer disk_id with CID cid: each
 *              cached block is written into the caller's buffer at
 *              handle_off + its offset in the range, through the handle;
 *              reply: a bit per block in hits, count = hits, seq = the
 *              disk's invalidation sequence
 *   ADMIT      the same range's data, read by the daemon from the buffer at
 *              handle_off; seq from the LOOKUP; count = blocks admitted
 *   INVALIDATE every block touching [off, off + len) of disk_id
 *   DROP       every block of disk_id (all disks: disk_id = ~0)
 *   CONTROL    JSON {"op": "stats" | "disks" | "flush" | "drop" | "limit", ...}
 * off and len of LOOKUP and ADMIT are multiples of the block size, at most
 * max_blocks blocks (both in the HELLO reply).  status is 0 or -errno.
 */
#ifndef KEEL_RCACHE_H
#define KEEL_RCACHE_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/memh.h"

#define KEEL_RCACHE_MAGIC     0x3143524bu /* "KRC1" */
#define KEEL_RCACHE_SOCKET    "/run/keel/rcache.sock"
#define KEEL_RCACHE_DIR	      "/var/lib/keel/rcache"
#define KEEL_RCACHE_ALL_DISKS UINT64_MAX
#define KEEL_RCACHE_MAX_JSON  (1u << 20)

enum keel_rcache_op {
	KEEL_RCACHE_HELLO = 1,
	KEEL_RCACHE_LOOKUP,
	KEEL_RCACHE_ADMIT,
	KEEL_RCACHE_INVALIDATE,
	KEEL_RCACHE_DROP,
	KEEL_RCACHE_CONTROL,
};

struct keel_rcache_req {
	__u32 magic;
	__u32 op;
	__u64 id;
	__u64 disk_id;
	__u64 off;	  /* bytes */
	__u64 len;	  /* bytes; CONTROL: JSON bytes that follow */
	__u64 handle_off; /* LOOKUP, ADMIT: bytes into the caller's buffer */
	__u64 seq;	  /* ADMIT: the LOOKUP's seq */
	__u32 cid;
	__u32 flags; /* 0 */
};

struct keel_rcache_reply {
	__u64 id;
	__s32 status;
	__u32 block_size;
	__u64 seq;
	__u32 count; /* hits, admitted, dropped; HELLO: max_blocks */
	__u32 len;   /* CONTROL: JSON bytes that follow */
	__u8 hits[32];
};

_Static_assert(sizeof(struct keel_rcache_req) == 64, "request frame");
_Static_assert(sizeof(struct keel_rcache_reply) == 64, "reply frame");

/*
 * Connect to @path and say hello, with @h (NULL: a control client).
 * Replies wait at most @timeout_ms (0: 5 s) each.  Returns the socket, the
 * block size and max_blocks; or a negative errno and @why.
 */
int keel_rcache_connect(const char *path, const struct keel_memh *h, unsigned int timeout_ms,
			uint32_t *ret_block_size, uint32_t *ret_max_blocks, char *why,
			size_t why_len);
/*
 * One request and its reply.  @payload: CONTROL's JSON (req->len bytes).
 * *ret_payload (may be NULL): CONTROL's answer, malloc'd and NUL-ended.
 * Returns 0 when the exchange worked (the daemon's answer in rep->status),
 * a negative errno when the connection is unusable.
 */
int keel_rcache_call(int sock, struct keel_rcache_req *req, const void *payload,
		     struct keel_rcache_reply *rep, char **ret_payload);
/* CONTROL with a JSON text; *ret gets the answer's text (free it). */
int keel_rcache_control(int sock, const char *json, char **ret, char *why, size_t why_len);

#endif /* KEEL_RCACHE_H */
