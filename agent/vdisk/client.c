// SPDX-License-Identifier: GPL-2.0-only
/* Filter-level access: join a disk server's chain, get handles, do I/O. */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "blk/blk.h"
#include "keel/vdisk.h"
#include "keel/vdisk_client.h"

#define MAX_ANSWER (4u << 20)

struct keel_vdisk_client {
	int fd;
	char *buf; /* bytes received past the last answer's line */
	size_t len, cap;
};

/*
 * Keyed by the disk file's device and inode, not by its ID: a VMDK's CID
 * changes when it is written, and two paths (symlinks, relative) name the
 * same file.
 */
int keel_vdisk_run_path(const char *disk_path, const char *suffix, char *ret, size_t retlen)
{
	const char *dir = getenv("KEEL_VDISK_RUN_DIR");
	struct stat st;

	if (stat(disk_path, &st))
		return -errno;
	if (!dir || !*dir)
		dir = KEEL_VDISK_RUN_DIR;
	if (snprintf(ret, retlen, "%s/%llx-%llx.%s", dir, (unsigned long long)st.st_dev,
		     (unsigned long long)st.st_ino, suffix) >= (int)retlen)
		return -ENAMETOOLONG;
	return 0;
}

int keel_vdisk_client_connect(const char *channel, struct keel_vdisk_client **ret, char *err,
			      size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct keel_vdisk_client *c;
	int fd, r;

	if (strlen(channel) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "channel %s: path too long", channel);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, channel);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		r = -errno;
		snprintf(err, errlen, "channel %s: %s%s", channel, strerror(errno),
			 errno == ENOENT || errno == ECONNREFUSED ?
				 " (is the disk open? start its disk server first)" :
				 "");
		if (fd >= 0)
			close(fd);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	*ret = c;
	return 0;
}

int keel_vdisk_client_open(const char *disk_path, struct keel_vdisk_client **ret, char *err,
			   size_t errlen)
{
	char chan[4096];
	int r = keel_vdisk_run_path(disk_path, "chan", chan, sizeof(chan));

	if (r) {
		snprintf(err, errlen, "%s: cannot name the disk: %s", disk_path, strerror(-r));
		return r;
	}
	return keel_vdisk_client_connect(chan, ret, err, errlen);
}

int keel_vdisk_client_timeout(struct keel_vdisk_client *c, unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (long)(ms % 1000) * 1000 };

	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

void keel_vdisk_client_close(struct keel_vdisk_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Read one answer line, taking a passed descriptor if one comes with it. */
static int read_line(struct keel_vdisk_client *c, char **ret_line, int *ret_fd)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov;
		struct msghdr m = { .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - c->buf) + 1;

			*ret_line = strndup(c->buf, l - 1);
			memmove(c->buf, c->buf + l, c->len - l);
			c->len -= l;
			return *ret_line ? 0 : -ENOMEM;
		}
		if (c->cap - c->len < 4096) {
			char *nb;

			if (c->cap >= MAX_ANSWER)
				return -EMSGSIZE;
			nb = realloc(c->buf, c->cap ? 2 * c->cap : 8192);
			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = c->cap ? 2 * c->cap : 8192;
		}
		iov.iov_base = c->buf + c->len;
		iov.iov_len = c->cap - c->len;
		n = recvmsg(c->fd, &m, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
				if (ret_fd && *ret_fd < 0)
					*ret_fd = fd;
				else
					close(fd);
			}
		c->len += (size_t)n;
	}
}

int keel_vdisk_client_call(struct keel_vdisk_client *c, json_t *req, json_t **ret, int *ret_fd,
			   char *err, size_t errlen)
{
	char *text = json_dumps(req, JSON_COMPACT), *line = NULL;
	json_t *ans;
	size_t len;
	int r;

	if (ret_fd)
		*ret_fd = -1;
	*ret = NULL;
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n';
	r = send(c->fd, text, len + 1, MSG_NOSIGNAL) == (ssize_t)(len + 1) ? 0 : -EPIPE;
	free(text);
	if (!r)
		r = read_line(c, &line, ret_fd);
	if (r) {
		snprintf(err, errlen, "disk server channel: %s", strerror(-r));
		return r;
	}
	ans = json_loads(line, 0, NULL);
	free(line);
	if (!json_is_object(ans)) {
		json_decref(ans);
		snprintf(err, errlen, "disk server channel: an answer that is not JSON");
		return -EPROTO;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		json_int_t e = json_integer_value(json_object_get(ans, "errno"));

		snprintf(err, errlen, "%s",
			 json_string_value(json_object_get(ans, "error")) ?: "refused");
		json_decref(ans);
		if (ret_fd && *ret_fd >= 0) {
			close(*ret_fd);
			*ret_fd = -1;
		}
		return e > 0 ? (int)-e : -EIO;
	}
	*ret = ans;
	return 0;
}

int keel_vdisk_client_handle(struct keel_vdisk_client *c, const char *filter, int *ret_fd,
			     char *err, size_t errlen)
{
	json_t *req = json_pack("{s:s, s:s}", "op", "handle", "filter", filter), *ans = NULL;
	int r = req ? keel_vdisk_client_call(c, req, &ans, ret_fd, err, errlen) : -ENOMEM;

	json_decref(req);
	json_decref(ans);
	if (!r && *ret_fd < 0) {
		snprintf(err, errlen, "the disk server granted a handle but sent no descriptor");
		r = -EPROTO;
	}
	return r;
}

static int full(int fd, void *buf, size_t len, bool out)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = out ? send(fd, (char *)buf + done, len - done, MSG_NOSIGNAL) :
				  read(fd, (char *)buf + done, len - done);

		if (n == 0)
			return -ECONNRESET;
		/*
		 * The server closes a handle it got a bad frame on.  Whether our
		 * next request meets that close as EPIPE (it closed before we
		 * sent), ECONNRESET (it closed with our request unread) or end
		 * of file (while we wait for the reply) is timing; the caller
		 * gets one answer for "the handle is gone": ECONNRESET.
		 */
		if (n < 0 && errno == EPIPE)
			return -ECONNRESET;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			done += (size_t)n;
	}
	return 0;
}

static int request(int fd, uint16_t op, uint16_t flags, uint64_t off, uint64_t len,
		   const void *wbuf, void *rbuf)
{
	struct keel_vdisk_handle_req q = {
		.magic = htole32(KEEL_VDISK_HANDLE_MAGIC),
		.op = htole16(op),
		.flags = htole16(flags),
		.offset = htole64(off),
		.length = htole64(len),
	};
	struct keel_vdisk_handle_reply a;
	int r, e;

	if ((wbuf || rbuf) && len > KEEL_VDISK_HANDLE_MAX_IO)
		return -EINVAL;
	r = full(fd, &q, sizeof(q), true);
	if (!r && wbuf)
		r = full(fd, (void *)wbuf, len, true);
	if (!r)
		r = full(fd, &a, sizeof(a), false);
	if (r)
		return r;
	if (le32toh(a.magic) != KEEL_VDISK_HANDLE_MAGIC)
		return -EPROTO;
	e = (int32_t)le32toh((uint32_t)a.error);
	if (!e && rbuf)
		r = full(fd, rbuf, len, false);
	return e ? e : r;
}

int keel_vdisk_handle_pread(int fd, void *buf, size_t len, uint64_t off)
{
	return request(fd, KEEL_VDISK_OP_READ, 0, off, len, NULL, buf);
}

int keel_vdisk_handle_pwrite(int fd, const void *buf, size_t len, uint64_t off, unsigned int flags)
{
	return request(fd, KEEL_VDISK_OP_WRITE, (uint16_t)(flags & KEEL_VF_FUA), off, len, buf,
		       NULL);
}

int keel_vdisk_handle_flush(int fd)
{
	return request(fd, KEEL_VDISK_OP_FLUSH, 0, 0, 0, NULL, NULL);
}

int keel_vdisk_handle_discard(int fd, uint64_t off, uint64_t len, unsigned int flags)
{
	return request(fd, KEEL_VDISK_OP_DISCARD, (uint16_t)(flags & (KEEL_VF_FUA | KEEL_VF_ZERO)),
		       off, len, NULL, NULL);
}
