// SPDX-License-Identifier: GPL-2.0-only
/*
 * blk subsystem: loads bpf/blk.bpf.c (tp_btf/block_rq_issue) and reports
 * the block requests it counts as periodic blk.stats events.  The per-disk
 * cache model builds on this frame.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blk.skel.h"
#include "keel/events.h"
#include "keeld/subsys.h"

struct blk_priv {
	struct blk_bpf *skel;
	struct keel_watch stats_timer;
	struct keel_blk_counters last;	/* at the previous blk.stats */
	char pin_path[PATH_MAX];
	bool pinned;
};

static int read_counters(struct blk_priv *p, struct keel_blk_counters *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct keel_blk_counters vals[ncpu > 0 ? ncpu : 1];
	__u32 zero = 0;
	int err;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return ncpu;
	err = bpf_map__lookup_elem(p->skel->maps.blk_counters, &zero, sizeof(zero),
				   vals, sizeof(vals), 0);
	if (err)
		return err;
	for (int i = 0; i < ncpu; i++) {
		sum->reads += vals[i].reads;
		sum->read_sectors += vals[i].read_sectors;
		sum->writes += vals[i].writes;
		sum->write_sectors += vals[i].write_sectors;
	}
	return 0;
}

static json_t *counters_json(const struct keel_blk_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I}", "reads", (json_int_t)c->reads,
			 "read_sectors", (json_int_t)c->read_sectors, "writes",
			 (json_int_t)c->writes, "write_sectors",
			 (json_int_t)c->write_sectors);
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
	delta.reads = now.reads - p->last.reads;
	delta.read_sectors = now.read_sectors - p->last.read_sectors;
	delta.writes = now.writes - p->last.writes;
	delta.write_sectors = now.write_sectors - p->last.write_sectors;
	p->last = now;
	ev = json_pack("{s:I, s:o, s:o}", "interval_ms",
		       (json_int_t)s->d->cfg.blk_stats_interval_ms, "interval",
		       counters_json(&delta), "total", counters_json(&now));
	keel_emit(s->d, "blk", "blk.stats", ev);
}

static int blk_open(struct keel_subsys *s, char *why, size_t len)
{
	struct blk_priv *p = s->priv;
	int err;

	p->skel = blk_bpf__open();
	if (!p->skel) {
		err = -errno;
		snprintf(why, len, "opening the blk BPF object: %s", strerror(-err));
		return err;
	}
	err = blk_bpf__load(p->skel);
	if (err) {
		snprintf(why, len, "loading the blk BPF object: %s (%s); run keeld -v for the verifier log",
			 strerror(-err), keel_errno_name(err));
		return err;
	}
	return 0;
}

static int blk_start(struct keel_subsys *s, char *why, size_t len)
{
	struct blk_priv *p = s->priv;
	char path[PATH_MAX + 32];
	int err;

	err = blk_bpf__attach(p->skel);
	if (err) {
		snprintf(why, len, "attaching tp_btf/block_rq_issue: %s (%s)",
			 strerror(-err), keel_errno_name(err));
		return err;
	}
	err = keel_pin_dir_prepare(s, p->pin_path, sizeof(p->pin_path));
	if (err) {
		snprintf(why, len, "preparing pin directory under %s: %s (is it on a bpffs?)",
			 s->d->cfg.pin_dir, strerror(-err));
		return err;
	}
	p->pinned = true;
	snprintf(path, sizeof(path), "%s/blk_counters", p->pin_path);
	err = bpf_map__pin(p->skel->maps.blk_counters, path);
	if (!err) {
		snprintf(path, sizeof(path), "%s/blk_rq_issue_link", p->pin_path);
		err = bpf_link__pin(p->skel->links.blk_rq_issue, path);
	}
	if (err) {
		snprintf(why, len, "pinning %s: %s", path, strerror(-err));
		return err;
	}
	p->stats_timer = (struct keel_watch){ .cb = on_stats_timer, .data = s };
	err = keel_timer_start(s->d, &p->stats_timer, s->d->cfg.blk_stats_interval_ms);
	if (err) {
		snprintf(why, len, "starting the stats timer: %s", strerror(-err));
		return err;
	}
	return 0;
}

static void blk_stop(struct keel_subsys *s)
{
	struct blk_priv *p = s->priv;

	keel_timer_stop(s->d, &p->stats_timer);
	if (p->pinned)
		keel_pin_dir_remove(s);
	blk_bpf__destroy(p->skel);
	memset(p, 0, sizeof(*p));
}

static void blk_counters(struct keel_subsys *s, json_t *out)
{
	struct keel_blk_counters sum;

	if (read_counters(s->priv, &sum))
		return;
	json_t *c = counters_json(&sum);

	json_object_update(out, c);
	json_decref(c);
}

const struct keel_subsys_ops keel_blk_ops = {
	.name = "blk",
	.summary = "block requests, through block tracepoints",
	.needs = { KEEL_FEAT_BTF, KEEL_FEAT_BLOCK_TP },
	.n_needs = 2,
	.priv_size = sizeof(struct blk_priv),
	.open = blk_open,
	.start = blk_start,
	.stop = blk_stop,
	.counters = blk_counters,
};
