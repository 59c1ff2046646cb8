// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/outq.h"

void keel_outq_init(struct keel_outq *q, size_t limit)
{
	memset(q, 0, sizeof(*q));
	q->limit = limit;
}

void keel_outq_free(struct keel_outq *q)
{
	free(q->buf);
	q->buf = NULL;
	q->start = q->len = 0;
}

int keel_outq_push(struct keel_outq *q, const void *data, size_t len)
{
	if (len > q->limit - q->len)
		return -ENOBUFS;
	if (!q->buf) {
		/* allocated at the limit once: the limit is what it may cost */
		q->buf = malloc(q->limit);
		if (!q->buf)
			return -ENOMEM;
	}
	if (q->start + q->len + len > q->limit) {
		memmove(q->buf, q->buf + q->start, q->len);
		q->start = 0;
	}
	memcpy(q->buf + q->start + q->len, data, len);
	q->len += len;
	return 0;
}

long keel_outq_flush(struct keel_outq *q, int fd)
{
	while (q->len) {
		ssize_t n = send(fd, q->buf + q->start, q->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		q->start += (size_t)n;
		q->len -= (size_t)n;
	}
	if (!q->len)
		q->start = 0;
	return (long)q->len;
}
