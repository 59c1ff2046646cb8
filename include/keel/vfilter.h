/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keel's virtual-disk filter API: how to write a filter in one file.
 *
 * An open disk has one chain of filters, ordered top to bottom, read from
 * the disk's metadata (the IMAGE.keel sidecar, see docs/vdisk.md) when the
 * disk is opened.  The bottom of every chain is the VMDK library itself,
 * present as a filter named "vmdk".  I/O enters a chain at some filter (the
 * top for NBD clients, any filter for a handle obtained over the disk
 * server's channel, see keel/vdisk_client.h) and travels down: a filter
 * sees the I/O of everything entering at or above it, never of what enters
 * below it.
 *
 * A filter is a `const struct keel_vfilter_ops` with a unique name, listed
 * in agent/vdisk/registry.c.  Every callback is optional: a NULL I/O
 * callback passes the call unchanged to the filter below.
 *
 *   open(f, conf, err)     called once when the chain is built, bottom
 *                          first (so the filter below is already usable).
 *                          Read parameters with keel_vfilter_conf_*(): a
 *                          key the filter did not read is an error for the
 *                          whole chain, so a typo never goes unnoticed.
 *                          Keep state with keel_vfilter_set_priv().  On
 *                          failure return a negative errno and write a
 *                          sentence naming the parameter into err.
 *   close(f)               top first; the filter below is still open.
 *   pread(f, buf, len, off)
 *   pwrite(f, buf, len, off, flags)   KEEL_VF_FUA: durable on return
 *   flush(f)               every write acknowledged before is durable on
 *                          return: flush your own state, then call below
 *   discard(f, off, len, flags)   KEEL_VF_ZERO: the range must read back
 *                          as zeros; without it the contents are undefined
 *                          (NBD trim)
 *   control(f, op, args, ret, err)   a named operation with JSON arguments
 *                          and a JSON answer ("stats" is asked of every
 *                          filter by `keelctl vdisk filters`); -EOPNOTSUPP
 *                          for an unknown op
 *   attach(f, reason)      a client asks for a handle entering the chain
 *                          at this filter: return 0 to accept, or a
 *                          negative errno and a reason to refuse
 *
 * I/O callbacks return 0 or a negative errno (-EIO for data that cannot
 * be returned correctly: never return wrong data).  Offsets and lengths
 * are multiples of KEEL_VF_SECTOR and within the disk (the chain checks
 * before the top filter runs).  Callbacks run on several threads at once
 * (nbdkit's parallel model, several handles): a filter protects its own
 * state.  Pass the call on with keel_vfilter_pread(keel_vfilter_below(f),
 * ...) and friends, which also keep the per-filter counters.
 */
#ifndef KEEL_VFILTER_H
#define KEEL_VFILTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_VF_SECTOR 512u
#define KEEL_VF_FUA    (1u << 0) /* pwrite, discard: durable before returning */
#define KEEL_VF_ZERO   (1u << 1) /* discard: the range reads back as zeros */

struct keel_vfilter;	  /* one filter instance in one chain */
struct keel_vfilter_conf; /* its [filter.NAME] section of the metadata */

/*
 * A parameter a filter reads, declared so that `keelctl vdisk create
 * --filter NAME:KEY=VALUE` can refuse a bad one before it writes anything.
 * open() stays the authority (it may check more, e.g. a power of two); the
 * table must not be stricter than open().  "handles" is every filter's.
 */
enum keel_vfilter_param_kind {
	KEEL_VF_PARAM_U64, /* a number with K/M/G/T, in [min, max] */
	KEEL_VF_PARAM_BOOL,
	KEEL_VF_PARAM_PATH, /* relative to the metadata file's directory */
	KEEL_VF_PARAM_STR,
};

struct keel_vfilter_param {
	const char *key;
	enum keel_vfilter_param_kind kind;
	uint64_t min, max; /* KEEL_VF_PARAM_U64 */
};

struct keel_vfilter_ops {
	const char *name;
	const char *summary; /* one line, for `keelctl vdisk filters` */
	/* the keys open() reads, ending with { NULL }; NULL: none (create
	 * then refuses every key but handles) */
	const struct keel_vfilter_param *params;
	int (*open)(struct keel_vfilter *f, struct keel_vfilter_conf *conf, char *err,
		    size_t errlen);
	void (*close)(struct keel_vfilter *f);
	int (*pread)(struct keel_vfilter *f, void *buf, size_t len, uint64_t off);
	int (*pwrite)(struct keel_vfilter *f, const void *buf, size_t len, uint64_t off,
		      unsigned int flags);
	int (*flush)(struct keel_vfilter *f);
	int (*discard)(struct keel_vfilter *f, uint64_t off, uint64_t len, unsigned int flags);
	int (*control)(struct keel_vfilter *f, const char *op, json_t *args, json_t **ret,
		       char *err, size_t errlen);
	int (*attach)(struct keel_vfilter *f, char *reason, size_t reasonlen);
};

/* Enter the chain at @f (counted as I/O of @f). */
int keel_vfilter_pread(struct keel_vfilter *f, void *buf, size_t len, uint64_t off);
int keel_vfilter_pwrite(struct keel_vfilter *f, const void *buf, size_t len, uint64_t off,
			unsigned int flags);
int keel_vfilter_flush(struct keel_vfilter *f);
int keel_vfilter_discard(struct keel_vfilter *f, uint64_t off, uint64_t len, unsigned int flags);
int keel_vfilter_control(struct keel_vfilter *f, const char *op, json_t *args, json_t **ret,
			 char *err, size_t errlen);

struct keel_vfilter *keel_vfilter_below(const struct keel_vfilter *f); /* NULL at "vmdk" */
const char *keel_vfilter_name(const struct keel_vfilter *f);
void *keel_vfilter_priv(const struct keel_vfilter *f);
void keel_vfilter_set_priv(struct keel_vfilter *f, void *priv);

/* The disk under the chain. */
uint64_t keel_vfilter_disk_size(const struct keel_vfilter *f);
const char *keel_vfilter_disk_path(const struct keel_vfilter *f); /* as opened */
const char *keel_vfilter_disk_id(const struct keel_vfilter *f);	  /* blk's disk ID */
uint64_t keel_vfilter_disk_id64(const struct keel_vfilter *f);	  /* the trace's disk_id */
int keel_vfilter_disk_readonly(const struct keel_vfilter *f);	  /* writes fail with EROFS */
/*
 * For the read cache: which layer of the disk's delta chain holds the data
 * at @off (depth 0 = the top), as a 64-bit ID of the layer's file (a hash
 * of its device and inode numbers: every disk whose chain shares that
 * layer gets the same ID, so linked clones of one base share its cached
 * blocks) and the layer's CID (which changes whenever the layer's content
 * does).  -ENOENT when no layer holds it (it reads as zeros).  With @off
 * KEEL_VF_TOP_LAYER: the top layer, whatever it holds (where writes go).
 */
#define KEEL_VF_TOP_LAYER UINT64_MAX
int keel_vfilter_disk_layer(const struct keel_vfilter *f, uint64_t off, unsigned int *ret_depth,
			    uint64_t *ret_layer_id, uint32_t *ret_cid);

/*
 * Report an event (type "vdisk.<something>"); the chain adds the disk's
 * path, ID and the filter's name, and hands it to whoever opened the chain
 * (the disk server writes NDJSON).  Steals @fields (may be NULL).
 */
void keel_vfilter_event(struct keel_vfilter *f, const char *type, json_t *fields);

/*
 * Parameters.  A path relative to the metadata file is made absolute
 * against the metadata file's directory by keel_vfilter_conf_path().
 * Each returns 0 (the default when the key is absent), or -EINVAL with a
 * sentence naming the file, the section and the key in @err.
 */
int keel_vfilter_conf_str(struct keel_vfilter_conf *c, const char *key, const char *def,
			  const char **ret);
int keel_vfilter_conf_path(struct keel_vfilter_conf *c, const char *key, const char *def, char *ret,
			   size_t retlen, char *err, size_t errlen);
/* a number with an optional K, M, G, T suffix (powers of 1024), in [min, max] */
int keel_vfilter_conf_u64(struct keel_vfilter_conf *c, const char *key, uint64_t def, uint64_t min,
			  uint64_t max, uint64_t *ret, char *err, size_t errlen);
int keel_vfilter_conf_bool(struct keel_vfilter_conf *c, const char *key, int def, int *ret,
			   char *err, size_t errlen);
/* where the error messages say the parameters come from: "FILE [filter.NAME]" */
const char *keel_vfilter_conf_where(const struct keel_vfilter_conf *c);

#endif /* KEEL_VFILTER_H */
