/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internals of the VMDK library shared by its files: the parsed descriptor
 * (descriptor.c), hosted sparse extents (sparse.c), the open disk and its
 * I/O (open.c, io.c), creation (create.c) and the checker (check.c).
 */
#ifndef KEEL_VMDK_INT_H
#define KEEL_VMDK_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vmdk/vmdk.h"

#define VMDK_SECTOR   ((uint64_t)512)
#define VMDK_CID_NONE 0xffffffffu /* parentCID of a disk without a parent */
#define VMDK_MAX_LINE 4096	  /* bytes of one descriptor line */
#define VMDK_MAX_KEYS 256	  /* key = value lines of one descriptor */

enum vmdk_access { VMDK_RW, VMDK_RDONLY, VMDK_NOACCESS };
enum vmdk_ext_kind { VMDK_EXT_FLAT, VMDK_EXT_SPARSE, VMDK_EXT_ZERO, VMDK_EXT_VMFS };

struct vmdk_desc_extent {
	enum vmdk_access access;
	uint64_t sectors;
	enum vmdk_ext_kind kind;
	char *file;	 /* as written in the descriptor (NULL for ZERO) */
	uint64_t offset; /* FLAT: sectors into the file */
	unsigned int line;
};

struct vmdk_desc_kv {
	char *key, *value;
	bool quoted, ddb;
	unsigned int line;
};

struct vmdk_desc {
	struct vmdk_desc_kv *kv;
	size_t nkv;
	struct vmdk_desc_extent *ext;
	size_t next;
	enum keel_vmdk_type type;
	bool vmfs; /* createType "vmfs": flat extents on VMFS, kept as written */
	uint32_t cid, parent_cid;
	const char *parent_hint; /* points into kv, NULL if none */
};

/* descriptor.c */
int vmdk_desc_parse(const char *text, size_t len, const char *name, struct vmdk_desc *d, char *err,
		    size_t errlen);
char *vmdk_desc_format(const struct vmdk_desc *d); /* malloc'd text, NULL on ENOMEM */
void vmdk_desc_free(struct vmdk_desc *d);
const char *vmdk_desc_get(const struct vmdk_desc *d, const char *key);
int vmdk_desc_set(struct vmdk_desc *d, const char *key, const char *value, bool quoted);
int vmdk_desc_add_extent(struct vmdk_desc *d, enum vmdk_access access, uint64_t sectors,
			 enum vmdk_ext_kind kind, const char *file, uint64_t offset);
int vmdk_type_parse(const char *s, enum keel_vmdk_type *ret);

/* The 512-byte header of a hosted sparse extent (little-endian on disk). */
#define VMDK_MAGIC	      0x564d444bu /* "KDMV" */
#define VMDK_FLAG_NL_DETECT   (1u << 0)
#define VMDK_FLAG_RGD	      (1u << 1)
#define VMDK_FLAG_ZERO_GRAIN  (1u << 2)
#define VMDK_FLAG_COMPRESSED  (1u << 16)
#define VMDK_FLAG_MARKERS     (1u << 17)
#define VMDK_GD_AT_END	      0xffffffffffffffffULL
#define VMDK_COMPRESS_DEFLATE 1
#define VMDK_MARKER_EOS	      0
#define VMDK_MARKER_GT	      1
#define VMDK_MARKER_GD	      2
#define VMDK_MARKER_FOOTER    3

struct vmdk_header {
	uint32_t magic, version, flags;
	uint64_t capacity, grain, desc_off, desc_size;
	uint32_t gtes_per_gt;
	uint64_t rgd_off, gd_off, overhead;
	uint8_t unclean;
	char nl[4];
	uint16_t compress;
};

void vmdk_header_decode(const uint8_t *raw, struct vmdk_header *h);
void vmdk_header_encode(const struct vmdk_header *h, uint8_t *raw);

/* A hosted sparse extent, opened. */
struct vmdk_sparse {
	int fd;
	const char *path;
	struct vmdk_header h;
	uint64_t file_end;  /* bytes; where the next grain goes (grain writes append) */
	uint64_t meta_end;  /* bytes; first byte a grain may start at */
	uint32_t ngts;	    /* grain tables, = grain directory entries */
	uint32_t *gd, *rgd; /* rgd NULL without a redundant directory */
	uint32_t **gts;	    /* cache of loaded primary grain tables */
	uint32_t ncached;
	bool compressed, zero_grain, writable;
	/* compressed extents: the last grain inflated, for reads in pieces */
	char *zcache;
	uint64_t zcache_grain; /* UINT64_MAX: empty */
	pthread_mutex_t lock;  /* tables, directories, file_end, zcache */
	/* held through a whole grain allocation, which waits for fdatasync
	 * twice at most: reads keep going meanwhile (they need only @lock) */
	pthread_mutex_t alloc_lock;
};

/* where a grain lives: */
#define VMDK_GRAIN_UNMAPPED 0 /* not in this layer: the parent's, or zeros */
#define VMDK_GRAIN_ZERO	    1 /* a zeroed grain (flag ZERO_GRAIN): zeros, hides the parent */

/* takes @fd: kept by the extent, or closed on failure */
int vmdk_sparse_open(const char *path, int fd, bool writable, struct vmdk_sparse **ret, char *err,
		     size_t errlen);
void vmdk_sparse_close(struct vmdk_sparse *s);
/* the embedded descriptor text (malloc'd, NUL-terminated), NULL in *ret if none */
int vmdk_sparse_descriptor(struct vmdk_sparse *s, char **ret, char *err, size_t errlen);
int vmdk_sparse_write_descriptor(struct vmdk_sparse *s, const char *text, char *err, size_t errlen);
/* sector (in the file) of grain @g, or VMDK_GRAIN_UNMAPPED / _ZERO */
int vmdk_sparse_lookup(struct vmdk_sparse *s, uint64_t g, uint64_t *ret_sector, char *err,
		       size_t errlen);
/* read @len bytes at @in (bytes into grain @g) of a mapped grain */
int vmdk_sparse_read_grain(struct vmdk_sparse *s, uint64_t g, uint64_t sector, void *buf,
			   size_t len, uint64_t in, char *err, size_t errlen);
/* allocate up to @n unmapped grains from @g holding @data (whole grains) */
int vmdk_sparse_alloc(struct vmdk_sparse *s, uint64_t g, uint64_t n, const void *data,
		      uint64_t *ret_done, char *err, size_t errlen);
int vmdk_sparse_write_header(struct vmdk_sparse *s, char *err, size_t errlen);
uint64_t vmdk_sparse_grain_bytes(const struct vmdk_sparse *s);

/* An extent of an open disk. */
struct vmdk_extent {
	enum vmdk_ext_kind kind;
	enum vmdk_access access;
	uint64_t start, len; /* bytes in the disk */
	uint64_t file_off;   /* FLAT: bytes into the file */
	char *path;	     /* resolved file path */
	int fd;
	struct vmdk_sparse *sparse;
	bool written;
};

struct keel_vmdk {
	char *path; /* descriptor path as opened */
	char *dir;  /* its directory, for relative extent and parent names */
	struct vmdk_desc desc;
	struct vmdk_sparse *desc_sparse; /* the extent holding the descriptor, if embedded */
	struct vmdk_extent *ext;
	size_t next;
	uint64_t size;
	bool writable, cid_updated, desc_written;
	bool desc_tail; /* bytes after the NUL ending a descriptor file's text */
	struct keel_vmdk *parent;
	const struct keel_vmdk *child; /* while opening: the layer above, for loop checks */
	dev_t dev;
	ino_t ino;
	unsigned int depth;
	pthread_mutex_t lock; /* CID update, last error */
	char last_err[512];
};

/* open.c */
int vmdk_open_layer(const char *path, bool writable, unsigned int depth,
		    const struct keel_vmdk *child, struct keel_vmdk **ret, char *err,
		    size_t errlen);
int vmdk_write_descriptor(struct keel_vmdk *disk, char *err, size_t errlen);
int vmdk_new_cid(uint32_t old, uint32_t *ret);
int vmdk_find_extent(const struct keel_vmdk *disk, uint64_t off);

/* io.c */
int vmdk_layer_read(struct keel_vmdk *disk, void *buf, size_t len, uint64_t off, char *err,
		    size_t errlen);

/* util */
int vmdk_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
ssize_t vmdk_pread_full(int fd, void *buf, size_t len, uint64_t off);
int vmdk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
char *vmdk_join(const char *dir, const char *name);
char *vmdk_dirname(const char *path);

#endif
