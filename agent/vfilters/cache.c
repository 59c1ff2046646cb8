// SPDX-License-Identifier: GPL-2.0-only
/*
 * cache: serve reads from keel-rcache, the host's read cache (docs/rcache.md).
 *
 *   [filter.cache]
 *   socket = /run/keel/rcache.sock        ; keel-rcache's socket
 *   dirty_dir = /var/lib/keel/rcache/dirty  ; the daemon's DIR/dirty
 *   connections = 4                       ; to the daemon, 1..16
 *
 * A read is cut into runs of blocks held by one layer of the delta chain
 * (keel_vfilter_disk_layer: a base's blocks have the base's ID through
 * every linked clone); each run is looked up, the daemon putting the
 * cached blocks into this connection's buffer through its memory handle;
 * misses are read from below and offered back (admitted) with the
 * invalidation sequence the lookup returned, and only if the block is
 * still held by the same layer with the same CID (a write may have moved
 * it to the top meanwhile: its data must not be cached as the base's).
 *
 * Writes and discards invalidate their blocks of the top layer before they
 * go down and again after (an admission of data read during the write is
 * refused or removed), both before the write is acknowledged.  When the
 * daemon cannot be reached, the filter leaves a dirty mark for the top
 * layer in dirty_dir instead (the daemon drops that disk when it sees it)
 * and stops using the cache until a new connection has been greeted, which
 * sweeps the marks; if the mark cannot be written either, the write fails
 * with EIO: a write is never acknowledged while a stale block could stay
 * cached.  Reads go on from storage while the daemon is away.
 *
 * Reads not aligned to the cache block, and chunks of them beyond the
 * daemon's limit, go below uncached.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "keel/memh.h"
#include "keel/rcache.h"
#include "keel/vfilter.h"
#include "common/clock.h"

#define MAX_CONNS    16
#define RECONNECT_NS 1000000000ull

struct conn {
	int fd; /* -1: not connected */
	bool busy;
	void *buf; /* the handle's memory */
	size_t buf_len;
	struct keel_memh *h;
	uint64_t next_id;
};

struct cache {
	struct keel_vfilter *f;
	char socket[PATH_MAX], dirty[PATH_MAX + 32];
	unsigned int nconn;
	uint32_t bs, max_blocks; /* from the daemon */
	uint64_t top_id;
	pthread_mutex_t lock;
	pthread_cond_t free_conn;
	struct conn c[MAX_CONNS];
	uint64_t last_fail_ns; /* the last failed connect, 0 after a success */
	/* dirty marks written, and the count the last greeting covered */
	uint64_t marks, swept;
	bool warned;
	/* counters, atomic */
	uint64_t lookups, hit_blocks, miss_blocks, admitted, bypassed, invalidations,
		inval_failures, errors;
};

#define ADD(field, n) __atomic_add_fetch(&(field), (n), __ATOMIC_RELAXED)

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	keel_memh_free(c->h);
	c->h = NULL;
}

/* Connect @c (busy, ours; lock not held).  0 or a negative errno. */
static int conn_open(struct cache *k, struct conn *c)
{
	struct keel_memh_opts o = { .prot = KEEL_MEMH_READ | KEEL_MEMH_WRITE };
	uint32_t bs, maxb;
	uint64_t marks;
	char why[512];
	int r, fd;

	pthread_mutex_lock(&k->lock);
	marks = k->marks; /* the greeting below sweeps at least these */
	pthread_mutex_unlock(&k->lock);
	r = keel_memh_create(c->buf, c->buf_len, &o, &c->h);
	if (r)
		return r;
	fd = keel_rcache_connect(k->socket, c->h, 2000, &bs, &maxb, why, sizeof(why));
	if (fd < 0) {
		keel_memh_free(c->h);
		c->h = NULL;
		pthread_mutex_lock(&k->lock);
		k->last_fail_ns = keel_clock_ns(CLOCK_MONOTONIC);
		if (!k->warned) {
			k->warned = true;
			pthread_mutex_unlock(&k->lock);
			keel_vfilter_event(k->f, "vdisk.rcache_unreachable",
					   json_pack("{s:s, s:s}", "error", why, "action",
						     "reads go to storage"));
		} else {
			pthread_mutex_unlock(&k->lock);
		}
		return fd;
	}
	if (maxb > c->buf_len / bs) /* larger blocks: fewer per request */
		maxb = (uint32_t)(c->buf_len / bs);
	if (bs < 4096 || bs > c->buf_len || (bs & (bs - 1)) || !maxb) {
		close(fd);
		keel_memh_free(c->h);
		c->h = NULL;
		return -EPROTO;
	}
	c->fd = fd;
	pthread_mutex_lock(&k->lock);
	k->bs = bs;
	k->max_blocks = maxb;
	k->warned = false;
	k->last_fail_ns = 0;
	if (k->swept < marks)
		k->swept = marks;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/*
 * A connected connection, or NULL (then go to storage).  A free connected
 * one first; else connect a free one, unless a connection failed in the
 * last second; else wait for a busy connected one to come back.
 */
static struct conn *conn_get(struct cache *k)
{
	struct conn *c;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		struct conn *idle = NULL, *free_dead = NULL;
		bool any_live = false;

		for (unsigned int i = 0; i < k->nconn; i++) {
			struct conn *x = &k->c[i];

			any_live |= x->fd >= 0;
			if (!x->busy && x->fd >= 0 && !idle)
				idle = x;
			if (!x->busy && x->fd < 0 && !free_dead)
				free_dead = x;
		}
		if (idle) {
			idle->busy = true;
			pthread_mutex_unlock(&k->lock);
			return idle;
		}
		if (free_dead &&
		    (!k->last_fail_ns ||
		     keel_clock_ns(CLOCK_MONOTONIC) - k->last_fail_ns >= RECONNECT_NS)) {
			c = free_dead;
			c->busy = true;
			pthread_mutex_unlock(&k->lock);
			if (!conn_open(k, c))
				return c;
			pthread_mutex_lock(&k->lock);
			c->busy = false;
			pthread_cond_broadcast(&k->free_conn);
			continue;
		}
		if (!any_live) {
			pthread_mutex_unlock(&k->lock);
			return NULL;
		}
		pthread_cond_wait(&k->free_conn, &k->lock);
	}
}

static void conn_put(struct cache *k, struct conn *c, bool broken)
{
	if (broken)
		conn_close(c);
	pthread_mutex_lock(&k->lock);
	c->busy = false;
	pthread_cond_broadcast(&k->free_conn);
	pthread_mutex_unlock(&k->lock);
}

/* Marks written since the last greeting: the cache may be stale for us. */
static bool usable(struct cache *k)
{
	bool ok;

	pthread_mutex_lock(&k->lock);
	ok = k->swept >= k->marks;
	pthread_mutex_unlock(&k->lock);
	return ok;
}

static int call(struct cache *k, struct conn *c, struct keel_rcache_req *q,
		struct keel_rcache_reply *p)
{
	int r;

	(void)k;
	q->id = ++c->next_id;
	r = keel_rcache_call(c->fd, q, NULL, p, NULL);
	return r ? r : p->status;
}

/* ---- writes ---- */

static int write_mark(struct cache *k)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%016" PRIx64, k->dirty, k->top_id);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Drop [off, off + len) of the top layer from the cache, or leave a mark. */
static int invalidate(struct cache *k, uint64_t off, uint64_t len)
{
	struct keel_rcache_req q = {
		.op = KEEL_RCACHE_INVALIDATE, .disk_id = k->top_id, .off = off, .len = len
	};
	struct keel_rcache_reply p;
	int r = -ENOTCONN;

	ADD(k->invalidations, 1);
	/* a second try on a fresh connection: the daemon may have restarted */
	for (int attempt = 0; attempt < 2 && r; attempt++) {
		struct conn *c = conn_get(k);

		if (!c)
			break;
		r = call(k, c, &q, &p);
		conn_put(k, c, r != 0 && r != -EINVAL);
	}
	if (!r)
		return 0;
	ADD(k->inval_failures, 1);
	pthread_mutex_lock(&k->lock);
	k->marks++; /* before the mark: no greeting may count it swept early */
	pthread_mutex_unlock(&k->lock);
	r = write_mark(k);
	if (r) {
		keel_vfilter_event(k->f, "vdisk.rcache_stale_risk",
				   json_pack("{s:s, s:s, s:s}", "error", strerror(-r), "dirty_dir",
					     k->dirty, "action", "write refused (EIO)"));
		return -EIO;
	}
	return 0;
}

static int cache_pwrite(struct keel_vfilter *f, const void *buf, size_t len, uint64_t off,
			unsigned int flags)
{
	struct cache *k = keel_vfilter_priv(f);
	int r = invalidate(k, off, len);

	if (r)
		return r;
	r = keel_vfilter_pwrite(keel_vfilter_below(f), buf, len, off, flags);
	/* again: a read that raced the write may have offered the old data */
	if (invalidate(k, off, len) && !r)
		r = -EIO;
	return r;
}

static int cache_discard(struct keel_vfilter *f, uint64_t off, uint64_t len, unsigned int flags)
{
	struct cache *k = keel_vfilter_priv(f);
	int r = invalidate(k, off, len);

	if (r)
		return r;
	r = keel_vfilter_discard(keel_vfilter_below(f), off, len, flags);
	if (invalidate(k, off, len) && !r)
		r = -EIO;
	return r;
}

/* ---- reads ---- */

static bool hit(const struct keel_rcache_reply *p, unsigned int i)
{
	return p->hits[i / 8] & (1u << (i % 8));
}

/* Offer blocks [i, j) of a run that the lookup @p missed and storage
 * returned into @out, if still held by the same layer with the same CID. */
static void admit(struct cache *k, struct conn *c, uint64_t id, uint32_t cid, uint64_t off0,
		  const char *out, unsigned int i, unsigned int j, uint64_t seq, bool *broken)
{
	struct keel_rcache_req q = {
		.op = KEEL_RCACHE_ADMIT, .disk_id = id, .cid = cid, .seq = seq
	};
	struct keel_rcache_reply p;
	unsigned int depth;
	uint64_t lid;
	uint32_t lcid;
	int r;

	for (unsigned int b = i; b < j; b++)
		if (keel_vfilter_disk_layer(k->f, off0 + (uint64_t)b * k->bs, &depth, &lid,
					    &lcid) ||
		    lid != id || lcid != cid)
			return;
	memcpy((char *)c->buf + (size_t)i * k->bs, out + (size_t)i * k->bs,
	       (size_t)(j - i) * k->bs);
	q.off = off0 + (uint64_t)i * k->bs;
	q.len = (uint64_t)(j - i) * k->bs;
	q.handle_off = (uint64_t)i * k->bs;
	r = call(k, c, &q, &p);
	if (r == -ECONNRESET || r == -EPIPE || r == -ETIMEDOUT || r == -EPROTO)
		*broken = true;
	else if (!r)
		ADD(k->admitted, p.count);
}

/* One run of @n blocks at @off, all held by layer @id with @cid. */
static int read_run(struct cache *k, struct conn *c, uint64_t id, uint32_t cid, char *out,
		    unsigned int n, uint64_t off, bool *broken)
{
	struct keel_vfilter *below = keel_vfilter_below(k->f);
	struct keel_rcache_req q = { .op = KEEL_RCACHE_LOOKUP,
				     .disk_id = id,
				     .cid = cid,
				     .off = off,
				     .len = (uint64_t)n * k->bs };
	struct keel_rcache_reply p;
	int r;

	ADD(k->lookups, 1);
	r = *broken ? -ENOTCONN : call(k, c, &q, &p);
	if (r) {
		if (r != -EINVAL)
			*broken = true;
		ADD(k->bypassed, 1);
		return keel_vfilter_pread(below, out, (size_t)n * k->bs, off);
	}
	ADD(k->hit_blocks, p.count);
	ADD(k->miss_blocks, n - p.count);
	for (unsigned int i = 0; i < n;) {
		unsigned int j = i;

		if (hit(&p, i)) {
			while (j < n && hit(&p, j))
				j++;
			memcpy(out + (size_t)i * k->bs, (char *)c->buf + (size_t)i * k->bs,
			       (size_t)(j - i) * k->bs);
			i = j;
			continue;
		}
		while (j < n && !hit(&p, j))
			j++;
		r = keel_vfilter_pread(below, out + (size_t)i * k->bs, (size_t)(j - i) * k->bs,
				       off + (uint64_t)i * k->bs);
		if (r)
			return r;
		if (!*broken)
			admit(k, c, id, cid, off, out, i, j, p.seq, broken);
		i = j;
	}
	return 0;
}

static int cache_pread(struct keel_vfilter *f, void *buf, size_t len, uint64_t off)
{
	struct cache *k = keel_vfilter_priv(f);
	struct keel_vfilter *below = keel_vfilter_below(f);
	bool broken = false;
	struct conn *c;
	uint64_t done = 0;
	int r = 0;

	if (!usable(k) || !(c = conn_get(k))) {
		ADD(k->bypassed, 1);
		return keel_vfilter_pread(below, buf, len, off);
	}
	if (off % k->bs || len % k->bs) {
		conn_put(k, c, false);
		ADD(k->bypassed, 1);
		return keel_vfilter_pread(below, buf, len, off);
	}
	while (!r && done < len) {
		uint64_t o = off + done, id, lid;
		uint32_t cid, lcid;
		unsigned int depth, n = 1, max = k->max_blocks;
		int e = keel_vfilter_disk_layer(f, o, &depth, &id, &cid);

		if ((len - done) / k->bs < max)
			max = (unsigned int)((len - done) / k->bs);
		/* the run: following blocks of the same layer (or of no layer) */
		while (n < max) {
			int e2 = keel_vfilter_disk_layer(f, o + (uint64_t)n * k->bs, &depth, &lid,
							 &lcid);

			if (e2 != e || (!e && (lid != id || lcid != cid)))
				break;
			n++;
		}
		if (e) /* no layer holds it (zeros) or an error: storage says */
			r = keel_vfilter_pread(below, (char *)buf + done, (size_t)n * k->bs, o);
		else
			r = read_run(k, c, id, cid, (char *)buf + done, n, o, &broken);
		done += (uint64_t)n * k->bs;
	}
	conn_put(k, c, broken);
	return r;
}

/* ---- the rest ---- */

static int cache_control(struct keel_vfilter *f, const char *op, json_t *args, json_t **ret,
			 char *err, size_t errlen)
{
	struct cache *k = keel_vfilter_priv(f);
	unsigned int connected = 0;

	(void)args;
	if (strcmp(op, "stats")) {
		snprintf(err, errlen, "filter cache has no operation \"%s\" (known: stats)", op);
		return -EOPNOTSUPP;
	}
	pthread_mutex_lock(&k->lock);
	for (unsigned int i = 0; i < k->nconn; i++)
		connected += k->c[i].fd >= 0;
	pthread_mutex_unlock(&k->lock);
	*ret = json_pack("{s:s, s:i, s:i, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "socket",
			 k->socket, "connected", connected, "block_size", (int)k->bs, "usable",
			 usable(k), "lookups", (json_int_t)k->lookups, "hit_blocks",
			 (json_int_t)k->hit_blocks, "miss_blocks", (json_int_t)k->miss_blocks,
			 "admitted", (json_int_t)k->admitted, "bypassed", (json_int_t)k->bypassed,
			 "invalidations", (json_int_t)k->invalidations, "invalidation_failures",
			 (json_int_t)k->inval_failures);
	return *ret ? 0 : -ENOMEM;
}

static void cache_close(struct keel_vfilter *f)
{
	struct cache *k = keel_vfilter_priv(f);

	if (!k)
		return;
	for (unsigned int i = 0; i < MAX_CONNS; i++) {
		conn_close(&k->c[i]);
		if (k->c[i].buf)
			munmap(k->c[i].buf, k->c[i].buf_len);
	}
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->free_conn);
	free(k);
}

static int cache_open(struct keel_vfilter *f, struct keel_vfilter_conf *conf, char *err,
		      size_t errlen)
{
	struct cache *k = calloc(1, sizeof(*k));
	uint64_t nconn;
	unsigned int depth;
	uint32_t cid;
	int r;

	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->free_conn, NULL);
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		k->c[i].fd = -1;
	keel_vfilter_set_priv(f, k);
	k->f = f;
	r = keel_vfilter_conf_path(conf, "socket", KEEL_RCACHE_SOCKET, k->socket, sizeof(k->socket),
				   err, errlen);
	if (!r)
		r = keel_vfilter_conf_path(conf, "dirty_dir", KEEL_RCACHE_DIR "/dirty", k->dirty,
					   sizeof(k->dirty), err, errlen);
	if (!r)
		r = keel_vfilter_conf_u64(conf, "connections", 4, 1, MAX_CONNS, &nconn, err,
					  errlen);
	if (r)
		return r;
	k->nconn = (unsigned int)nconn;
	r = keel_vfilter_disk_layer(f, KEEL_VF_TOP_LAYER, &depth, &k->top_id, &cid);
	if (r) {
		snprintf(err, errlen, "%s: cannot name the disk's top layer: %s",
			 keel_vfilter_conf_where(conf), strerror(-r));
		return r;
	}
	for (unsigned int i = 0; i < k->nconn; i++) {
		/* 1 MiB: 256 blocks of 4 KiB, the daemon's largest request */
		k->c[i].buf_len = 1u << 20;
		k->c[i].buf = mmap(NULL, k->c[i].buf_len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (k->c[i].buf == MAP_FAILED) {
			k->c[i].buf = NULL;
			snprintf(err, errlen, "%s: out of memory for connection buffers",
				 keel_vfilter_conf_where(conf));
			return -ENOMEM;
		}
	}
	/* the daemon may not run yet: connect on first use, not here */
	return 0;
}

/*
 * what cache_open() reads (agent/vdisk/create_params.c checks a create
 * against it).  The socket and the dirty directory are paths like any
 * other: through create they must lie under [vdisk] dirs, since the disk
 * server runs as root and would otherwise hand a [control] group member's
 * listener its read buffers (socket) or make files where it says
 * (dirty_dir).  The defaults, /run/keel/rcache.sock and
 * /var/lib/keel/rcache/dirty, need no key.
 */
static const struct keel_vfilter_param cache_params[] = {
	{ "socket", KEEL_VF_PARAM_PATH, 0, 0 },
	{ "dirty_dir", KEEL_VF_PARAM_PATH, 0, 0 },
	{ "connections", KEEL_VF_PARAM_U64, 1, MAX_CONNS },
	{ NULL },
};

const struct keel_vfilter_ops keel_vfilter_cache = {
	.name = "cache",
	.summary = "read cache: reads served by keel-rcache, writes invalidate (write-through)",
	.params = cache_params,
	.open = cache_open,
	.close = cache_close,
	.pread = cache_pread,
	.pwrite = cache_pwrite,
	.discard = cache_discard,
	.control = cache_control,
};
