// SPDX-License-Identifier: GPL-2.0-only
/* Reader and writer of keel's block trace format; layout in keel/trace.h. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "keel/trace.h"

struct keel_trace_writer {
	FILE *f;
	int err;
};

struct keel_trace_reader {
	FILE *f;
	__u32 record_size;
	__u64 index;
	unsigned char *buf;
};

static void put32(unsigned char *p, __u32 v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, __u64 v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static __u32 get32(const unsigned char *p)
{
	__u32 v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static __u64 get64(const unsigned char *p)
{
	__u64 v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

int keel_trace_writer_open(const char *path, struct keel_trace_writer **ret)
{
	unsigned char hdr[KEEL_TRACE_HEADER_SIZE];
	struct keel_trace_writer *w;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->f = fopen(path, "wbe");
	if (!w->f) {
		err = -errno;
		free(w);
		return err;
	}
	memcpy(hdr, KEEL_TRACE_MAGIC, 8);
	put32(hdr + 8, KEEL_TRACE_VERSION);
	put32(hdr + 12, KEEL_TRACE_RECORD_SIZE);
	if (fwrite(hdr, sizeof(hdr), 1, w->f) != 1)
		w->err = -EIO;
	*ret = w;
	return 0;
}

int keel_trace_writer_append(struct keel_trace_writer *w, const struct keel_trace_record *r)
{
	unsigned char b[KEEL_TRACE_RECORD_SIZE];

	if (w->err)
		return w->err;
	put64(b, r->time_ns);
	put64(b + 8, r->disk_id);
	put64(b + 16, r->lba);
	put32(b + 24, r->len_bytes);
	put32(b + 28, r->flags);
	if (fwrite(b, sizeof(b), 1, w->f) != 1)
		w->err = errno ? -errno : -EIO;
	return w->err;
}

int keel_trace_writer_close(struct keel_trace_writer *w)
{
	int err;

	if (!w)
		return 0;
	err = w->err;
	if (fclose(w->f) && !err)
		err = errno ? -errno : -EIO;
	free(w);
	return err;
}

int keel_trace_reader_open(const char *path, struct keel_trace_reader **ret)
{
	unsigned char hdr[KEEL_TRACE_HEADER_SIZE];
	struct keel_trace_reader *r;
	int err = -EBADMSG;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->f = fopen(path, "rbe");
	if (!r->f) {
		err = -errno;
		goto free_reader;
	}
	if (fread(hdr, sizeof(hdr), 1, r->f) != 1 || memcmp(hdr, KEEL_TRACE_MAGIC, 8) ||
	    get32(hdr + 8) < 1)
		goto close_file;
	r->record_size = get32(hdr + 12);
	/* A version-1 record is 32 bytes; later versions may only grow. */
	if (r->record_size < KEEL_TRACE_RECORD_SIZE || r->record_size > 4096 ||
	    (get32(hdr + 8) == 1 && r->record_size != KEEL_TRACE_RECORD_SIZE))
		goto close_file;
	r->buf = malloc(r->record_size);
	if (!r->buf) {
		err = -ENOMEM;
		goto close_file;
	}
	*ret = r;
	return 0;
close_file:
	fclose(r->f);
free_reader:
	free(r);
	return err;
}

int keel_trace_reader_next(struct keel_trace_reader *r, struct keel_trace_record *out)
{
	size_t n = fread(r->buf, 1, r->record_size, r->f);

	if (n == 0)
		return ferror(r->f) ? -EIO : 0;
	if (n < r->record_size)
		return ferror(r->f) ? -EIO : -EBADMSG;
	out->time_ns = get64(r->buf);
	out->disk_id = get64(r->buf + 8);
	out->lba = get64(r->buf + 16);
	out->len_bytes = get32(r->buf + 24);
	out->flags = get32(r->buf + 28);
	r->index++;
	return 1;
}

__u64 keel_trace_reader_index(const struct keel_trace_reader *r)
{
	return r->index;
}

void keel_trace_reader_close(struct keel_trace_reader *r)
{
	if (!r)
		return;
	fclose(r->f);
	free(r->buf);
	free(r);
}
