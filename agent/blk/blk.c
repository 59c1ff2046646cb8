// SPDX-License-Identifier: GPL-2.0-only
/*
 * blk subsystem: loads bpf/blk.bpf.c (block_rq_issue + block_rq_complete),
 * turns every read it reports into accesses of its disk's model (model.c),
 * emits blk.stats events, and answers keelctl blk stats | mrc | record.
 *
 * Everything runs on keeld's loop thread: the ring buffer is drained when
 * it wakes keeld (past a batch, see wakeup_bytes) and by a 100 ms timer.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "blk.skel.h"
#include "blk/blk_config.h"
#include "blk/diskid.h"
#include "blk/model.h"
#include "blk/record.h"
#include "keel/blk.h"
#include "keel/records.h"
#include "keel/trace.h"
#include "keeld/subsys.h"
#include "keeld/percpu.h"
#include "keeld/pins.h"
#include "keeld/ringbuf.h"

#define POLL_MS 100

struct slot {
	struct keel_blk_disk *disk;
	__u32 dev;
	/* a recording in progress, or the result of the last one */
	struct keel_blk_recorder *rec;
	struct keel_watch rec_timer;
	struct keel_subsys *s;
	char rec_path[PATH_MAX];
	__u64 rec_count;
	int rec_err;
	const char *rec_end; /* why the last recording ended, NULL while none */
};

/* The [blk] section (keeld/config.h keeps it; blk_config.c declares it). */
static inline const struct blk_config *blk_cfg(const struct keel_subsys *s)
{
	return s->config;
}

struct blk_priv {
	struct blk_bpf *skel;
	struct keel_ringbuf rb; /* blk_events */
	struct keel_watch stats_timer;
	struct keel_blk_counters last; /* at the previous blk.stats */
	struct keel_blk_model_opts mopts;
	struct slot *slots; /* [blk] max_disks */
	unsigned int n_slots;
	__u32 *index; /* open addressing: slot + 1, 0 empty */
	__u32 index_mask;
	unsigned int recordings;
	__u64 unmodelled; /* reads of disks past max_disks */
	__u64 id_errors;
	int cgroup_fds[KEEL_BLK_MAX_CGROUPS];
	unsigned int n_cgroups;
	struct keel_pins pins; /* <pin_dir>/blk */
};

/*
 * The kernel skips a tracing program that fires again on a CPU where it is
 * already running (a completion interrupting a completion) and counts it
 * in the program's recursion_misses: the one way a read can escape the
 * programs, so it is reported beside `dropped`, never hidden.
 */
static __u64 prog_misses(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return 0;
	return info.recursion_misses;
}

static int read_counters(struct blk_priv *p, struct keel_blk_counters *sum)
{
	int err = keel_percpu_sum(p->skel->maps.blk_counters, 0, sum, sizeof(*sum));

	if (!err)
		sum->missed = prog_misses(p->skel->progs.blk_rq_issue) +
			      prog_misses(p->skel->progs.blk_rq_complete);
	return err;
}

static json_t *counters_json(const struct keel_blk_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "reads",
			 (json_int_t)c->reads, "read_sectors", (json_int_t)c->read_sectors,
			 "writes", (json_int_t)c->writes, "write_sectors",
			 (json_int_t)c->write_sectors, "sent", (json_int_t)c->sent, "dropped",
			 (json_int_t)c->dropped, "filtered", (json_int_t)c->filtered, "untracked",
			 (json_int_t)c->untracked, "missed", (json_int_t)c->missed);
}

static __u32 dev_hash(__u32 dev)
{
	return dev * 0x9e3779b1u;
}

static struct slot *slot_find(struct blk_priv *p, __u32 dev)
{
	for (__u32 i = dev_hash(dev) & p->index_mask;; i = (i + 1) & p->index_mask) {
		__u32 v = p->index[i];

		if (!v)
			return NULL;
		if (p->slots[v - 1].dev == dev)
			return &p->slots[v - 1];
	}
}

/* The slot of @dev, created (identity resolved, model built) on first use. */
static struct slot *slot_get(struct keel_subsys *s, __u32 dev, int *ret_err)
{
	struct blk_priv *p = s->priv;
	struct keel_blk_diskid id;
	struct slot *sl = slot_find(p, dev);
	__u32 i;
	int r;

	*ret_err = 0;
	if (sl)
		return sl;
	if (p->n_slots >= blk_cfg(s)->max_disks) {
		*ret_err = -ENOSPC;
		return NULL;
	}
	r = keel_blk_diskid_resolve(dev, &id);
	if (r) {
		/* a disk gone before its reads were read: keep the number */
		p->id_errors++;
		memset(&id, 0, sizeof(id));
		id.dev = dev;
		snprintf(id.name, sizeof(id.name), "%u:%u", KEEL_BLK_MAJOR(dev),
			 KEEL_BLK_MINOR(dev));
		snprintf(id.id, sizeof(id.id), "dev:%u:%u", KEEL_BLK_MAJOR(dev),
			 KEEL_BLK_MINOR(dev));
		snprintf(id.source, sizeof(id.source), "devnum");
	}
	sl = &p->slots[p->n_slots];
	memset(sl, 0, sizeof(*sl));
	r = keel_blk_disk_new(&p->mopts, &id, &sl->disk);
	if (r) {
		*ret_err = r;
		return NULL;
	}
	sl->dev = dev;
	sl->s = s;
	p->n_slots++;
	for (i = dev_hash(dev) & p->index_mask; p->index[i]; i = (i + 1) & p->index_mask)
		;
	p->index[i] = p->n_slots;
	return sl;
}

static void rec_finish(struct slot *sl, const char *why)
{
	struct keel_subsys *s = sl->s;
	struct blk_priv *p = s->priv;
	const struct keel_blk_diskid *id = keel_blk_disk_id(sl->disk);

	if (!sl->rec)
		return;
	keel_timer_stop(s->d, &sl->rec_timer);
	sl->rec_count = keel_blk_recorder_count(sl->rec);
	sl->rec_err = keel_blk_recorder_close(sl->rec);
	sl->rec = NULL;
	sl->rec_end = sl->rec_err ? "write error" : why;
	p->recordings--;
	keel_emit(s->d, "blk", "blk.record",
		  json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "disk", id->id, "name", id->name,
			    "file", sl->rec_path, "records", (json_int_t)sl->rec_count, "end",
			    sl->rec_end, "error", sl->rec_err ? strerror(-sl->rec_err) : ""));
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct keel_subsys *s = ctx;
	struct blk_priv *p = s->priv;
	const struct keel_blk_read *ev = data;
	struct slot *sl;
	int err;

	if (size < sizeof(*ev) || ev->hdr.type != KEEL_EV_BLK_READ)
		return 0; /* a newer BPF object than this keeld: skip */
	sl = slot_get(s, ev->dev, &err);
	if (!sl) {
		p->unmodelled++;
		return 0;
	}
	keel_blk_disk_read(sl->disk, ev->sector, ev->len, ev->latency_ns,
			   !(ev->flags & KEEL_BLK_F_NO_LATENCY), ev->flags & KEEL_BLK_F_ERROR);
	if (sl->rec && !(ev->flags & KEEL_BLK_F_ERROR)) {
		err = keel_blk_recorder_add(sl->rec, keel_boot_to_realtime_ns(ev->hdr.time_ns),
					    ev->sector, ev->len);
		if (err)
			rec_finish(sl, err > 0 ? "size limit" : "write error");
	}
	return 0;
}

static void drain(struct blk_priv *p)
{
	keel_ringbuf_consume(&p->rb);
}

static int read_dropped(void *ctx, __u64 *ret_total)
{
	struct blk_priv *p = ((struct keel_subsys *)ctx)->priv;
	struct keel_blk_counters sum;
	int err = read_counters(p, &sum);

	*ret_total = sum.dropped;
	return err;
}

static json_t *disks_json(struct blk_priv *p)
{
	json_t *a = json_array();

	for (unsigned int i = 0; i < p->n_slots; i++)
		json_array_append_new(a, keel_blk_disk_json(p->slots[i].disk));
	return a;
}

/* Add the devices that match [blk] devices to the in-kernel filter. */
static int filter_scan(struct keel_subsys *s)
{
	struct blk_priv *p = s->priv;
	const char *pats = blk_cfg(s)->devices;
	struct dirent *de;
	DIR *dir;
	int added = 0;

	if (!*pats)
		return 0;
	dir = opendir("/sys/class/block");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		char list[sizeof(blk_cfg(s)->devices)], *tok, *save;
		__u32 dev;
		__u8 one = 1;

		if (de->d_name[0] == '.')
			continue;
		snprintf(list, sizeof(list), "%s", pats);
		for (tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			const char *t = strncmp(tok, "/dev/", 5) ? tok : tok + 5;

			if (fnmatch(t, de->d_name, 0))
				continue;
			if (!keel_blk_dev_by_name(de->d_name, &dev) &&
			    !bpf_map__update_elem(p->skel->maps.blk_devices, &dev, sizeof(dev),
						  &one, sizeof(one), BPF_NOEXIST))
				added++;
			break;
		}
	}
	closedir(dir);
	return added;
}

static void on_stats_timer(struct keel_watch *w, uint32_t events)
{
	struct keel_subsys *s = w->data;
	struct blk_priv *p = s->priv;
	struct keel_blk_counters now, delta;
	json_t *ev;
	__u64 buf;

	(void)events;
	if (read(w->fd, &buf, sizeof(buf)) < 0 || read_counters(p, &now))
		return;
	drain(p);
	filter_scan(s); /* a loop device attached since */
	delta.reads = now.reads - p->last.reads;
	delta.read_sectors = now.read_sectors - p->last.read_sectors;
	delta.writes = now.writes - p->last.writes;
	delta.write_sectors = now.write_sectors - p->last.write_sectors;
	delta.sent = now.sent - p->last.sent;
	delta.dropped = now.dropped - p->last.dropped;
	delta.filtered = now.filtered - p->last.filtered;
	delta.untracked = now.untracked - p->last.untracked;
	delta.missed = now.missed - p->last.missed;
	p->last = now;
	for (unsigned int i = 0; i < p->n_slots; i++)
		keel_blk_disk_interval(p->slots[i].disk);
	ev = json_pack("{s:I, s:o, s:o, s:I, s:o}", "interval_ms",
		       (json_int_t)blk_cfg(s)->stats_interval_ms, "interval", counters_json(&delta),
		       "total", counters_json(&now), "unmodelled_reads", (json_int_t)p->unmodelled,
		       "disks", disks_json(p));
	keel_emit(s->d, "blk", "blk.stats", ev);
}

static int parse_model_opts(struct keel_subsys *s, char *why, size_t len)
{
	const struct blk_config *c = blk_cfg(s);
	struct blk_priv *p = s->priv;
	__u32 bs = c->block_size;

	if (bs & (bs - 1)) {
		snprintf(
			why, len,
			"[blk] block_size %u is not a power of two; use 4096 or another power of two",
			bs);
		return -EINVAL;
	}
	if ((__u64)c->cache_mib << 20 < bs) {
		snprintf(why, len, "[blk] cache_mib %u MiB holds no block of %u bytes",
			 c->cache_mib, bs);
		return -EINVAL;
	}
	if (!strcmp(c->mrc_mode, "fixed-rate")) {
		p->mopts.mrc_mode = KEEL_SHARDS_FIXED_RATE;
	} else if (!strcmp(c->mrc_mode, "fixed-size")) {
		p->mopts.mrc_mode = KEEL_SHARDS_FIXED_SIZE;
	} else {
		snprintf(why, len, "[blk] mrc_mode '%s' is neither fixed-rate nor fixed-size",
			 c->mrc_mode);
		return -EINVAL;
	}
	if (c->mrc_keel_points > c->mrc_keel_max_entries) {
		snprintf(
			why, len,
			"[blk] mrc_keel_points %u caches need at least that many entries, "
			"more than mrc_keel_max_entries %u; raise mrc_keel_max_entries or lower the points",
			c->mrc_keel_points, c->mrc_keel_max_entries);
		return -EINVAL;
	}
	if (c->ring_kib & (c->ring_kib - 1)) {
		snprintf(
			why, len,
			"[blk] ring_kib %u is not a power of two; use 4096 or another power of two",
			c->ring_kib);
		return -EINVAL;
	}
	p->mopts.block_size = bs;
	p->mopts.cache_blocks = ((__u64)c->cache_mib << 20) / bs;
	p->mopts.mrc_rate = c->mrc_rate_ppm / 1e6;
	p->mopts.mrc_max_samples = c->mrc_max_samples;
	p->mopts.mrc_bins = c->mrc_bins;
	p->mopts.mrc_keel_points = c->mrc_keel_points;
	p->mopts.mrc_keel_max_entries = c->mrc_keel_max_entries;
	return 0;
}

static int open_cgroups(struct keel_subsys *s, char *why, size_t len)
{
	struct blk_priv *p = s->priv;
	char list[sizeof(blk_cfg(s)->cgroups)], *tok, *save, path[PATH_MAX + 32];

	snprintf(list, sizeof(list), "%s", blk_cfg(s)->cgroups);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (p->n_cgroups == KEEL_BLK_MAX_CGROUPS) {
			snprintf(why, len,
				 "[blk] cgroups: more than %d cgroups; name a common parent",
				 KEEL_BLK_MAX_CGROUPS);
			return -E2BIG;
		}
		snprintf(path, sizeof(path), "%s%s",
			 tok[0] == '/' && strncmp(tok, "/sys/fs/cgroup", 14) ? "/sys/fs/cgroup" :
									       "",
			 tok);
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			int err = -errno;

			snprintf(
				why, len,
				"[blk] cgroups: opening %s: %s (a cgroup v2 directory under /sys/fs/cgroup)",
				path, strerror(-err));
			return err;
		}
		p->cgroup_fds[p->n_cgroups++] = fd;
	}
	return 0;
}

static int blk_open(struct keel_subsys *s, char *why, size_t len)
{
	struct blk_priv *p = s->priv;
	const struct blk_config *c = blk_cfg(s);
	__u32 size = 1;
	int err;

	for (int i = 0; i < KEEL_BLK_MAX_CGROUPS; i++)
		p->cgroup_fds[i] = -1;
	err = parse_model_opts(s, why, len);
	if (err)
		return err;
	err = open_cgroups(s, why, len);
	if (err)
		return err;
	while (size < 2 * c->max_disks)
		size <<= 1;
	p->slots = calloc(c->max_disks, sizeof(*p->slots));
	p->index = calloc(size, sizeof(*p->index));
	if (!p->slots || !p->index) {
		snprintf(why, len, "allocating the table of %u disks: out of memory", c->max_disks);
		return -ENOMEM;
	}
	p->index_mask = size - 1;
	p->skel = blk_bpf__open();
	if (!p->skel) {
		err = -errno;
		snprintf(why, len, "opening the blk BPF object: %s", strerror(-err));
		return err;
	}
	p->skel->rodata->filter_devices = c->devices[0] != '\0';
	p->skel->rodata->n_cgroups = p->n_cgroups;
	p->skel->rodata->wakeup_bytes = (__u64)c->ring_kib * 1024 / 16;
	err = bpf_map__set_max_entries(p->skel->maps.blk_events, c->ring_kib * 1024);
	if (err) {
		snprintf(why, len, "sizing the blk ring buffer to %u KiB: %s", c->ring_kib,
			 strerror(-err));
		return err;
	}
	err = blk_bpf__load(p->skel);
	if (err) {
		snprintf(why, len,
			 "loading the blk BPF object: %s (%s); run keeld -v for the verifier log",
			 strerror(-err), keel_errno_name(err));
		return err;
	}
	return 0;
}

static int blk_start(struct keel_subsys *s, char *why, size_t len)
{
	struct blk_priv *p = s->priv;
	/* what bpftool should see: counters, records, the device filter, the links */
	struct bpf_map *maps[] = { p->skel->maps.blk_counters, p->skel->maps.blk_events,
				   p->skel->maps.blk_devices };
	int err;

	for (__u32 i = 0; i < p->n_cgroups; i++) {
		err = bpf_map__update_elem(p->skel->maps.blk_cgroups, &i, sizeof(i),
					   &p->cgroup_fds[i], sizeof(int), BPF_ANY);
		if (err) {
			snprintf(why, len, "adding cgroup %u of [blk] cgroups to the filter: %s", i,
				 strerror(-err));
			return err;
		}
	}
	err = filter_scan(s);
	if (err < 0) {
		snprintf(why, len, "listing /sys/class/block for [blk] devices: %s",
			 strerror(-err));
		return err;
	}
	err = blk_bpf__attach(p->skel);
	if (err) {
		snprintf(why, len, "attaching tp_btf/block_rq_issue and block_rq_complete: %s (%s)",
			 strerror(-err), keel_errno_name(err));
		return err;
	}
	err = keel_pins_open(&p->pins, s, KEEL_PINS_FRESH, why, len);
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]) && !err; i++)
		err = keel_pins_map(&p->pins, maps[i], why, len);
	if (!err)
		err = keel_pins_link(&p->pins, p->skel->links.blk_rq_issue, "blk_rq_issue", why,
				     len);
	if (!err)
		err = keel_pins_link(&p->pins, p->skel->links.blk_rq_complete, "blk_rq_complete",
				     why, len);
	if (err)
		return err;
	/* records the kernel did not wake keeld for are collected every POLL_MS */
	p->rb = (struct keel_ringbuf){ .subsystem = "blk",
				       .drop_event = "blk.dropped",
				       .read_dropped = read_dropped,
				       .poll_ms = POLL_MS };
	err = keel_ringbuf_open(&p->rb, s->d, p->skel->maps.blk_events, on_record, s, why, len);
	if (err)
		return err;
	p->stats_timer = (struct keel_watch){ .cb = on_stats_timer, .data = s };
	err = keel_timer_start(s->d, &p->stats_timer, blk_cfg(s)->stats_interval_ms);
	if (err) {
		snprintf(why, len, "starting the blk timers: %s", strerror(-err));
		return err;
	}
	return 0;
}

static void blk_stop(struct keel_subsys *s)
{
	struct blk_priv *p = s->priv;

	keel_timer_stop(s->d, &p->stats_timer);
	keel_ringbuf_close(&p->rb); /* delivers what is already there */
	for (unsigned int i = 0; i < p->n_slots; i++) {
		rec_finish(&p->slots[i], "keeld stopped");
		keel_blk_disk_free(p->slots[i].disk);
	}
	free(p->slots);
	free(p->index);
	for (unsigned int i = 0; i < p->n_cgroups; i++)
		close(p->cgroup_fds[i]);
	keel_pins_remove(&p->pins);
	blk_bpf__destroy(p->skel);
	memset(p, 0, sizeof(*p));
}

static void blk_counters(struct keel_subsys *s, json_t *out)
{
	struct blk_priv *p = s->priv;
	struct keel_blk_counters sum;
	json_t *c;

	if (!p->skel || read_counters(p, &sum))
		return;
	c = counters_json(&sum);
	json_object_update(out, c);
	json_decref(c);
	json_object_set_new(out, "disks", json_integer(p->n_slots));
	json_object_set_new(out, "unmodelled_reads", json_integer((json_int_t)p->unmodelled));
}

/* ---- keelctl blk ... ---- */

/* DISK: a disk ID, a device name (loop3, /dev/loop3) or MAJ:MIN. */
static struct slot *find_disk(struct keel_subsys *s, const char *arg, bool create, char *why,
			      size_t len)
{
	struct blk_priv *p = s->priv;
	unsigned int ma, mi;
	char extra;
	struct slot *sl;
	__u32 dev;
	int err;

	for (unsigned int i = 0; i < p->n_slots; i++) {
		const struct keel_blk_diskid *id = keel_blk_disk_id(p->slots[i].disk);

		if (!strcmp(id->id, arg) || !strcmp(id->name, arg))
			return &p->slots[i];
	}
	if (sscanf(arg, "%u:%u%c", &ma, &mi, &extra) == 2)
		dev = KEEL_BLK_MKDEV(ma, mi);
	else if ((err = keel_blk_dev_by_name(arg, &dev))) {
		snprintf(
			why, len,
			"no disk '%s': not a disk ID keeld has seen, nor a block device (%s); see 'keelctl blk stats'",
			arg, strerror(-err));
		return NULL;
	}
	sl = slot_find(p, dev);
	if (sl || !create) {
		if (!sl)
			snprintf(
				why, len,
				"disk '%s' has had no read since keeld started; see 'keelctl blk stats'",
				arg);
		return sl;
	}
	sl = slot_get(s, dev, &err);
	if (!sl)
		snprintf(why, len, "cannot model disk '%s': %s", arg,
			 err == -ENOSPC ? "[blk] max_disks disks are modelled already" :
					  strerror(-err));
	return sl;
}

static void on_rec_timer(struct keel_watch *w, uint32_t events)
{
	struct slot *sl = w->data;
	__u64 buf;

	(void)events;
	if (read(w->fd, &buf, sizeof(buf)) < 0)
		return;
	drain(sl->s->priv);
	rec_finish(sl, "duration");
}

static json_t *cmd_record(struct keel_subsys *s, json_t *req, char *why, size_t len)
{
	struct blk_priv *p = s->priv;
	const struct blk_config *c = blk_cfg(s);
	const char *disk = json_string_value(json_object_get(req, "disk"));
	const char *file = json_string_value(json_object_get(req, "file"));
	json_int_t dur = json_integer_value(json_object_get(req, "duration_s"));
	struct slot *sl;
	int err;

	if (!disk || !file || file[0] != '/') {
		snprintf(why, len, "blk.record needs \"disk\" and an absolute \"file\" path");
		return NULL;
	}
	if (dur <= 0 || dur > c->record_max_s)
		dur = c->record_max_s;
	sl = find_disk(s, disk, true, why, len);
	if (!sl)
		return NULL;
	if (sl->rec) {
		snprintf(why, len, "disk %s is being recorded already (to %s)", disk, sl->rec_path);
		return NULL;
	}
	if (p->recordings >= c->max_recordings) {
		snprintf(why, len, "%u recordings are running, the [blk] max_recordings limit",
			 p->recordings);
		return NULL;
	}
	drain(p); /* what was read before this request is not recorded */
	if (json_is_true(json_object_get(req, "reset"))) {
		err = keel_blk_disk_reset(sl->disk);
		if (err) {
			snprintf(why, len, "resetting the model of %s: %s", disk, strerror(-err));
			return NULL;
		}
	}
	err = keel_blk_recorder_open(file, keel_blk_disk_id(sl->disk)->id64,
				     ((__u64)c->record_max_mib << 20) / KEEL_TRACE_RECORD_SIZE,
				     &sl->rec);
	if (err) {
		snprintf(why, len, "creating %s: %s", file, strerror(-err));
		return NULL;
	}
	snprintf(sl->rec_path, sizeof(sl->rec_path), "%s", file);
	sl->rec_end = NULL;
	sl->rec_timer = (struct keel_watch){ .cb = on_rec_timer, .data = sl };
	err = keel_timer_start(s->d, &sl->rec_timer, (unsigned int)dur * 1000);
	if (err) {
		keel_blk_recorder_close(sl->rec);
		sl->rec = NULL;
		snprintf(why, len, "starting the recording timer: %s", strerror(-err));
		return NULL;
	}
	p->recordings++;
	return json_pack("{s:s, s:s, s:s, s:I}", "disk", keel_blk_disk_id(sl->disk)->id, "name",
			 keel_blk_disk_id(sl->disk)->name, "file", file, "duration_s", dur);
}

static json_t *cmd_record_stop(struct keel_subsys *s, json_t *req, char *why, size_t len)
{
	const char *disk = json_string_value(json_object_get(req, "disk"));
	struct slot *sl;

	if (!disk) {
		snprintf(why, len, "blk.record-stop needs \"disk\"");
		return NULL;
	}
	sl = find_disk(s, disk, false, why, len);
	if (!sl)
		return NULL;
	drain(s->priv);
	rec_finish(sl, "stopped");
	if (!sl->rec_end) {
		snprintf(why, len, "disk %s has not been recorded", disk);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o}", "disk",
			 keel_blk_disk_id(sl->disk)->id, "name", keel_blk_disk_id(sl->disk)->name,
			 "file", sl->rec_path, "records", (json_int_t)sl->rec_count, "end",
			 sl->rec_end, "error", sl->rec_err ? strerror(-sl->rec_err) : "", "stats",
			 keel_blk_disk_json(sl->disk));
}

static json_t *blk_command(struct keel_subsys *s, const char *verb, json_t *req, bool privileged,
			   char *why, size_t len)
{
	struct blk_priv *p = s->priv;
	struct keel_blk_counters sum;
	struct slot *sl;

	if (!strcmp(verb, "stats")) {
		drain(p);
		if (read_counters(p, &sum)) {
			snprintf(why, len, "reading the blk counters map failed");
			return NULL;
		}
		return json_pack("{s:o, s:I, s:I, s:I, s:o}", "kernel", counters_json(&sum),
				 "unmodelled_reads", (json_int_t)p->unmodelled, "max_disks",
				 (json_int_t)blk_cfg(s)->max_disks, "cache_bytes",
				 (json_int_t)(p->mopts.cache_blocks * p->mopts.block_size), "disks",
				 disks_json(p));
	}
	if (!strcmp(verb, "mrc")) {
		const char *disk = json_string_value(json_object_get(req, "disk"));

		if (!disk) {
			snprintf(why, len, "blk.mrc needs \"disk\"");
			return NULL;
		}
		drain(p);
		sl = find_disk(s, disk, false, why, len);
		return sl ? keel_blk_disk_mrc_json(sl->disk) : NULL;
	}
	if (!strcmp(verb, "record") || !strcmp(verb, "record-stop")) {
		if (!privileged) {
			snprintf(
				why, len,
				"blk.%s writes a file as keeld: only root or the [control] group may",
				verb);
			return NULL;
		}
		return verb[6] ? cmd_record_stop(s, req, why, len) : cmd_record(s, req, why, len);
	}
	snprintf(why, len, "unknown command 'blk.%s' (stats, mrc, record, record-stop)", verb);
	return NULL;
}

/*
 * The metrics page's per-disk series: keel_blk_disk_<counter>{disk,name}
 * for each modelled disk (at most [blk] max_disks), as `keelctl blk stats`
 * shows them.
 */
static json_t *blk_metrics(struct keel_subsys *s)
{
	struct blk_priv *p = s->priv;
	json_t *rows = json_array();

	drain(p);
	for (unsigned int i = 0; i < p->n_slots; i++) {
		json_t *disk = keel_blk_disk_json(p->slots[i].disk);
		const char *id = json_string_value(json_object_get(disk, "disk"));
		const char *name = json_string_value(json_object_get(disk, "name"));

		if (!id) {
			json_decref(disk);
			continue;
		}
		/* the same figure as interval.hit_ratio: one sample, not two of one name */
		json_object_del(disk, "interval_hit_ratio");
		json_array_append_new(rows, json_pack("{s:{s:s, s:s}, s:o}", "labels", "disk", id,
						      "name", name ? name : "", "values", disk));
	}
	return json_pack("{s:o}", "disk", rows);
}

/* The routine stream: journalctl -p info and above leaves it out. */
static const struct keel_event_priority blk_priorities[] = {
	{ "blk.stats", LOG_DEBUG },
	{ NULL, 0 },
};

const struct keel_subsys_ops keel_blk_ops = {
	.name = "blk",
	.summary = "block reads, through block tracepoints; per-disk cache model",
	.needs = { KEEL_FEAT_BTF, KEEL_FEAT_BLOCK_TP },
	.n_needs = 2,
	.options = blk_options,
	.config_size = sizeof(struct blk_config),
	.priv_size = sizeof(struct blk_priv),
	.open = blk_open,
	.start = blk_start,
	.stop = blk_stop,
	.counters = blk_counters,
	.command = blk_command,
	.metrics = blk_metrics,
	.event_priorities = blk_priorities,
};
