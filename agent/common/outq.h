/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A bounded output queue for a non-blocking socket.  Whoever writes to a
 * peer that reads slowly must neither block nor grow without limit: a push
 * that does not fit is refused whole (the caller counts it as a drop), so a
 * peer never receives half a line.
 */
#ifndef KEEL_OUTQ_H
#define KEEL_OUTQ_H

#include <stddef.h>

struct keel_outq {
	char *buf;
	size_t start; /* first byte not yet written */
	size_t len;   /* bytes queued from start */
	size_t limit; /* most bytes ever queued */
};

void keel_outq_init(struct keel_outq *q, size_t limit);
void keel_outq_free(struct keel_outq *q);
/* Queue @len bytes; -ENOBUFS when they do not fit under the limit. */
int keel_outq_push(struct keel_outq *q, const void *data, size_t len);
/*
 * Write as much as @fd takes now.  Returns the bytes still queued, or a
 * negative errno when the peer is gone (-EPIPE, -ECONNRESET...).
 */
long keel_outq_flush(struct keel_outq *q, int fd);
static inline size_t keel_outq_pending(const struct keel_outq *q)
{
	return q->len;
}

#endif /* KEEL_OUTQ_H */
