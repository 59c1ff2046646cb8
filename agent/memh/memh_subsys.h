/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The memh subsystem's own parts, shared by its files:
 *   memh_subsys.c  the frame's ops: open, start, stop, counters
 *   memh_server.c  the socket: clients, their greeting, requests, replies, events
 *   memh_pool.c    the worker threads that read into the handles, a slice at
 *                  a time, and the loop's side that answers what they finished
 *   memh_policy.c  what may be read: [memh] allowed_dirs, confined by openat2
 */
#ifndef KEEL_MEMH_SUBSYS_H
#define KEEL_MEMH_SUBSYS_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "common/outq.h"
#include "keel/memh.h"
#include "keeld/subsys.h"
#include "memh/memh_config.h"

#define REQ_MAX	     8192	 /* one request line, path included */
#define REPLY_QUEUE  65536	 /* replies a client has not read yet */
#define SLICE	     (4UL << 20) /* bytes a worker reads before another client's turn */
#define MAX_DIRS     16
#define EVENTS_PER_S 50 /* memh events of one kind; the rest are counted */
#define EV_ERROR     0
#define EV_CONN	     1

struct mreq {
	struct mreq *next;
	struct mclient *c;
	uint64_t id;
	uint64_t file_off, len, handle_off, done;
	int dir; /* index in allowed dirs */
	int fd;	 /* opened by the worker */
	int err;
	char rel[PATH_MAX];  /* path below the allowed dir */
	char path[PATH_MAX]; /* as the client gave it */
};

struct mclient {
	struct keel_watch watch;
	struct memh_priv *p;
	struct keel_memh *h; /* NULL until the greeting */
	struct keel_outq q;
	struct ucred peer;
	char in[REQ_MAX];
	size_t in_len;
	unsigned int inflight; /* accepted, not yet answered (loop only) */
	bool close_when_flushed;
	struct mclient *next; /* all clients (loop only) */
	/* under memh_priv.lock: */
	struct mreq *pend, *pend_tail;
	bool queued; /* in the ready list or on a worker */
	bool closed;
	struct mclient *ready_next;
};

struct allowed_dir {
	char name[PATH_MAX]; /* as configured, without trailing slashes */
	char real[PATH_MAX]; /* its realpath */
	int fd;		     /* O_PATH: openat2 resolves beneath it */
};

/* The [memh] section (keeld/config.h keeps it; memh_config.c declares it). */
static inline const struct memh_config *memh_cfg(const struct keel_subsys *s)
{
	return s->config;
}

struct memh_priv {
	struct keel_subsys *s;
	struct keel_watch listen;
	struct keel_watch done_w; /* eventfd: workers finished requests */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool module_mode;
	struct allowed_dir dirs[MAX_DIRS];
	int n_dirs;
	struct mclient *clients;
	unsigned int n_clients;
	pthread_t threads[64];
	unsigned int n_threads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool lock_ready;
	/* under lock: */
	bool stopping;
	struct mclient *ready, *ready_tail;
	struct mreq *done, *done_tail;
	/* counters (loop only) */
	uint64_t connects, refused_clients, handles_module, handles_fallback;
	uint64_t requests, reads_ok, bytes, errors, cancelled, refused_limit;
	uint64_t events_suppressed;
	time_t ev_sec[2]; /* per kind: EV_ERROR, EV_CONN */
	unsigned int ev_count[2];
};

/* memh_server.c */
void memh_emit(struct memh_priv *p, int kind, const char *type, json_t *fields);
void memh_send_line(struct mclient *c, json_t *o);
void memh_reply_error(struct mclient *c, json_t *id, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void memh_client_free(struct mclient *c);
void memh_client_close(struct mclient *c, const char *why);
int memh_listen(struct memh_priv *p, char *why, size_t len);

/* memh_pool.c */
void memh_pool_submit(struct memh_priv *p, struct mreq *r);
int memh_pool_start(struct memh_priv *p, char *why, size_t len);
void memh_pool_stop(struct memh_priv *p);
void memh_on_done(struct keel_watch *w, uint32_t events);

/* memh_policy.c */
int memh_check_openat2(char *why, size_t len);
int memh_parse_dirs(struct memh_priv *p, char *why, size_t len);
int memh_match_dir(struct memh_priv *p, const char *path, const char **ret_rel);
int memh_open_beneath(struct memh_priv *p, struct mreq *r);

#endif /* KEEL_MEMH_SUBSYS_H */
