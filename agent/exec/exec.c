// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec subsystem: loads bpf/exec.bpf.c (BPF LSM on bprm_check_security)
 * and turns its ring buffer records into exec.exec events.  Enforcement
 * (the trust store and the installer) builds on this frame.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exec.skel.h"
#include "keel/events.h"
#include "keeld/subsys.h"

struct exec_priv {
	struct exec_bpf *skel;
	struct ring_buffer *rb;
	struct keel_watch rb_watch;
	struct keel_watch drop_timer;
	__u64 dropped_reported;
	char pin_path[PATH_MAX];
	bool pinned;
};

static int read_counters(struct exec_priv *p, struct keel_exec_counters *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct keel_exec_counters vals[ncpu > 0 ? ncpu : 1];
	__u32 zero = 0;
	int err;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return ncpu;
	err = bpf_map__lookup_elem(p->skel->maps.exec_counters, &zero, sizeof(zero),
				   vals, sizeof(vals), 0);
	if (err)
		return err;
	for (int i = 0; i < ncpu; i++) {
		sum->execs += vals[i].execs;
		sum->dropped += vals[i].dropped;
	}
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct keel_subsys *s = ctx;
	const struct keel_exec_event *ev = data;
	char comm[KEEL_COMM_LEN + 1], file[KEEL_PATH_LEN + 1];

	if (size < sizeof(*ev) || ev->hdr.type != KEEL_EV_EXEC)
		return 0;	/* a newer BPF object than this keeld: skip */
	snprintf(comm, sizeof(comm), "%.*s", KEEL_COMM_LEN, ev->comm);
	snprintf(file, sizeof(file), "%.*s", KEEL_PATH_LEN, ev->filename);
	keel_event_emit(s->d->bus, "exec", "exec.exec",
			json_pack("{s:I, s:I, s:I, s:s, s:s, s:s}", "pid",
				  (json_int_t)ev->pid, "uid", (json_int_t)ev->uid,
				  "cgroup_id", (json_int_t)ev->cgroup_id, "comm", comm,
				  "filename", file, "decision", "allow"),
			keel_boot_to_realtime_ns(ev->hdr.time_ns));
	return 0;
}

static void on_ringbuf(struct keel_watch *w, uint32_t events)
{
	struct exec_priv *p = ((struct keel_subsys *)w->data)->priv;

	(void)events;
	ring_buffer__consume(p->rb);
}

/* Drops happen in the kernel; report each new batch as one event. */
static void on_drop_timer(struct keel_watch *w, uint32_t events)
{
	struct keel_subsys *s = w->data;
	struct exec_priv *p = s->priv;
	struct keel_exec_counters sum;
	__u64 buf;

	(void)events;
	if (read(w->fd, &buf, sizeof(buf)) < 0)
		return;
	if (read_counters(p, &sum) || sum.dropped == p->dropped_reported)
		return;
	keel_emit(s->d, "exec", "exec.dropped",
		  json_pack("{s:I, s:I}", "count",
			    (json_int_t)(sum.dropped - p->dropped_reported), "total",
			    (json_int_t)sum.dropped));
	p->dropped_reported = sum.dropped;
}

static int exec_open(struct keel_subsys *s, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	int err;

	p->skel = exec_bpf__open();
	if (!p->skel) {
		err = -errno;
		snprintf(why, len, "opening the exec BPF object: %s", strerror(-err));
		return err;
	}
	err = exec_bpf__load(p->skel);
	if (err) {
		snprintf(why, len, "loading the exec BPF object: %s (%s); run keeld -v for the verifier log",
			 strerror(-err), keel_errno_name(err));
		return err;
	}
	return 0;
}

static int exec_start(struct keel_subsys *s, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	char path[PATH_MAX + 32];
	int err;

	err = exec_bpf__attach(p->skel);
	if (err) {
		snprintf(why, len, "attaching lsm/bprm_check_security: %s (%s)",
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
	snprintf(path, sizeof(path), "%s/exec_events", p->pin_path);
	err = bpf_map__pin(p->skel->maps.exec_events, path);
	if (!err) {
		snprintf(path, sizeof(path), "%s/exec_counters", p->pin_path);
		err = bpf_map__pin(p->skel->maps.exec_counters, path);
	}
	if (!err) {
		snprintf(path, sizeof(path), "%s/exec_check_link", p->pin_path);
		err = bpf_link__pin(p->skel->links.exec_check, path);
	}
	if (err) {
		snprintf(why, len, "pinning %s: %s", path, strerror(-err));
		return err;
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.exec_events), on_record, s, NULL);
	if (!p->rb) {
		err = -errno;
		snprintf(why, len, "creating the ring buffer reader: %s", strerror(-err));
		return err;
	}
	p->rb_watch = (struct keel_watch){ .fd = ring_buffer__epoll_fd(p->rb),
					   .cb = on_ringbuf, .data = s };
	err = keel_watch_add(s->d, &p->rb_watch, EPOLLIN);
	if (!err) {
		p->drop_timer = (struct keel_watch){ .cb = on_drop_timer, .data = s };
		err = keel_timer_start(s->d, &p->drop_timer, 1000);
	}
	if (err) {
		snprintf(why, len, "watching the ring buffer: %s", strerror(-err));
		return err;
	}
	return 0;
}

static void exec_stop(struct keel_subsys *s)
{
	struct exec_priv *p = s->priv;

	keel_timer_stop(s->d, &p->drop_timer);
	if (p->rb) {
		ring_buffer__consume(p->rb);	/* deliver what is already there */
		keel_watch_del(s->d, &p->rb_watch);
		ring_buffer__free(p->rb);
	}
	if (p->pinned)
		keel_pin_dir_remove(s);
	exec_bpf__destroy(p->skel);
	memset(p, 0, sizeof(*p));
}

static void exec_counters(struct keel_subsys *s, json_t *out)
{
	struct keel_exec_counters sum;

	if (read_counters(s->priv, &sum))
		return;
	json_object_set_new(out, "execs", json_integer((json_int_t)sum.execs));
	json_object_set_new(out, "dropped", json_integer((json_int_t)sum.dropped));
}

const struct keel_subsys_ops keel_exec_ops = {
	.name = "exec",
	.summary = "program execution, through BPF LSM",
	.needs = { KEEL_FEAT_BTF, KEEL_FEAT_BPF_LSM },
	.n_needs = 2,
	.priv_size = sizeof(struct exec_priv),
	.open = exec_open,
	.start = exec_start,
	.stop = exec_stop,
	.counters = exec_counters,
};
