// SPDX-License-Identifier: GPL-2.0-only
/*
 * The file sink: every event as one JSON line appended to [events] file.
 * When the next line would take the file past [events] file_max_bytes, the
 * file is rotated: PATH.1.gz ... become PATH.2.gz ..., the oldest beyond
 * [events] file_backups is removed, PATH is gzip-compressed (zlib) into
 * PATH.1.gz and started again empty.  All of it runs on the sink's worker,
 * so compression never holds up keeld's loop.  A line that cannot be
 * written is a write error (counted, reported by keel.dropped); a backup
 * that cannot be made loses the lines of the file being rotated, counted
 * the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "keeld/sink.h"

struct file_sink {
	char path[PATH_MAX - 16]; /* room for ".NNN.gz.tmp" */
	unsigned int max_bytes, backups;
	int fd;
	uint64_t size, lines; /* of the current file */
	_Atomic uint64_t rotations, rotate_errors, lost_in_rotation;
};

static int open_log(struct file_sink *f)
{
	struct stat st;

	f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (f->fd < 0)
		return -errno;
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f->fd);
		f->fd = -1;
		return -EINVAL;
	}
	f->size = (uint64_t)st.st_size;
	f->lines = 0; /* lines of an existing file are not counted as ours */
	return 0;
}

static void backup_name(const struct file_sink *f, unsigned int n, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%u.gz", f->path, n);
}

/* gzip @src into @dst through a temporary file, so a backup is whole or absent. */
static int compress_file(const char *src, const char *dst)
{
	char tmp[PATH_MAX + 8], buf[65536];
	int in, err = 0;
	ssize_t n;
	gzFile gz;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	gz = gzopen(tmp, "wbe6");
	if (!gz) {
		close(in);
		return -EIO;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (gzwrite(gz, buf, (unsigned int)n) != n) {
			err = -EIO;
			break;
		}
	}
	if (n < 0)
		err = -errno;
	if (gzclose(gz) != Z_OK && !err)
		err = -EIO;
	close(in);
	if (!err && rename(tmp, dst) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static void rotate(struct file_sink *f)
{
	char from[PATH_MAX], to[PATH_MAX];
	int err = 0;

	close(f->fd);
	f->fd = -1;
	if (f->backups) {
		backup_name(f, f->backups, to, sizeof(to));
		unlink(to);
		for (unsigned int i = f->backups; i > 1; i--) {
			backup_name(f, i - 1, from, sizeof(from));
			backup_name(f, i, to, sizeof(to));
			rename(from, to); /* ENOENT: fewer backups so far */
		}
		backup_name(f, 1, to, sizeof(to));
		err = compress_file(f->path, to);
	}
	if (err) {
		f->rotate_errors++;
		f->lost_in_rotation += f->lines;
	}
	unlink(f->path);
	f->rotations++;
	open_log(f);
}

static struct keel_sink_item *file_encode(void *priv, const char *type, json_t *ev,
					  const char *line, size_t len, int priority)
{
	struct keel_sink_item *it = malloc(sizeof(*it) + len);

	(void)priv;
	(void)type;
	(void)ev;
	if (it) {
		it->priority = priority;
		it->len = len;
		memcpy(it->data, line, len);
	}
	return it;
}

static int file_write(void *priv, const struct keel_sink_item *it)
{
	struct file_sink *f = priv;
	size_t done = 0;

	if (f->fd >= 0 && f->size && f->size + it->len > f->max_bytes)
		rotate(f);
	if (f->fd < 0 && open_log(f) < 0)
		return -EBADF;
	while (done < it->len) {
		ssize_t n = write(f->fd, it->data + done, it->len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* a partial line: end it, so the next line parses */
			if (done && write(f->fd, "\n", 1) == 1)
				f->size += done + 1;
			return -errno;
		}
		done += (size_t)n;
	}
	f->size += it->len;
	f->lines++;
	return 0;
}

static void file_close(void *priv)
{
	struct file_sink *f = priv;

	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

static void file_counters(void *priv, json_t *out)
{
	struct file_sink *f = priv;

	json_object_set_new(out, "path", json_string(f->path));
	json_object_set_new(out, "rotations", json_integer((json_int_t)f->rotations));
	json_object_set_new(out, "rotate_errors", json_integer((json_int_t)f->rotate_errors));
	json_object_set_new(out, "lost_in_rotation", json_integer((json_int_t)f->lost_in_rotation));
}

const struct keel_sink_ops keel_sink_file_ops = {
	.name = "file",
	.encode = file_encode,
	.write = file_write,
	.close = file_close,
	.counters = file_counters,
};

int keel_sink_file_open(const char *path, unsigned int max_bytes, unsigned int backups,
			void **ret_priv, char *why, size_t len)
{
	struct file_sink *f = calloc(1, sizeof(*f));
	int err;

	if (!f) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	if (strlen(path) >= sizeof(f->path)) {
		snprintf(why, len, "%s: path too long", path);
		free(f);
		return -ENAMETOOLONG;
	}
	strcpy(f->path, path);
	f->max_bytes = max_bytes;
	f->backups = backups;
	err = open_log(f);
	if (err) {
		snprintf(why, len, "%s: cannot open for appending: %s", path,
			 err == -EINVAL ? "not a regular file" : strerror(-err));
		free(f);
		return err;
	}
	*ret_priv = f;
	return 0;
}
