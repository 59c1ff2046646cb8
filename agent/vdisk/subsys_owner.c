// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ownership of keeld's disks between hosts (docs/vdisk.md, "Ownership in
 * keeld").  With [vdisk] owner_addr set, every disk server keeld starts
 * takes part in the ownership protocol (agent/vdisk/owner_*.c): it listens
 * for signed release requests on owner_addr:owner_port + its slot, and
 * acquires the disk at start unless opened as a standby.
 *
 * keeld's single thread never waits for another host: a handoff can wait
 * out a dead owner's lease.  So keelctl vdisk handoff|release|migrating
 * only sends the request to the server's control socket and returns; the
 * answer arrives on that socket later (a watch in keeld's loop) and is kept
 * as the disk's last operation, which keelctl polls with vdisk.owner.
 * keeld's idea of the server's state comes from the server's own events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vdisk/owner.h"
#include "vdisk/subsys.h"

#define OP_ANSWER_MAX 65536 /* one answer line from a server's control socket */

enum { OP_RUNNING, OP_OK, OP_FAILED };
static const char *const op_states[] = { "running", "ok", "failed" };

struct vd_owner_op {
	struct vd_disk *d;
	struct keel_watch w;
	uint64_t seq;
	char name[16]; /* handoff, release, migrating */
	int state;
	char code[24];
	char error[1024];
	time_t started;
	size_t len;
	char buf[OP_ANSWER_MAX];
};

int vd_owner_check_config(struct vd_priv *p, char *why, size_t len)
{
	const struct vdisk_config *c = vd_cfg(p);
	struct keel_owner_key *k = NULL;
	struct in_addr a;
	char err[PATH_MAX + 256];
	int r;

	p->owner = c->owner_addr[0] != '\0';
	if (!p->owner)
		return 0;
	if (inet_pton(AF_INET, c->owner_addr, &a) != 1) {
		snprintf(why, len, "[vdisk] owner_addr \"%s\": not an IPv4 address", c->owner_addr);
		return -EINVAL;
	}
	if (c->owner_port + c->max_disks - 1 > 65535) {
		snprintf(why, len, "[vdisk] owner_port %u + max_disks %u: ports past 65535",
			 c->owner_port, c->max_disks);
		return -EINVAL;
	}
	if (c->renew_ms * 3 > c->lease_ms) {
		snprintf(
			why, len,
			"[vdisk] renew_ms %u: at most a third of lease_ms %u (an owner must renew at least 3 times per lease)",
			c->renew_ms, c->lease_ms);
		return -EINVAL;
	}
	if (c->cluster_key[0] != '/') {
		snprintf(why, len, "[vdisk] cluster_key \"%s\": not an absolute path",
			 c->cluster_key);
		return -EINVAL;
	}
	/* the servers load it again; checking here fails keeld's start, not every open */
	r = keel_owner_key_load(c->cluster_key, &k, err, sizeof(err));
	keel_owner_key_free(k);
	if (r) {
		snprintf(why, len, "[vdisk] cluster_key: %s", err);
		return r;
	}
	if (c->host_id[0]) {
		snprintf(p->host_id, sizeof(p->host_id), "%s", c->host_id);
	} else if ((r = keel_owner_host_id(p->host_id, sizeof(p->host_id)))) {
		snprintf(why, len,
			 "no host id for disk ownership: /etc/machine-id: %s (set [vdisk] host_id)",
			 strerror(-r));
		return r;
	}
	return 0;
}

int vd_owner_slot(struct vd_priv *p)
{
	for (int i = 0; i < (int)vd_cfg(p)->max_disks; i++) {
		bool used = false;

		for (struct vd_disk *d = p->disks; d && !used; d = d->next)
			used = d->state != VD_FAILED && d->slot == i;
		if (!used)
			return i;
	}
	return -1;
}

int vd_owner_args(struct vd_disk *d, const char **argv, int n, char buf[][PATH_MAX + 32])
{
	const struct vdisk_config *c = vd_cfg(d->p);

	if (!d->p->owner)
		return n;
	snprintf(buf[0], PATH_MAX + 32, "tcp:%s:%u", c->owner_addr, c->owner_port + d->slot);
	snprintf(buf[1], PATH_MAX + 32, "%u", c->lease_ms);
	snprintf(buf[2], PATH_MAX + 32, "%u", c->renew_ms);
	argv[n++] = "--owner-listen";
	argv[n++] = buf[0];
	argv[n++] = "--cluster-key";
	argv[n++] = c->cluster_key;
	argv[n++] = "--host-id";
	argv[n++] = d->p->host_id;
	argv[n++] = "--lease-ms";
	argv[n++] = buf[1];
	argv[n++] = "--renew-ms";
	argv[n++] = buf[2];
	if (d->standby)
		argv[n++] = "--standby";
	return n;
}

void vd_owner_event(struct vd_disk *d, const char *type, json_t *o)
{
	const char *st = NULL;
	json_t *gen = json_object_get(o, "generation");

	if (!strcmp(type, "vdisk.owner_server")) {
		st = json_string_value(json_object_get(json_object_get(o, "status"), "state"));
		gen = json_object_get(json_object_get(o, "status"), "generation");
	} else if (!strcmp(type, "vdisk.acquired") || !strcmp(type, "vdisk.takeover")) {
		st = "owner";
		d->standby = false; /* a restart acquires again */
	} else if (!strcmp(type, "vdisk.released")) {
		st = "standby";
		d->standby = true;
	} else if (!strcmp(type, "vdisk.fenced")) {
		st = "fenced";
		d->standby = true;
	}
	if (!st)
		return;
	snprintf(d->owner_state, sizeof(d->owner_state), "%s", st);
	if (json_is_integer(gen))
		d->generation = (uint64_t)json_integer_value(gen);
}

static void op_end(struct vd_owner_op *op)
{
	if (op->w.fd >= 0) {
		keel_watch_del(op->d->p->s->d, &op->w);
		close(op->w.fd);
		op->w.fd = -1;
	}
}

static void op_done(struct vd_owner_op *op, json_t *ans)
{
	struct vd_disk *d = op->d;
	json_t *st = json_object_get(ans, "status");

	op_end(op);
	if (json_is_true(json_object_get(ans, "ok"))) {
		op->state = OP_OK;
	} else {
		op->state = OP_FAILED;
		snprintf(op->code, sizeof(op->code), "%s",
			 json_string_value(json_object_get(ans, "code")) ?: "failed");
		snprintf(op->error, sizeof(op->error), "%s",
			 json_string_value(json_object_get(ans, "error")) ?: "no reason given");
	}
	if (json_is_string(json_object_get(st, "state"))) {
		snprintf(d->owner_state, sizeof(d->owner_state), "%s",
			 json_string_value(json_object_get(st, "state")));
		d->generation = (uint64_t)json_integer_value(json_object_get(st, "generation"));
		d->standby = strcmp(d->owner_state, "owner") != 0;
	}
	if (!strcmp(op->name, "handoff")) {
		if (op->state == OP_OK) {
			d->p->handoffs++;
		} else {
			d->p->handoffs_failed++;
			keel_emit(d->p->s->d, "vdisk", "vdisk.handoff_failed",
				  json_pack("{s:s, s:s, s:s}", "path", d->path, "code", op->code,
					    "error", op->error));
		}
	}
}

static void on_answer(struct keel_watch *w, uint32_t events)
{
	struct vd_owner_op *op = w->data;
	json_t *ans;
	char *nl;
	ssize_t n;

	(void)events;
	n = recv(w->fd, op->buf + op->len, sizeof(op->buf) - 1 - op->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		op->len += (size_t)n;
	op->buf[op->len] = '\0';
	nl = memchr(op->buf, '\n', op->len);
	if (!nl && n > 0 && op->len < sizeof(op->buf) - 1)
		return;
	ans = nl ? json_loadb(op->buf, (size_t)(nl - op->buf), 0, NULL) : NULL;
	if (!ans) {
		op_end(op);
		op->state = OP_FAILED;
		snprintf(op->code, sizeof(op->code), "failed");
		snprintf(op->error, sizeof(op->error), "%.300s: its disk server %s", op->d->path,
			 nl ? "answered something that is not JSON" :
			      "closed its control socket without answering (did it exit?)");
		return;
	}
	op_done(op, ans);
	json_decref(ans);
}

json_t *vd_owner_start_op(struct vd_disk *d, const char *name, bool on, char *why, size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vd_owner_op *op = d->op;
	json_t *req;
	char *line;
	int fd, r;

	if (!d->p->owner) {
		snprintf(
			why, len,
			"ownership is off on this host: set [vdisk] owner_addr (and cluster_key) in keel.conf");
		return NULL;
	}
	if (d->state != VD_SERVING) {
		snprintf(why, len, "%.300s is %s: its disk server does not run", d->path,
			 vd_state_name(d->state));
		return NULL;
	}
	if (op && op->state == OP_RUNNING) {
		snprintf(why, len,
			 "busy: a %s of %.300s is already under way here (started %ld s ago)",
			 op->name, d->path, (long)(time(NULL) - op->started));
		return NULL;
	}
	if (!op) {
		op = calloc(1, sizeof(*op));
		if (!op) {
			snprintf(why, len, "out of memory");
			return NULL;
		}
		op->w.fd = -1;
		op->d = d;
		d->op = op;
	}
	if (strlen(d->owner_ctl) >= sizeof(a.sun_path)) {
		snprintf(why, len, "%.300s: control socket path too long ([vdisk] run_dir)",
			 d->path);
		return NULL;
	}
	memcpy(a.sun_path, d->owner_ctl, strlen(d->owner_ctl) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		r = errno;
		snprintf(why, len, "%.300s: its disk server's control socket %.200s: %s", d->path,
			 d->owner_ctl, strerror(r));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	req = !strcmp(name, "handoff") ? json_pack("{s:s}", "op", "acquire") :
	      !strcmp(name, "release") ? json_pack("{s:s}", "op", "release") :
					 json_pack("{s:s, s:b}", "op", "migrating", "on", on);
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	/* a few dozen bytes into an empty local socket: the write does not block */
	r = line && dprintf(fd, "%s\n", line) > 0 ? 0 : -EIO;
	free(line);
	op->w = (struct keel_watch){ .fd = fd, .cb = on_answer, .data = op };
	if (r || keel_watch_add(d->p->s->d, &op->w, EPOLLIN)) {
		close(fd);
		op->w.fd = -1;
		snprintf(why, len, "%.300s: sending the request to its disk server failed",
			 d->path);
		return NULL;
	}
	op->seq = ++d->p->op_seq;
	snprintf(op->name, sizeof(op->name), "%s", name);
	op->state = OP_RUNNING;
	op->code[0] = op->error[0] = '\0';
	op->started = time(NULL);
	op->len = 0;
	return json_pack("{s:s, s:s, s:I, s:s}", "path", d->path, "op", name, "seq",
			 (json_int_t)op->seq, "state", "running");
}

json_t *vd_owner_json(struct vd_disk *d, const char *path)
{
	const struct vdisk_config *c;
	struct keel_owner_rec rec;
	char err[PATH_MAX + 512];
	json_t *o = json_pack("{s:s}", "path", path);
	int r = keel_owner_read(path, &rec, err, sizeof(err));

	if (!r)
		json_object_set_new(o, "record", keel_owner_json(&rec));
	else if (r != -ENOENT)
		json_object_set_new(o, "record_error", json_string(err));
	if (!d)
		return o;
	c = vd_cfg(d->p);
	json_object_set_new(o, "ownership", json_boolean(d->p->owner));
	if (!d->p->owner)
		return o;
	json_object_set_new(o, "server",
			    json_pack("{s:s, s:I, s:s, s:s, s:i, s:i, s:b}", "state",
				      d->owner_state[0] ? d->owner_state : "starting", "generation",
				      (json_int_t)d->generation, "host", d->p->host_id, "addr", "",
				      "lease_ms", (int)c->lease_ms, "renew_ms", (int)c->renew_ms,
				      "standby", d->standby));
	json_object_set_new(json_object_get(o, "server"), "addr",
			    json_sprintf("tcp:%s:%u", c->owner_addr, c->owner_port + d->slot));
	if (d->op) {
		json_t *op = json_pack("{s:I, s:s, s:s, s:I}", "seq", (json_int_t)d->op->seq, "op",
				       d->op->name, "state", op_states[d->op->state], "started",
				       (json_int_t)d->op->started);

		if (d->op->state == OP_FAILED) {
			json_object_set_new(op, "code", json_string(d->op->code));
			json_object_set_new(op, "error", json_string(d->op->error));
		}
		json_object_set_new(o, "last_op", op);
	}
	return o;
}

void vd_owner_free(struct vd_disk *d)
{
	if (!d->op)
		return;
	op_end(d->op);
	free(d->op);
	d->op = NULL;
}
