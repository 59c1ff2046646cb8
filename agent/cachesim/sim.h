/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keel-cachesim internals: traces, request-to-key mapping, the reference
 * policies and the outputs.  Private to agent/cachesim and its tests.
 */
#ifndef KEEL_CACHESIM_SIM_H
#define KEEL_CACHESIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#define KEEL_SIM_NIL   0xffffffffu
#define KEEL_SIM_NEVER 0xffffffffffffffffull

/* ---- traces ---------------------------------------------------------- */

enum keel_sim_format {
	KEEL_SIM_FMT_AUTO = 0,
	KEEL_SIM_FMT_ORACLE,  /* libCacheSim oracleGeneral binary */
	KEEL_SIM_FMT_CPHY,    /* version,time,op,size,lbn */
	KEEL_SIM_FMT_MSR,     /* ts,host,disk,type,offset,size,resp */
	KEEL_SIM_FMT_TENCENT, /* ts,offset,size,type,volume */
	KEEL_SIM_FMT_TEXT,    /* one key per line (LIRS), gzip or plain */
	KEEL_SIM_FMT_KEEL,    /* KEELTRC1 */
};

struct keel_sim_req {
	__u64 volume; /* disk / volume; 0 when the trace has one */
	__u64 addr;   /* start, in bytes */
	__u32 size;   /* bytes; 0 for key-only traces */
	bool write;
};

struct keel_sim_trace {
	struct keel_sim_req *reqs;
	size_t n, alloc;
	enum keel_sim_format format;
	/* Key-only traces (LIRS): addr is the key itself. */
	bool keys_only;
};

/* Error detail for the user: "PATH:LINE: what" or "PATH: record N: what". */
struct keel_sim_err {
	char msg[512];
};

const char *keel_sim_format_name(enum keel_sim_format f);
int keel_sim_format_parse(const char *s, enum keel_sim_format *ret);
int keel_sim_trace_detect(const char *path, enum keel_sim_format *ret, struct keel_sim_err *err);
int keel_sim_trace_load(const char *path, enum keel_sim_format fmt, struct keel_sim_trace *ret,
			struct keel_sim_err *err);
int keel_sim_trace_push(struct keel_sim_trace *t, const struct keel_sim_req *r);
void keel_sim_trace_free(struct keel_sim_trace *t);

int keel_sim_read_oracle(const char *path, struct keel_sim_trace *t, struct keel_sim_err *err);
int keel_sim_read_csv(const char *path, enum keel_sim_format fmt, struct keel_sim_trace *t,
		      struct keel_sim_err *err);
int keel_sim_read_text(const char *path, struct keel_sim_trace *t, struct keel_sim_err *err);
int keel_sim_read_keel(const char *path, struct keel_sim_trace *t, struct keel_sim_err *err);

enum keel_sim_mode { KEEL_SIM_OBJECT = 0, KEEL_SIM_BLOCK };

/* The key sequence the policies see, and each access's next use. */
struct keel_sim_keys {
	__u64 *key;
	__u64 *next; /* index of the next access, or NEVER */
	size_t n;
	size_t unique; /* working set, in keys */
};

int keel_sim_keys_build(const struct keel_sim_trace *t, enum keel_sim_mode m, __u32 block_size,
			bool reads_only, struct keel_sim_keys *ret);
void keel_sim_keys_free(struct keel_sim_keys *k);

/* ---- u64 -> u32 hash map (open addressing, backward-shift delete) ---- */

struct keel_sim_map {
	__u64 *keys;
	__u32 *vals; /* KEEL_SIM_NIL marks an empty cell */
	size_t mask, n;
};

int keel_sim_map_init(struct keel_sim_map *m, size_t expected);
void keel_sim_map_fini(struct keel_sim_map *m);
__u32 keel_sim_map_get(const struct keel_sim_map *m, __u64 key);
int keel_sim_map_put(struct keel_sim_map *m, __u64 key, __u32 val);
void keel_sim_map_del(struct keel_sim_map *m, __u64 key);

/* ---- policies --------------------------------------------------------- */

struct keel_sim_policy {
	const char *name;
	const char *what; /* one line for --help and docs */
	int (*create)(__u64 capacity, void **ret);
	/* Returns true on a hit.  next: index of the key's next access. */
	bool (*access)(void *p, __u64 key, __u64 next);
	void (*destroy)(void *p);
};

extern const struct keel_sim_policy keel_sim_lru, keel_sim_clock, keel_sim_fifo, keel_sim_2q,
	keel_sim_arc, keel_sim_s3fifo, keel_sim_sieve, keel_sim_lirs, keel_sim_wtinylfu,
	keel_sim_belady, keel_sim_keel, keel_sim_keel16;

/* All policies, keel first; NULL-terminated.  Variants (keel-16) are
 * found by name only, not listed here (nor in --summary). */
const struct keel_sim_policy *const *keel_sim_policies(void);
const struct keel_sim_policy *keel_sim_policy_find(const char *name);

struct keel_sim_result {
	const char *policy;
	__u64 size;	 /* objects */
	double fraction; /* of the working set */
	__u64 requests, misses;
	double miss_ratio;
};

/* Run one policy at one size; returns 0 or negative errno. */
int keel_sim_run(const struct keel_sim_policy *p, const struct keel_sim_keys *k, __u64 size,
		 struct keel_sim_result *ret);

/* ---- outputs ---------------------------------------------------------- */

struct keel_sim_report {
	const char *trace;
	const char *format;
	const char *mode;
	__u64 requests, unique;
	const struct keel_sim_result *res;
	size_t nres;
};

/*
 * --summary: per policy, the geometric mean over all cells (trace, size) of
 * its miss ratio over the best online policy's in the cell (Belady is not
 * a candidate for best).
 */
struct keel_sim_summary_row {
	const char *policy;
	bool offline; /* Belady: reported, never the best */
	size_t cells;
	size_t best; /* cells where it has the fewest misses */
	double log_sum, geomean;
	/* Over the best of the *other* online policies in each cell: below 1
	 * when it beats the rest of the field (cells with no other policy are
	 * left out). */
	size_t rest_cells;
	double rest_log_sum, vs_rest;
	double worst; /* largest ratio, and its cell */
	const char *worst_trace;
	__u64 worst_size;
};

struct keel_sim_summary {
	struct keel_sim_summary_row *rows;
	size_t nrows, cells, traces;
};

int keel_sim_summarize(const struct keel_sim_report *reps, size_t nreps,
		       struct keel_sim_summary *ret);
void keel_sim_summary_free(struct keel_sim_summary *s);
void keel_sim_out_summary(FILE *f, const struct keel_sim_summary *s);
int keel_sim_out_summary_json(FILE *f, const struct keel_sim_summary *s);

void keel_sim_out_table(FILE *f, const struct keel_sim_report *r);
int keel_sim_out_json(FILE *f, const struct keel_sim_report *r);
void keel_sim_out_csv(FILE *f, const struct keel_sim_report *r);
int keel_sim_out_svg(const char *path, const struct keel_sim_report *r);

#endif /* KEEL_CACHESIM_SIM_H */
