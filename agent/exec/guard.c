// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec's self-protection: loads bpf/guard.bpf.c next to exec's object,
 * tells it who keeld is (its executable's inode), which maps and links
 * are keel's (by id) and where the pins are, and turns its records into
 * exec.guard_deny events.  The guard shares exec_state with exec, so it
 * refuses exactly when exec enforces and reports only in audit mode.
 *
 * Its state is exec's (struct exec_guard in struct exec_priv).
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "exec/exec_priv.h"
#include "exec/guard.h"
#include "guard.skel.h"
#include "keel/guard.h"
#include "keeld/percpu.h"
#include "keeld/ringbuf.h"

static const char *what_name(__u32 what)
{
	switch (what) {
	case KEEL_GUARD_MAP_OPEN_WRITE:
		return "map_open_write";
	case KEEL_GUARD_MAP_UPDATE:
		return "map_update";
	case KEEL_GUARD_LINK_CHANGE:
		return "link_change";
	case KEEL_GUARD_PIN_UNLINK:
		return "pin_unlink";
	case KEEL_GUARD_PIN_RENAME:
		return "pin_rename";
	case KEEL_GUARD_PIN_SETATTR:
		return "pin_setattr";
	case KEEL_GUARD_PIN_RMDIR:
		return "pin_rmdir";
	case KEEL_GUARD_UMOUNT:
		return "umount";
	case KEEL_GUARD_PTRACE:
		return "ptrace";
	case KEEL_GUARD_TRACEME:
		return "traceme";
	case KEEL_GUARD_MAP_OPEN_READ:
		return "map_open_read";
	case KEEL_GUARD_PROG_MAP:
		return "prog_uses_map";
	case KEEL_GUARD_TRACED_EXEC:
		return "traced_exec";
	case KEEL_GUARD_PROG_ATTACH:
		return "prog_attach";
	}
	return "unknown";
}

static void target_desc(const struct keel_guard_event *ev, char *buf, size_t len)
{
	switch (ev->what) {
	case KEEL_GUARD_PROG_MAP:
		snprintf(buf, len, "program %u using map %.*s", ev->target_id,
			 (int)sizeof(ev->target), ev->target);
		break;
	case KEEL_GUARD_MAP_OPEN_WRITE:
	case KEEL_GUARD_MAP_OPEN_READ:
	case KEEL_GUARD_MAP_UPDATE:
		snprintf(buf, len, "map %u %.*s", ev->target_id, (int)sizeof(ev->target),
			 ev->target);
		break;
	case KEEL_GUARD_LINK_CHANGE:
		snprintf(buf, len, "link %u", ev->target_id);
		break;
	case KEEL_GUARD_PROG_ATTACH:
		snprintf(buf, len, "program %u", ev->target_id);
		break;
	case KEEL_GUARD_TRACED_EXEC:
		snprintf(buf, len, "keeld's executable, traced by pid %u", ev->target_id);
		break;
	case KEEL_GUARD_PTRACE:
	case KEEL_GUARD_TRACEME:
		snprintf(buf, len, "%s %u",
			 ev->what == KEEL_GUARD_PTRACE ? "keeld pid" : "parent pid", ev->target_id);
		break;
	case KEEL_GUARD_UMOUNT:
		snprintf(buf, len, "bpffs holding the pins");
		break;
	default:
		snprintf(buf, len, "pin %.*s", (int)sizeof(ev->target), ev->target);
	}
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct keel_subsys *s = ctx;
	const struct keel_guard_event *ev = data;
	char comm[KEEL_COMM_LEN + 1], target[128];

	if (size < sizeof(*ev) || ev->hdr.type != KEEL_EV_EXEC_GUARD)
		return 0;
	snprintf(comm, sizeof(comm), "%.*s", KEEL_COMM_LEN, ev->comm);
	target_desc(ev, target, sizeof(target));
	keel_event_emit(s->d->bus, "exec", "exec.guard_deny",
			json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:b}", "pid", (json_int_t)ev->pid,
				  "uid", (json_int_t)ev->uid, "comm", comm, "what",
				  what_name(ev->what), "target", target, "mode",
				  exec_mode_name(ev->mode), "refused", (int)ev->denied),
			keel_boot_to_realtime_ns(ev->hdr.time_ns));
	return 0;
}

static int read_dropped(void *ctx, __u64 *ret_total)
{
	struct exec_priv *p = ((struct keel_subsys *)ctx)->priv;
	struct keel_guard_stats sum;
	int err = keel_percpu_sum(p->guard.skel->maps.guard_stats, 0, &sum, sizeof(sum));

	*ret_total = sum.dropped;
	return err;
}

/*
 * The kernel's identity of @path: keeld's own open is recorded by exec's
 * file_open program, so the key is the one the guard computes.
 */
static int ident_of(struct exec_priv *p, const char *path, int flags, struct keel_guard_inode *ret)
{
	__u32 tid = (__u32)gettid();
	struct keel_exec_ident id;
	int fd, err;

	bpf_map__delete_elem(p->skel->maps.exec_ident, &tid, sizeof(tid), 0);
	fd = open(path, flags | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = bpf_map__lookup_elem(p->skel->maps.exec_ident, &tid, sizeof(tid), &id, sizeof(id), 0);
	close(fd);
	if (err)
		return err;
	*ret = (struct keel_guard_inode){ .ino = id.key.ino, .dev = id.key.dev, .gen = id.key.gen };
	return 0;
}

static int add_id(struct exec_guard *g, __u32 kind, int fd)
{
	struct bpf_link_info linfo = {};
	struct bpf_prog_info pinfo = {};
	struct bpf_map_info minfo = {};
	struct keel_guard_id key = { .kind = kind };
	__u32 len;
	__u8 one = 1;

	if (kind == KEEL_GUARD_MAP) {
		len = sizeof(minfo);
		if (bpf_obj_get_info_by_fd(fd, &minfo, &len))
			return -errno;
		key.id = minfo.id;
	} else if (kind == KEEL_GUARD_PROG) {
		len = sizeof(pinfo);
		if (bpf_obj_get_info_by_fd(fd, &pinfo, &len))
			return -errno;
		key.id = pinfo.id;
	} else {
		len = sizeof(linfo);
		if (bpf_obj_get_info_by_fd(fd, &linfo, &len))
			return -errno;
		key.id = linfo.id;
	}
	return bpf_map__update_elem(g->skel->maps.guard_ids, &key, sizeof(key), &one, sizeof(one),
				    BPF_ANY);
}

/* Record every map, program and link of @sk; ids of a previous keeld's objects go first. */
static int add_ids(struct exec_guard *g, const struct bpf_object_skeleton *sk)
{
	struct bpf_map *map;
	int err = 0;

	bpf_object__for_each_map(map, *sk->obj)
		if (!err && !bpf_map__is_internal(map))
			err = add_id(g, KEEL_GUARD_MAP, bpf_map__fd(map));
	for (int i = 0; i < sk->prog_cnt && !err; i++) {
		/* a hook this kernel lacks: not loaded (keeld/hooks.c) */
		if (!bpf_program__autoload(*sk->progs[i].prog))
			continue;
		/* keel's programs use keel's maps: their fds stay open to all */
		err = add_id(g, KEEL_GUARD_PROG, bpf_program__fd(*sk->progs[i].prog));
		if (!err && *sk->progs[i].link)
			err = add_id(g, KEEL_GUARD_LINK, bpf_link__fd(*sk->progs[i].link));
	}
	return err;
}

static void clear_ids(struct exec_guard *g)
{
	struct keel_guard_id key, next;
	const struct bpf_map *ids = g->skel->maps.guard_ids;

	while (!bpf_map__get_next_key(ids, NULL, &next, sizeof(next))) {
		key = next;
		if (bpf_map__delete_elem(ids, &key, sizeof(key), 0))
			break;
	}
}

static int configure(struct keel_subsys *s, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	struct exec_guard *g = &p->guard;
	struct keel_guard_conf conf = {};
	struct keel_guard_inode dir;
	__u32 zero = 0;
	__u8 one = 1;
	int err;

	/* a successor recorded by the last stop stays keeld too */
	bpf_map__lookup_elem(g->skel->maps.guard_conf, &zero, sizeof(zero), &conf, sizeof(conf), 0);
	err = ident_of(p, "/proc/self/exe", 0, &conf.exe[0]);
	if (err) {
		snprintf(why, len, "guard: identifying keeld's executable: %s", strerror(-err));
		return err;
	}
	const char *dirs[] = { p->pins.root, p->pins.dir };

	for (size_t i = 0; i < 2; i++) {
		err = ident_of(p, dirs[i], O_DIRECTORY, &dir);
		if (!err)
			err = bpf_map__update_elem(g->skel->maps.guard_dirs, &dir, sizeof(dir),
						   &one, sizeof(one), BPF_ANY);
		if (err) {
			snprintf(why, len, "guard: recording pin directory %s: %s", dirs[i],
				 strerror(-err));
			return err;
		}
		conf.pin_dev = dir.dev;
	}
	err = bpf_map__update_elem(g->skel->maps.guard_conf, &zero, sizeof(zero), &conf,
				   sizeof(conf), BPF_ANY);
	if (err) {
		snprintf(why, len, "guard: writing guard_conf: %s", strerror(-err));
		return err;
	}
	clear_ids(g);
	err = add_ids(g, p->skel->skeleton);
	if (!err)
		err = add_ids(g, g->skel->skeleton);
	if (err)
		snprintf(why, len,
			 "guard: recording keel's map and link ids: %s (guard_ids holds 256)",
			 strerror(-err));
	return err;
}

int exec_pins_prepare(struct keel_subsys *s, struct bpf_object *obj, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	int err;

	err = keel_pins_open(&p->pins, s, KEEL_PINS_REUSE, why, len);
	if (err)
		return err;
	err = keel_pins_reuse_maps(&p->pins, obj, why, len);
	if (err == -EPERM)
		snprintf(
			why, len,
			"reusing the pins in %s: refused by keel's guard: the pins belong to a keeld run from another executable; run that keeld and switch to audit, or reboot (docs/exec.md, \"Across restarts\")",
			p->pins.dir);
	return err;
}

int exec_guard_start(struct keel_subsys *s, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	struct exec_guard *g = &p->guard;
	struct bpf_object_skeleton *skels[2];
	int err;

	g->skel = guard_bpf__open();
	if (!g->skel) {
		err = -errno;
		snprintf(why, len, "opening the guard BPF object: %s", strerror(-err));
		return err;
	}
	/* exec_state is exec's: pinned by exec's load, reused here */
	err = exec_pins_prepare(s, g->skel->obj, why, len);
	if (err)
		return err;
	err = guard_bpf__load(g->skel);
	if (err) {
		snprintf(why, len,
			 "loading the guard BPF object: %s (%s); run keeld -v for the verifier log",
			 strerror(-err), keel_errno_name(err));
		return err;
	}
	err = guard_bpf__attach(g->skel);
	if (err) {
		snprintf(why, len, "attaching the guard LSM programs: %s (%s)", strerror(-err),
			 keel_errno_name(err));
		return err;
	}
	skels[0] = p->skel->skeleton;
	skels[1] = g->skel->skeleton;
	err = keel_pins_links(&p->pins, skels, 2, why, len);
	if (err)
		return err;
	err = configure(s, why, len);
	if (err)
		return err;
	g->rb = (struct keel_ringbuf){ .subsystem = "exec",
				       .drop_event = "exec.guard_dropped",
				       .read_dropped = read_dropped };
	return keel_ringbuf_open(&g->rb, s->d, g->skel->maps.guard_events, on_record, s, why, len);
}

/* An upgrade installed while keeld ran: the file now at keeld's path. */
static void record_successor(struct exec_priv *p)
{
	struct exec_guard *g = &p->guard;
	struct keel_guard_conf conf;
	char exe[PATH_MAX], *del;
	__u32 zero = 0;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	del = strstr(exe, " (deleted)");
	if (del && !del[10])
		*del = '\0';
	if (bpf_map__lookup_elem(g->skel->maps.guard_conf, &zero, sizeof(zero), &conf, sizeof(conf),
				 0) ||
	    ident_of(p, exe, 0, &conf.exe[1]))
		return;
	bpf_map__update_elem(g->skel->maps.guard_conf, &zero, sizeof(zero), &conf, sizeof(conf),
			     BPF_ANY);
}

bool exec_guard_stop(struct keel_subsys *s)
{
	struct exec_priv *p = s->priv;
	struct exec_guard *g = &p->guard;
	bool keep = p->skel && p->mode == KEEL_EXEC_MODE_ENFORCE && p->pins.made;

	keel_ringbuf_close(&g->rb);
	if (keep && g->skel) {
		struct keel_exec_state st = { .mode = p->mode, .flags = exec_state_flags(p) };
		__u32 zero = 0;

		record_successor(p);
		/* nobody's opens fill exec_ident until the next keeld */
		bpf_map__update_elem(p->skel->maps.exec_state, &zero, sizeof(zero), &st, sizeof(st),
				     BPF_ANY);
		pr_info("exec: stopping in enforce mode: the pinned programs under %s keep enforcing",
			p->pins.dir);
	}
	guard_bpf__destroy(g->skel);
	memset(g, 0, sizeof(*g));
	return keep;
}

void exec_guard_counters(struct keel_subsys *s, json_t *out)
{
	struct exec_priv *p = s->priv;
	struct exec_guard *g = &p->guard;
	struct keel_guard_stats sum;

	if (!g->skel || keel_percpu_sum(g->skel->maps.guard_stats, 0, &sum, sizeof(sum)))
		return;
	json_object_set_new(out, "guard_refused", json_integer((json_int_t)sum.denied));
	json_object_set_new(out, "guard_audited", json_integer((json_int_t)sum.audited));
	json_object_set_new(out, "guard_dropped", json_integer((json_int_t)sum.dropped));
}
