/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keeld's vdisk subsystem, shared by its files: subsys.c (the disk table,
 * the disk servers it runs and watches), subsys_cmd.c (keelctl vdisk ...).
 */
#ifndef KEEL_VDISK_SUBSYS_H
#define KEEL_VDISK_SUBSYS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "keeld/subsys.h"
#include "vdisk/subsys_config.h"

#define VD_LINE_MAX 65536 /* one line a disk server writes on stderr */

enum vd_state {
	VD_STARTING, /* spawned, not yet serving */
	VD_SERVING,
	VD_STOPPING, /* SIGTERM sent by close */
	VD_FAILED,   /* exited and not restarted: reason says why */
};

struct vd_disk {
	struct vd_priv *p;
	struct vd_disk *next;
	char path[PATH_MAX];
	char socket[PATH_MAX]; /* NBD Unix socket, "" with tcp */
	char tcp[128];	       /* [ADDR:]PORT, or "" */
	char channel[PATH_MAX];
	bool readonly;
	enum vd_state state;
	pid_t pid;
	struct keel_watch exit_w; /* the server's pidfd */
	struct keel_watch err_w;  /* its stderr: events and nbdkit messages */
	struct keel_watch stop_w; /* close's timeout (timerfd) */
	char *line;		  /* partial stderr line */
	size_t line_len;
	char last_error[512]; /* the last non-event line it wrote */
	char reason[768];     /* why it failed */
	json_t *filters;      /* from its vdisk.open line */
	uint64_t size;
	unsigned int restarts;
	time_t since; /* when it started serving */
	/* ownership (subsys_owner.c); only with [vdisk] owner_addr */
	int slot;		  /* release listener on owner_port + slot */
	bool standby;		  /* (re)start without acquiring the disk */
	char owner_ctl[PATH_MAX]; /* the server's control socket */
	char owner_state[16];	  /* from its events: standby, owner, fenced */
	uint64_t generation;
	struct vd_owner_op *op; /* the last handoff/release/migrating */
};

struct vd_priv {
	struct keel_subsys *s;
	char server[PATH_MAX];
	struct vd_disk *disks;
	unsigned int n_disks;
	uint64_t opens, closes, crashes, restarts, refused, creates;
	uint64_t events_forwarded, events_suppressed;
	time_t ev_sec; /* forwarded events: this second's count */
	unsigned int ev_count;
	bool owner; /* [vdisk] owner_addr is set */
	char host_id[64];
	uint64_t op_seq, handoffs, handoffs_failed;
};

static inline const struct vdisk_config *vd_cfg(const struct vd_priv *p)
{
	return p->s->config;
}

const char *vd_state_name(enum vd_state s);
struct vd_disk *vd_find(struct vd_priv *p, const char *path);
/* Start serving @d (filled: path, socket or tcp, readonly); -errno and @why. */
int vd_spawn(struct vd_disk *d, char *why, size_t len);
/* Add @d to the table and start it; on failure @d is freed. */
int vd_open(struct vd_priv *p, struct vd_disk *d, char *why, size_t len);
/* SIGTERM the server, kill it after stop_timeout_ms. */
void vd_close(struct vd_disk *d);
/* Forget a failed disk. */
void vd_remove(struct vd_disk *d);
json_t *vd_disk_json(const struct vd_disk *d);
/* Is @path (absolute, resolved) under [vdisk] dirs? */
bool vd_path_allowed(const struct vd_priv *p, const char *path);

/* subsys_owner.c: ownership as keeld sees it */
int vd_owner_check_config(struct vd_priv *p, char *why, size_t len);
/* argv of `keel-vdisk serve` for ownership; @buf holds the strings */
int vd_owner_args(struct vd_disk *d, const char **argv, int n, char buf[][PATH_MAX + 32]);
int vd_owner_slot(struct vd_priv *p);
/* the server's ownership events: keeld's idea of its state */
void vd_owner_event(struct vd_disk *d, const char *type, json_t *o);
/* handoff, release, migrating: sent to the server's control socket, answered later */
json_t *vd_owner_start_op(struct vd_disk *d, const char *op, bool on, char *why, size_t len);
json_t *vd_owner_json(struct vd_disk *d, const char *path);
void vd_owner_free(struct vd_disk *d);

/* subsys_params.c: create's per-filter parameters ("params" of the request) */
int vd_params_check(struct vd_priv *p, const char *disk, json_t *params, const char *const *names,
		    unsigned int n, bool *ret_key_given, char *why, size_t len);
/* [filter.@fname] with its parameters (and @key_file first, if not NULL) */
void vd_params_write(FILE *f, json_t *params, const char *fname, const char *key_file);

json_t *vd_command(struct keel_subsys *s, const char *verb, json_t *req, bool privileged, char *why,
		   size_t len);

#endif /* KEEL_VDISK_SUBSYS_H */
