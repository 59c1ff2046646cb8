// SPDX-License-Identifier: GPL-2.0-only
/*
 * The read cache store's open and close (store_int.h): what the records
 * left by the last run are worth (store.h: clean stop, killed on the same
 * boot, another boot), the index rebuilt from the trusted ones, the dirty
 * marks of cache filters that could not reach the daemon, and the clean
 * stop that makes the next start warm.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "rcache/store_int.h"

static void read_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

/*
 * Decide what the records on disk are worth (see store.h) and rebuild the
 * index from the trusted ones.  Returns the entries loaded.
 */
static uint64_t warm_load(struct keel_rcache_store *s, bool fresh, const char *boot)
{
	const char *why = NULL;
	uint64_t loaded = 0, busy = 0;
	uint8_t *used;
	uint32_t next = 0;

	if (fresh)
		why = "new cache file";
	else if (!s->hdr->clean && strcmp(s->hdr->boot_id, boot))
		why = "unclean stop before a reboot: records may have lost invalidations";
	used = calloc(s->slots, 1);
	for (uint32_t i = 0; i < s->slots; i++)
		s->loc[i] = UINT32_MAX;
	for (uint32_t pos = 0; used && !why && pos < s->slots; pos++) {
		struct record *r = &s->rec[pos];
		__u64 evkey;
		uint32_t slot;
		bool ev;

		if (r->state != REC_VALID) {
			busy += r->state == REC_BUSY;
			r->state = REC_FREE;
			continue;
		}
		if (keel_cache_insert(s->idx, keel_rcache_key(r->disk_id, r->block), &slot, &ev,
				      &evkey)) {
			r->state = REC_FREE; /* the same key twice: keep the first */
			continue;
		}
		if (s->loc[slot] != UINT32_MAX) {
			/* an eviction (cannot happen with the same geometry): the
			 * evicted key's record goes */
			s->rec[s->loc[slot]].state = REC_FREE;
			used[s->loc[slot]] = 0;
			loaded--;
		}
		s->loc[slot] = pos;
		used[pos] = 1;
		loaded++;
		{
			struct disk *d = keel_rcache_disk_get(s, r->disk_id, true);

			if (d) {
				d->count++;
				d->cid = r->cid;
				d->cid_known = true;
			} else {
				r->state = REC_FREE;
				keel_cache_remove(s->idx, keel_rcache_key(r->disk_id, r->block));
				s->loc[slot] = UINT32_MAX;
				used[pos] = 0;
				loaded--;
			}
		}
	}
	if (why || !used) {
		memset(s->rec, 0, (size_t)s->slots * sizeof(*s->rec));
		loaded = 0;
	}
	/* the remaining slots take the remaining positions, in order */
	for (uint32_t slot = 0; slot < s->slots; slot++) {
		if (s->loc[slot] != UINT32_MAX)
			continue;
		while (used && used[next])
			next++;
		s->loc[slot] = used ? next++ : slot;
	}
	free(used);
	s->st.cached = loaded;
	s->st.warm_loaded = loaded;
	keel_rcache_event(s, "rcache.open",
			  json_pack("{s:s, s:I, s:I, s:b, s:I, s:I, s:s?}", "dir", s->dir,
				    "capacity_blocks", (json_int_t)s->slots, "block_size",
				    (json_int_t)s->bs, "warm", !why, "entries", (json_int_t)loaded,
				    "torn_dropped", (json_int_t)busy, "cold_reason", why));
	return loaded;
}

int keel_rcache_store_sweep_dirty(struct keel_rcache_store *s)
{
	char path[4200], name[32];
	int n = 0;

	/* the names are ours (16 hex digits); anything else is left alone */
	snprintf(path, sizeof(path), "%s/dirty", s->dir);
	for (;;) {
		struct dirent *e;
		DIR *dir = opendir(path);
		uint64_t id = 0;
		bool found = false;

		if (!dir)
			return n;
		while ((e = readdir(dir))) {
			char *end;

			if (strlen(e->d_name) != 16)
				continue;
			id = strtoull(e->d_name, &end, 16);
			if (*end)
				continue;
			snprintf(name, sizeof(name), "%s", e->d_name);
			found = true;
			break;
		}
		closedir(dir);
		if (!found)
			return n;
		/* unlink first: a filter writing again after this still leaves its mark */
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", name);
		unlink(path);
		path[strlen(path) - 17] = '\0';
		keel_rcache_store_drop(s, id, "written while the daemon was unreachable");
		n++;
	}
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

int keel_rcache_store_open(const struct keel_rcache_store_opts *o, struct keel_rcache_store **ret,
			   char *err, size_t errlen)
{
	struct keel_cache_opts co = { 0 };
	struct keel_rcache_store *s;
	char boot[40], path[4200];
	bool fresh = false;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->o = *o;
	s->bs = o->block_size ? o->block_size : 4096;
	if (!s->o.disk_limit_pct)
		s->o.disk_limit_pct = 100;
	if (!s->o.max_disks)
		s->o.max_disks = 4096;
	if (!s->o.retry_ms)
		s->o.retry_ms = 30000;
	keel_evlimit_init(&s->corrupt_events, s->o.corrupt_events_max ?: 16,
			  (uint64_t)(s->o.corrupt_window_ms ?: 10000) * 1000000ull);
	r = -EINVAL;
	if (s->bs < 4096 || s->bs > (1u << 20) || (s->bs & (s->bs - 1))) {
		snprintf(err, errlen, "block size %u: must be a power of two from 4096 to 1 MiB",
			 s->bs);
		goto fail;
	}
	if (o->size / s->bs < 16 || o->size / s->bs > UINT32_MAX - 1) {
		snprintf(err, errlen,
			 "cache size %" PRIu64 " bytes: must hold 16 to 2^32-2 blocks "
			 "of %u bytes",
			 o->size, s->bs);
		goto fail;
	}
	if (s->o.disk_limit_pct > 100 || s->o.max_disks > (1u << 20)) {
		snprintf(err, errlen, "disk limit %u%%: must be 1..100; max disks %u: at most %u",
			 s->o.disk_limit_pct, s->o.max_disks, 1u << 20);
		goto fail;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", o->dir);
	snprintf(path, sizeof(path), "%s/dirty", s->dir);
	if ((mkdir(s->dir, 0700) && errno != EEXIST) || (mkdir(path, 0700) && errno != EEXIST)) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot make the directory: %s", path, strerror(errno));
		goto fail;
	}
	s->slots = (uint32_t)(o->size / s->bs);
	s->default_limit = (uint64_t)s->slots * s->o.disk_limit_pct / 100;
	if (!s->default_limit)
		s->default_limit = 1;
	co.capacity = s->slots;
	co.shards = s->slots >= (1u << 14) ? 16 : 1;
	r = keel_cache_new(&co, &s->idx);
	if (r) {
		snprintf(err, errlen, "cannot make the index of %u entries: %s", s->slots,
			 strerror(-r));
		goto fail;
	}
	s->slots = keel_cache_slots(s->idx);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&s->stripe[i], NULL);
	pthread_mutex_init(&s->dlock, NULL);
	s->ndisk_slots = pow2_at_least(s->o.max_disks * 2);
	s->disks = calloc(s->ndisk_slots, sizeof(*s->disks));
	s->loc = calloc(s->slots, sizeof(*s->loc));
	r = -ENOMEM;
	if (!s->disks || !s->loc) {
		snprintf(err, errlen, "out of memory for %u entries", s->slots);
		goto fail;
	}
	for (uint32_t i = 0; i < s->ndisk_slots; i++)
		pthread_rwlock_init(&s->disks[i].lock, NULL);
	r = keel_rcache_open_data(s, err, errlen);
	if (!r)
		r = keel_rcache_open_meta(s, &fresh, err, errlen);
	if (r)
		goto fail;
	read_boot_id(boot, sizeof(boot));
	warm_load(s, fresh, boot);
	/* from now on the records change: an unclean stop must be seen */
	memcpy(s->hdr->magic, META_MAGIC, 8);
	s->hdr->version = META_VERSION;
	s->hdr->block_size = s->bs;
	s->hdr->slots = s->slots;
	snprintf(s->hdr->boot_id, sizeof(s->hdr->boot_id), "%s", boot);
	s->hdr->opens++;
	s->hdr->clean = 0;
	if (msync(s->hdr, s->meta_len, MS_SYNC)) {
		r = -errno;
		snprintf(err, errlen, "%s/meta: cannot sync: %s", s->dir, strerror(errno));
		goto fail;
	}
	keel_rcache_store_sweep_dirty(s);
	*ret = s;
	return 0;
fail:
	keel_rcache_store_close(s);
	return r;
}

static void store_free(struct keel_rcache_store *s)
{
	if (s->hdr)
		munmap(s->hdr, s->meta_len);
	if (s->fd >= 0)
		close(s->fd);
	keel_cache_free(s->idx);
	if (s->disks)
		for (uint32_t i = 0; i < s->ndisk_slots; i++)
			pthread_rwlock_destroy(&s->disks[i].lock);
	free(s->disks);
	free(s->loc);
	free(s);
}

void keel_rcache_store_close(struct keel_rcache_store *s)
{
	if (!s)
		return;
	keel_rcache_corrupt_summary(s, UINT64_MAX); /* what the limit still holds back */
	/* data and records on the device first, then the clean mark */
	if (s->hdr && s->fd >= 0 && !fdatasync(s->fd) && !msync(s->hdr, s->meta_len, MS_SYNC)) {
		s->hdr->clean = 1;
		msync(s->hdr, HEADER_BYTES, MS_SYNC);
	}
	store_free(s);
}
