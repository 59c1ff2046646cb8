/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Ownership of a virtual disk between hosts (docs/vdisk.md, "Ownership
 * handoff").  Three parts:
 *
 *   owner_record.c  the owner record beside the disk: DISK.owner/, one file
 *                   per generation; claiming generation N+1 is a link() that
 *                   only one requester can win.
 *   owner_auth.c    release requests and answers signed with HMAC-SHA256 of
 *                   a per-cluster key, a nonce and a time; replays refused.
 *   owner_server.c  what a disk server runs (with owner_acquire.c,
 *                   owner_release.c and owner_lease.c, sharing owner_srv.h):
 *                   the release listener, the lease renewer, acquire (read
 *                   owner, ask it to release, claim generation + 1, open),
 *                   release, and the write gate that fences an owner which
 *                   lost or could not renew its lease.
 */
#ifndef KEEL_VDISK_OWNER_H
#define KEEL_VDISK_OWNER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/vdisk.h"

#define KEEL_OWNER_HOST_MAX   64   /* bytes of a host id, NUL included */
#define KEEL_OWNER_ADDR_MAX   128  /* "tcp:ADDR:PORT" or "unix:PATH" */
#define KEEL_OWNER_RECORD_MAX 4096 /* bytes of one record file */
#define KEEL_OWNER_KEEP	      8	   /* generations kept in DISK.owner/ */

/* Defaults (docs/vdisk.md): a dead owner's disk is taken after ~10 s. */
#define KEEL_OWNER_LEASE_MS  10000
#define KEEL_OWNER_RENEW_MS  2000
#define KEEL_OWNER_ANSWER_MS 3000  /* wait for a release answer */
#define KEEL_OWNER_SKEW_MS   30000 /* a request's time may be this far off */

struct keel_owner_rec {
	uint64_t generation; /* 1 for the first owner, +1 at each change */
	uint64_t renewals;   /* bumped by every renewal: the delta lease */
	char host[KEEL_OWNER_HOST_MAX];
	char addr[KEEL_OWNER_ADDR_MAX]; /* where its release listener is */
	int64_t expires_ms;		/* wall clock, ms since the epoch (for people) */
	uint32_t lease_ms;		/* how long a silent owner keeps the disk */
	bool released;			/* the owner let go: anyone may claim N+1 */
	int pid;
};

/* owner_record.c */
int keel_owner_dir(const char *disk, char *ret, size_t len);
/*
 * The current record (the highest generation) of @disk.  -ENOENT: nobody
 * ever owned it.  -EBADMSG: the record does not parse; @err names the file
 * and the field.
 */
int keel_owner_read(const char *disk, struct keel_owner_rec *ret, char *err, size_t errlen);
/*
 * Become the owner: write @rec as generation @rec->generation, which must
 * be the current generation + 1 (0 when there is none).  Exactly one of
 * several racing claims of one generation succeeds; the others get -EEXIST
 * (or -ESTALE when the owner changed since they read it) and change nothing.
 */
int keel_owner_claim(const char *disk, const struct keel_owner_rec *rec, char *err, size_t errlen);
/*
 * Rewrite the owner's own record (renewal, release).  -ESTALE when a later
 * generation exists: someone took the disk over and the caller is fenced.
 */
int keel_owner_update(const char *disk, const struct keel_owner_rec *rec, char *err, size_t errlen);
int keel_owner_parse(const char *text, size_t len, const char *file, struct keel_owner_rec *ret,
		     char *err, size_t errlen);
json_t *keel_owner_json(const struct keel_owner_rec *r);
/* "DISK.owner/GGGG.rec": the file a claim of @generation creates. */
int keel_owner_path(const char *disk, uint64_t generation, char *ret, size_t len);
/* The host id: $KEEL_HOST_ID, else /etc/machine-id. */
int keel_owner_host_id(char *ret, size_t len);

/* owner_auth.c: the per-cluster key and signed messages */
struct keel_owner_key;
int keel_owner_key_load(const char *path, struct keel_owner_key **ret, char *err, size_t errlen);
void keel_owner_key_free(struct keel_owner_key *k);
/* Add "nonce", "time" and "mac" to @msg (a JSON object). */
int keel_owner_sign(const struct keel_owner_key *k, json_t *msg);
int keel_owner_sign_at(const struct keel_owner_key *k, json_t *msg, int64_t time_ms);
/* Check @msg's mac and time; -EBADMSG/-EKEYREJECTED/-ETIME with a reason. */
int keel_owner_verify(const struct keel_owner_key *k, json_t *msg, char *why, size_t whylen);
/* Replay cache: -EALREADY when @nonce was seen within the skew window. */
struct keel_owner_nonces;
struct keel_owner_nonces *keel_owner_nonces_new(void);
void keel_owner_nonces_free(struct keel_owner_nonces *n);
int keel_owner_nonce_seen(struct keel_owner_nonces *n, const char *nonce, int64_t now_ms);
int64_t keel_owner_now_ms(void);  /* CLOCK_REALTIME */
int64_t keel_owner_mono_ms(void); /* CLOCK_MONOTONIC */
/* One signed request to @addr, one answer back (verified), within @timeout_ms. */
int keel_owner_call(const struct keel_owner_key *k, const char *addr, json_t *req,
		    unsigned int timeout_ms, json_t **ret, char *err, size_t errlen);

/* owner_server.c: the disk server's side */
struct keel_owner_srv;
struct keel_owner_srv_conf {
	const char *disk;   /* absolute path */
	const char *host;   /* NULL: keel_owner_host_id() */
	const char *listen; /* "tcp:ADDR:PORT" or "unix:PATH" */
	const char *key_file;
	const char *control; /* local control socket (mode 0600) */
	unsigned int lease_ms, renew_ms, answer_ms;
	bool standby; /* do not acquire at start */
	keel_vdisk_event_fn event;
	void *ctx;
	/* the disk server's part: open the disk, and close it (in-flight I/O
	 * done, every filter flushed); busy: NBD clients are connected */
	int (*open)(void *ctx, char *err, size_t errlen);
	int (*close)(void *ctx, char *err, size_t errlen);
	int (*busy)(void *ctx);
};
int keel_owner_srv_start(const struct keel_owner_srv_conf *c, struct keel_owner_srv **ret,
			 char *err, size_t errlen);
void keel_owner_srv_stop(struct keel_owner_srv *s); /* NULL ok */
int keel_owner_srv_acquire(struct keel_owner_srv *s, char *err, size_t errlen);
/*
 * Let the disk go while owning it: finish the admitted I/O, flush, close,
 * mark the record released (another host may claim it at once).  0 when not
 * the owner.
 */
int keel_owner_srv_release(struct keel_owner_srv *s, char *err, size_t errlen);
/*
 * Before every read and write reaches the disk: 0, or -EPERM when this
 * server does not hold a valid lease (fenced, released, taken over).
 */
int keel_owner_srv_gate(struct keel_owner_srv *s);
/* Standby and not fenced: released cleanly (or never owned). */
bool keel_owner_srv_clean(struct keel_owner_srv *s);
json_t *keel_owner_srv_status(struct keel_owner_srv *s);
/*
 * A failed acquire's error as a word for people and scripts: busy (the
 * owner refused: clients connected, not migrating), lost (another host
 * became the owner first), unreachable (the owner renews its lease but does
 * not answer), forged, replayed, malformed (a request or answer refused),
 * again, failed.
 */
const char *keel_owner_code(int err);
/* keel-vdisk's side: one JSON request to a server's control socket. */
int keel_owner_ctl_call(const char *path, json_t *req, int timeout_ms, json_t **ret, char *err,
			size_t errlen);

#endif /* KEEL_VDISK_OWNER_H */
