// SPDX-License-Identifier: GPL-2.0-only
/*
 * Trusting one file, race-free.  keeld learns the file's inode identity
 * and change stamp from the kernel itself (its own open is recorded by
 * the file_open hook in exec_ident), so the key is exactly the one the
 * hooks compute.  The order closes every window:
 *
 *   1. open, read the identity; refuse when someone has it open for writing;
 *   2. put a PENDING entry in exec_trusted: from now on any open for
 *      writing, setattr, rename... removes it (and a PENDING entry never
 *      lets anything run);
 *   3. open again: same stamp and still no writer, else refuse (a writer
 *      that opened between 1 and 2);
 *   4. hash; the entry must still be there (nothing changed while hashing)
 *      and the digest must be the one expected;
 *   5. write the store, then clear PENDING with BPF_EXIST, which fails if
 *      a taint removed the entry in between.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "exec/exec_priv.h"
#include "exec/hash.h"

int exec_probe(struct exec_priv *p, const char *path, int *ret_fd, struct keel_exec_ident *id)
{
	__u32 tid = (__u32)gettid();
	struct stat st;
	int fd, err;

	bpf_map__delete_elem(p->skel->maps.exec_ident, &tid, sizeof(tid), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto close;
	}
	err = bpf_map__lookup_elem(p->skel->maps.exec_ident, &tid, sizeof(tid), id, sizeof(*id), 0);
	if (err)
		goto close;
	if (id->key.ino != (__u64)st.st_ino) {
		err = -ESTALE;
		goto close;
	}
	*ret_fd = fd;
	return 0;
close:
	close(fd);
	return err;
}

void exec_fs_uuid_hex(const struct keel_exec_ident *id, char *out)
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id->fs_uuid[i]);
}

/* Is @id on the file system @rec was trusted on?  Unknown (an old row): yes. */
static bool same_fs(const struct keel_trust_rec *rec, const struct keel_exec_ident *id)
{
	char hex[33];

	if (!rec->fs_uuid[0])
		return true;
	exec_fs_uuid_hex(id, hex);
	return !strcmp(hex, rec->fs_uuid);
}

static bool same_stamp(const struct keel_exec_ident *a, const struct keel_exec_ident *b)
{
	return !memcmp(&a->key, &b->key, sizeof(a->key)) && a->ctime_sec == b->ctime_sec &&
	       a->ctime_nsec == b->ctime_nsec && a->i_version == b->i_version;
}

int exec_file_meta(int fd, struct keel_trust_meta *ret)
{
	unsigned char cap[64];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st))
		return -errno;
	memset(ret, 0, sizeof(*ret));
	n = fgetxattr(fd, "security.capability", cap, sizeof(cap));
	if (n < 0 && errno != ENODATA && errno != ENOTSUP)
		return -errno;
	for (ssize_t i = 0; i < n; i++)
		snprintf(ret->caps + 2 * i, sizeof(ret->caps) - 2 * i, "%02x", cap[i]);
	ret->mode = st.st_mode;
	ret->uid = st.st_uid;
	ret->gid = st.st_gid;
	ret->known = true;
	return 0;
}

bool exec_meta_differs(const struct keel_trust_meta *a, const struct keel_trust_meta *b, char *why,
		       size_t len)
{
	if (!a->known || !b->known)
		return false;
	if (a->mode != b->mode)
		snprintf(why, len, "mode is %o, recorded %o", b->mode, a->mode);
	else if (a->uid != b->uid || a->gid != b->gid)
		snprintf(why, len, "owner is %u:%u, recorded %u:%u", b->uid, b->gid, a->uid,
			 a->gid);
	else if (strcmp(a->caps, b->caps))
		snprintf(why, len, "file capabilities are '%s', recorded '%s'", b->caps, a->caps);
	else
		return false;
	return true;
}

const char *exec_probe_error(int err)
{
	switch (err) {
	case -EINVAL:
		return "not a regular file";
	case -ENOENT:
		return "no such file";
	case -ESTALE:
		return "the file was replaced while it was opened; retry";
	default:
		return strerror(-err);
	}
}

int exec_trust_file(struct keel_subsys *s, const char *path, const char *expect_sha,
		    const struct keel_trust_meta *expect_meta, const char *source,
		    struct keel_trust_rec *ret, char *why, size_t len)
{
	char diff[256];
	struct exec_priv *p = s->priv;
	struct keel_exec_ident id1, id2;
	struct keel_exec_trust v = { 0 };
	struct keel_trust_rec *rec = ret, old;
	char canon[PATH_MAX];
	int fd = -1, fd2, err;
	bool entered = false;

	if (!realpath(path, canon)) {
		err = -errno;
		snprintf(why, len, "resolving %s: %s", path, strerror(-err));
		return err;
	}
	err = exec_probe(p, canon, &fd, &id1);
	if (err) {
		snprintf(why, len, "opening %s: %s", canon, exec_probe_error(err));
		return err;
	}
	if (exec_fs_unstable(p, id1.fs_type.name)) {
		err = -EMEDIUMTYPE;
		snprintf(
			why, len,
			"%s is on a file system of type %s, one of [exec] unstable_fs: its content can change "
			"without keel seeing it; not trusted (if it cannot, add %s to [exec] "
			"allow_unstable_fs)",
			canon, id1.fs_type.name, id1.fs_type.name);
		goto fail;
	}
	if (id1.writecount > 0) {
		err = -ETXTBSY;
		snprintf(
			why, len,
			"%s is open for writing by a process (see fuser -v %s); close it and retry",
			canon, canon);
		goto fail;
	}
	v.ctime_sec = id1.ctime_sec;
	v.ctime_nsec = id1.ctime_nsec;
	v.i_version = id1.i_version;
	v.flags = KEEL_TRUST_PENDING;
	err = bpf_map__update_elem(p->skel->maps.exec_trusted, &id1.key, sizeof(id1.key), &v,
				   sizeof(v), BPF_ANY);
	if (err) {
		snprintf(why, len, "adding %s to the kernel's trusted map: %s%s", canon,
			 strerror(-err),
			 err == -E2BIG ? "; the map is full: raise [exec] max_trusted" : "");
		goto fail;
	}
	entered = true;
	err = exec_probe(p, canon, &fd2, &id2);
	if (err) {
		snprintf(why, len, "opening %s again: %s", canon, exec_probe_error(err));
		goto fail;
	}
	close(fd2);
	if (!same_stamp(&id1, &id2) || id2.writecount > 0) {
		err = -EAGAIN;
		snprintf(why, len,
			 "%s changed or was opened for writing while being trusted; retry", canon);
		goto fail;
	}
	memset(rec, 0, sizeof(*rec));
	/* a change to these from now on removes the PENDING entry */
	err = exec_file_meta(fd, &rec->meta);
	if (err) {
		snprintf(why, len, "reading the owner, mode and capabilities of %s: %s", canon,
			 strerror(-err));
		goto fail;
	}
	if (expect_meta && exec_meta_differs(expect_meta, &rec->meta, diff, sizeof(diff))) {
		err = -EPERM;
		snprintf(why, len, "%s: %s; not trusted", canon, diff);
		goto fail;
	}
	err = keel_hash_fd(fd, "sha256", rec->sha256, sizeof(rec->sha256));
	if (err) {
		snprintf(why, len, "reading %s: %s", canon, strerror(-err));
		goto fail;
	}
	if (bpf_map__lookup_elem(p->skel->maps.exec_trusted, &id1.key, sizeof(id1.key), &v,
				 sizeof(v), 0)) {
		entered = false; /* a taint removed it */
		err = -EAGAIN;
		snprintf(why, len, "%s changed while being hashed; it stays untrusted", canon);
		goto fail;
	}
	if (expect_sha && *expect_sha && strcmp(expect_sha, rec->sha256)) {
		err = -EBADMSG;
		snprintf(why, len, "%s has SHA-256 %s, not the expected %s; not trusted", canon,
			 rec->sha256, expect_sha);
		goto fail;
	}
	/* the path's previous file (a reinstall) loses its entry */
	if (!keel_trust_get(p->store, canon, &old) &&
	    (old.dev != id1.key.dev || old.ino != id1.key.ino || old.gen != id1.key.gen))
		exec_untrust_row(p, &old);
	snprintf(rec->path, sizeof(rec->path), "%s", canon);
	exec_fs_uuid_hex(&id1, rec->fs_uuid);
	rec->dev = id1.key.dev;
	rec->ino = id1.key.ino;
	rec->gen = id1.key.gen;
	rec->ctime_sec = id1.ctime_sec;
	rec->ctime_nsec = id1.ctime_nsec;
	rec->i_version = id1.i_version;
	rec->state = KEEL_TRUST_TRUSTED;
	snprintf(rec->source, sizeof(rec->source), "%s", source);
	err = keel_trust_put(p->store, rec);
	if (err) {
		snprintf(why, len, "recording %s in the trust store %s: %s", canon,
			 exec_cfg(s)->trust_db, strerror(-err));
		goto fail;
	}
	v.flags = 0;
	v.id = (__u64)rec->id;
	err = bpf_map__update_elem(p->skel->maps.exec_trusted, &id1.key, sizeof(id1.key), &v,
				   sizeof(v), BPF_EXIST);
	if (err) {
		entered = false;
		keel_trust_set_state(p->store, rec->id, KEEL_TRUST_TAINTED,
				     "changed while being trusted");
		snprintf(why, len, "%s changed while being trusted; it stays untrusted", canon);
		err = -EAGAIN;
		goto fail;
	}
	close(fd);
	exec_installer_moved(s, canon, &id1.key); /* an installer (re)installed */
	exec_programs_moved(s, canon, &id1.key);  /* a jit or tracer (re)installed */
	return 0;
fail:
	if (entered)
		bpf_map__delete_elem(p->skel->maps.exec_trusted, &id1.key, sizeof(id1.key), 0);
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * A row names the inode that was at its path when it was trusted.  That
 * inode may have been trusted again since through another row (renamed
 * away, which tainted this row, then `trust add`ed at its new name): the
 * kernel's entry then carries the other row's id and is not this row's to
 * remove.  A tainted row owns no entry.  An entry made by an installer's
 * close carries the kernel's nonce (bit 63) instead of a row id until
 * keeld restarts; the row recorded for that close owns it.
 */
void exec_untrust_row(struct exec_priv *p, const struct keel_trust_rec *rec)
{
	struct keel_exec_key k = { .ino = rec->ino, .dev = rec->dev, .gen = rec->gen };
	struct keel_exec_trust v;

	if (rec->state != KEEL_TRUST_TRUSTED)
		return;
	if (bpf_map__lookup_elem(p->skel->maps.exec_trusted, &k, sizeof(k), &v, sizeof(v), 0))
		return;
	if (v.id != (__u64)rec->id && !(v.id & (1ULL << 63)))
		return;
	bpf_map__delete_elem(p->skel->maps.exec_trusted, &k, sizeof(k), 0);
}

int exec_trust_forget(struct keel_subsys *s, const char *path, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	struct keel_trust_rec rec;
	char canon[PATH_MAX];
	int err;

	/* a record may name a file that is gone: fall back to the path as given */
	if (!realpath(path, canon))
		snprintf(canon, sizeof(canon), "%s", path);
	err = keel_trust_get(p->store, canon, &rec);
	if (err) {
		snprintf(why, len, "%s: %s", canon,
			 err == -ENOENT ? "not in the trust store" : strerror(-err));
		return err;
	}
	/* the kernel first: once the store forgets, nothing would remove it */
	exec_untrust_row(p, &rec);
	err = keel_trust_remove(p->store, canon);
	if (err)
		snprintf(why, len, "removing %s from the trust store: %s", canon, strerror(-err));
	return err;
}

int exec_trust_check(struct keel_subsys *s, const struct keel_trust_rec *rec, bool rehash,
		     char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	struct keel_exec_key k = { .ino = rec->ino, .dev = rec->dev, .gen = rec->gen };
	struct keel_trust_meta meta;
	struct keel_exec_ident id;
	struct keel_exec_trust v;
	char sha[65];
	int fd, err;

	if (rec->state != KEEL_TRUST_TRUSTED) {
		snprintf(why, len, "%s%s%s", keel_trust_state_name(rec->state),
			 rec->note[0] ? ": " : "", rec->note);
		return -EPERM;
	}
	err = exec_probe(p, rec->path, &fd, &id);
	if (err) {
		snprintf(why, len, "cannot open: %s", exec_probe_error(err));
		return err;
	}
	if (memcmp(&id.key, &k, sizeof(k)) || id.ctime_sec != rec->ctime_sec ||
	    id.ctime_nsec != rec->ctime_nsec || id.i_version != rec->i_version) {
		snprintf(why, len, "inode or change stamp differs from the record");
		err = -ESTALE;
	} else if (!same_fs(rec, &id)) {
		snprintf(why, len, "on another file system (UUID) than the record's %s",
			 rec->fs_uuid);
		err = -ESTALE;
	} else if ((err = exec_file_meta(fd, &meta))) {
		snprintf(why, len, "reading the owner, mode and capabilities: %s", strerror(-err));
	} else if (exec_meta_differs(&rec->meta, &meta, why, len)) {
		err = -EPERM;
	} else if (bpf_map__lookup_elem(p->skel->maps.exec_trusted, &k, sizeof(k), &v, sizeof(v),
					0) ||
		   (v.flags & KEEL_TRUST_PENDING)) {
		snprintf(why, len, "not trusted by the kernel");
		err = -ENOENT;
	} else if (rehash && (err = keel_hash_fd(fd, "sha256", sha, sizeof(sha)))) {
		snprintf(why, len, "reading: %s", strerror(-err));
	} else if (rehash && strcmp(sha, rec->sha256)) {
		snprintf(why, len, "SHA-256 is %s, recorded %s", sha, rec->sha256);
		err = -EBADMSG;
	} else {
		snprintf(why, len, "ok");
	}
	close(fd);
	return err;
}

struct load_ctx {
	struct keel_subsys *s;
	unsigned int loaded, rehashed, tainted;
	int err;
	char *why;
	size_t len;
	struct keel_trust_rec *later;
	size_t n_later, cap_later;
};

static int load_one(const struct keel_trust_rec *rec, void *data)
{
	struct load_ctx *c = data;
	struct exec_priv *p = c->s->priv;
	struct keel_exec_key k = { .ino = rec->ino, .dev = rec->dev, .gen = rec->gen };
	struct keel_exec_trust v = { .ctime_sec = rec->ctime_sec,
				     .ctime_nsec = rec->ctime_nsec,
				     .i_version = rec->i_version,
				     .id = (__u64)rec->id };
	struct keel_exec_ident id;
	int fd, err;

	if (rec->state == KEEL_TRUST_TAINTED)
		return 0;
	if (rec->state == KEEL_TRUST_TRUSTED && !exec_probe(p, rec->path, &fd, &id)) {
		struct keel_trust_meta meta;
		bool same = !memcmp(&id.key, &k, sizeof(k)) && id.ctime_sec == rec->ctime_sec &&
			    id.ctime_nsec == rec->ctime_nsec && id.i_version == rec->i_version &&
			    id.writecount <= 0 && same_fs(rec, &id);

		/*
		 * A record from before the store kept owner, mode and
		 * capabilities: with the stamp unchanged they are the ones
		 * trusted (any change to them moves ctime).
		 */
		if (same && !rec->meta.known && !exec_file_meta(fd, &meta))
			keel_trust_set_meta(p->store, rec->id, &meta);
		/* likewise the file system's identity, from before the store kept it */
		if (same && !rec->fs_uuid[0]) {
			char hex[33];

			exec_fs_uuid_hex(&id, hex);
			keel_trust_set_fs_uuid(p->store, rec->id, hex);
		}
		close(fd);
		if (same) {
			err = bpf_map__update_elem(p->skel->maps.exec_trusted, &k, sizeof(k), &v,
						   sizeof(v), BPF_ANY);
			if (err) {
				snprintf(c->why, c->len,
					 "loading %s into the kernel's trusted map: %s%s",
					 rec->path, strerror(-err),
					 err == -E2BIG ? "; raise [exec] max_trusted" : "");
				c->err = err;
				return err;
			}
			c->loaded++;
			return 0;
		}
	}
	/* changed, or recorded without keeld: dealt with after the scan */
	if (c->n_later >= c->cap_later) {
		size_t cap = c->cap_later ? 2 * c->cap_later : 16;
		struct keel_trust_rec *more = realloc(c->later, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		c->later = more;
		c->cap_later = cap;
	}
	c->later[c->n_later++] = *rec;
	return 0;
}

/*
 * A changed file is trusted again only if its content still has the
 * recorded digest and its owner, mode and capabilities are the recorded
 * ones (a chmod u+s or a setcap keeps the content).
 */
static void rehash_one(struct load_ctx *c, const struct keel_trust_rec *rec)
{
	struct exec_priv *p = c->s->priv;
	struct keel_trust_rec *fresh;
	char why[512];
	int err;

	fresh = malloc(sizeof(*fresh));
	if (!fresh)
		return;
	err = exec_trust_file(c->s, rec->path, rec->sha256, &rec->meta,
			      rec->state == KEEL_TRUST_UNVERIFIED ? rec->source : "rehash", fresh,
			      why, sizeof(why));
	if (!err) {
		c->rehashed++;
		exec_emit_trust(
			c->s, "exec.trust", fresh,
			rec->state == KEEL_TRUST_UNVERIFIED ?
				"verified: recorded while exec enforcement was unavailable" :
				"re-hashed: stamp or file system changed while keeld was not running");
	} else {
		c->tainted++;
		keel_trust_set_state(p->store, rec->id, KEEL_TRUST_TAINTED, why);
		memcpy(fresh, rec, sizeof(*fresh));
		fresh->state = KEEL_TRUST_TAINTED;
		snprintf(fresh->note, sizeof(fresh->note), "%.*s", (int)sizeof(fresh->note) - 1,
			 why);
		exec_emit_trust(c->s, "exec.taint", fresh, "changed while keeld was not running");
	}
	free(fresh);
}

int exec_trust_load(struct keel_subsys *s, char *why, size_t len)
{
	struct load_ctx c = { .s = s, .why = why, .len = len };
	int err;

	err = keel_trust_foreach(((struct exec_priv *)s->priv)->store, load_one, &c);
	if (err && !c.err)
		snprintf(why, len, "reading the trust store %s: %s", exec_cfg(s)->trust_db,
			 strerror(-err));
	for (size_t i = 0; !err && i < c.n_later; i++)
		rehash_one(&c, &c.later[i]);
	free(c.later);
	if (err)
		return err;
	keel_emit(s->d, "exec", "exec.loaded",
		  json_pack("{s:I, s:I, s:I}", "trusted", (json_int_t)c.loaded, "rehashed",
			    (json_int_t)c.rehashed, "tainted", (json_int_t)c.tainted));
	return 0;
}
