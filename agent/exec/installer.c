// SPDX-License-Identifier: GPL-2.0-only
/*
 * Approved installers, keeld's side.  The kernel (bpf/exec.bpf.c) marks
 * installer process trees, tracks the files they write and trusts each
 * one when its last installer writer closes it; keeld's part is to
 *
 *  - give the kernel the [exec] installers paths;
 *  - mark the process of a privileged `keelctl run-installer` (the
 *    kernel's fork hook then marks what it starts);
 *  - record each file the kernel trusted on close in the trust store,
 *    with its SHA-256, and follow the installer's renames and metadata
 *    changes.  A file it cannot record (read error, store error, a name it
 *    cannot find) loses the kernel's trust again: nothing stays trusted
 *    without a record.
 *
 * A record names the file where the installer closed it, which may have
 * been renamed (dpkg's FILE.dpkg-new) before keeld reads the record: such
 * files wait in a bounded list for the rename record that follows.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "exec/exec_priv.h"
#include "exec/hash.h"
#include "common/kdev.h"

/* The installer task whose close made the kernel trust a file. */
struct closer {
	__u32 pid, ppid, uid, root_tgid;
	char comm[KEEL_COMM_LEN + 1];
};

struct unresolved {
	struct keel_exec_key key;
	__u64 nonce;
	struct closer who;
	char path[KEEL_PATH_LEN + 1];
};

/* A rename of a file keeld has no name for yet (still open for writing). */
struct early_rename {
	struct keel_exec_key key;
	char new_rel[KEEL_PATH_LEN + 1], old_rel[KEEL_PATH_LEN + 1];
};

#define EARLY_MAX 256

/* One of the [exec] installers: its path, and the inode there now. */
struct installer_bin {
	char path[PATH_MAX];
	struct keel_exec_key key; /* ino 0: nothing trusted there yet */
};

struct exec_inst {
	struct installer_bin bins[KEEL_EXEC_MAX_INSTALLERS];
	size_t n_bins;
	const struct bpf_map *inodes; /* exec_installer_inodes */
	struct unresolved *wait;      /* closed, name not found yet */
	size_t n_wait, max_wait;
	struct early_rename early[EARLY_MAX]; /* a ring: the oldest is overwritten */
	size_t n_early;
	__u64 recorded, failed, refused, marked;
};

static const char *refuse_reason(__u32 reason)
{
	switch (reason) {
	case KEEL_EXEC_IR_TRACK_FULL:
		return "too many files open for writing by installers: raise [exec] max_installing";
	case KEEL_EXEC_IR_TRUST_FULL:
		return "the kernel's trusted map is full: raise [exec] max_trusted";
	case KEEL_EXEC_IR_OTHER_WRITER:
		return "a process outside the installer also had it open for writing";
	case KEEL_EXEC_IR_NO_EVENT:
		return "the event ring buffer was full (see exec.dropped)";
	case KEEL_EXEC_IR_NOT_ROOT:
		return "an installer must run as root of the initial user namespace: not an installer";
	case KEEL_EXEC_IR_USER_CHANGED:
		return "the process changed to a non-root user (su, setuid): no longer an installer";
	}
	return "unknown";
}

static json_t *file_json(const struct keel_exec_key *key, const char *path)
{
	char dev[24];

	keel_kdev_format(key->dev, dev, sizeof(dev));
	return json_pack("{s:s, s:s, s:I, s:I}", "path", path, "device", dev, "inode",
			 (json_int_t)key->ino, "generation", (json_int_t)key->gen);
}

/* Take back the kernel's trust of this close (and only of this close). */
static void untrust(struct exec_priv *p, const struct keel_exec_key *key, __u64 nonce)
{
	struct keel_exec_trust v;

	if (!bpf_map__lookup_elem(p->skel->maps.exec_trusted, key, sizeof(*key), &v, sizeof(v),
				  0) &&
	    v.id == nonce)
		bpf_map__delete_elem(p->skel->maps.exec_trusted, key, sizeof(*key), 0);
}

static void fail(struct keel_subsys *s, const struct keel_exec_key *key, __u64 nonce,
		 const char *path, const char *why)
{
	struct exec_priv *p = s->priv;
	json_t *o = file_json(key, path);

	untrust(p, key, nonce);
	p->inst->failed++;
	json_object_set_new(o, "reason", json_string(why));
	keel_emit(s->d, "exec", "exec.install_failed", o);
}

/* exec.trust for an installed file, naming the installer task that closed it. */
static void emit_installed(struct keel_subsys *s, const struct keel_trust_rec *rec,
			   const struct closer *who)
{
	struct exec_priv *p = s->priv;
	json_t *o = exec_rec_json(rec);

	json_object_set_new(o, "reason", json_string("installer"));
	json_object_set_new(o, "mode", json_string(exec_mode_name(p->mode)));
	json_object_set_new(o, "pid", json_integer(who->pid));
	json_object_set_new(o, "ppid", json_integer(who->ppid));
	json_object_set_new(o, "uid", json_integer(who->uid));
	json_object_set_new(o, "comm", json_string(who->comm));
	json_object_set_new(o, "installer_pid", json_integer(who->root_tgid));
	keel_emit(s->d, "exec", "exec.trust", o);
}

/*
 * Hash and record a file the kernel trusted on an installer's close.
 * -ENOENT/-ESTALE: not (or no longer) at @path; -ECANCELED: the kernel's
 * entry is gone or belongs to a later close (a taint or a rewrite: the
 * events that follow say what happened); 0: recorded.
 */
static int record(struct keel_subsys *s, const struct keel_exec_key *key, __u64 nonce,
		  const struct closer *who, const char *path)
{
	struct exec_priv *p = s->priv;
	struct keel_trust_rec *rec, old;
	struct keel_exec_trust v1, v2;
	struct keel_exec_ident id;
	char canon[PATH_MAX], why[2 * PATH_MAX + 128];
	int fd, err;

	if (!realpath(path, canon))
		return -ENOENT;
	err = exec_probe(p, canon, &fd, &id);
	if (err)
		return err == -ENOENT ? -ENOENT : -ESTALE;
	if (memcmp(&id.key, key, sizeof(*key))) {
		close(fd);
		return -ESTALE;
	}
	if (bpf_map__lookup_elem(p->skel->maps.exec_trusted, key, sizeof(*key), &v1, sizeof(v1),
				 0) ||
	    v1.id != nonce) {
		close(fd);
		return -ECANCELED;
	}
	rec = calloc(1, sizeof(*rec));
	if (!rec) {
		close(fd);
		return -ENOMEM;
	}
	/* a later change by another process removes the entry: checked below */
	err = exec_file_meta(fd, &rec->meta);
	if (!err)
		err = keel_hash_fd(fd, "sha256", rec->sha256, sizeof(rec->sha256));
	close(fd);
	if (err) {
		snprintf(why, sizeof(why), "reading %s: %s", canon, strerror(-err));
		fail(s, key, nonce, canon, why);
		goto out;
	}
	/* any change while hashing removed or replaced the entry */
	if (bpf_map__lookup_elem(p->skel->maps.exec_trusted, key, sizeof(*key), &v2, sizeof(v2),
				 0) ||
	    v2.id != nonce) {
		err = -ECANCELED;
		goto out;
	}
	/* the file this one replaces loses its entry (its store row is replaced) */
	if (!keel_trust_get(p->store, canon, &old) &&
	    (old.dev != key->dev || old.ino != key->ino || old.gen != key->gen))
		exec_untrust_row(p, &old);
	snprintf(rec->path, sizeof(rec->path), "%s", canon);
	exec_fs_uuid_hex(&id, rec->fs_uuid);
	rec->dev = key->dev;
	rec->ino = key->ino;
	rec->gen = key->gen;
	rec->ctime_sec = v2.ctime_sec;
	rec->ctime_nsec = v2.ctime_nsec;
	rec->i_version = v2.i_version;
	rec->state = KEEL_TRUST_TRUSTED;
	snprintf(rec->source, sizeof(rec->source), "installer");
	err = keel_trust_put(p->store, rec);
	if (err) {
		snprintf(why, sizeof(why), "recording %s in the trust store %s: %s", canon,
			 exec_cfg(s)->trust_db, strerror(-err));
		fail(s, key, nonce, canon, why);
		goto out;
	}
	p->inst->recorded++;
	exec_installer_moved(s, canon, key); /* an installer reinstalling itself */
	emit_installed(s, rec, who);
out:
	free(rec);
	return err;
}

static void wait_remove(struct exec_inst *in, size_t i)
{
	in->wait[i] = in->wait[--in->n_wait];
}

static void wait_add(struct keel_subsys *s, const struct keel_exec_key *key, __u64 nonce,
		     const struct closer *who, const char *path)
{
	struct exec_inst *in = ((struct exec_priv *)s->priv)->inst;
	struct unresolved *u;

	for (size_t i = 0; i < in->n_wait; i++) {
		if (!memcmp(&in->wait[i].key, key, sizeof(*key))) {
			wait_remove(in, i); /* a later close of the same inode */
			break;
		}
	}
	if (in->n_wait == in->max_wait) {
		/* the oldest waited longest: it loses its trust, with an event */
		u = &in->wait[0];
		fail(s, &u->key, u->nonce, u->path,
		     "too many installed files whose name keeld could not find: raise [exec] max_installing");
		wait_remove(in, 0);
	}
	u = &in->wait[in->n_wait++];
	u->key = *key;
	u->nonce = nonce;
	u->who = *who;
	snprintf(u->path, sizeof(u->path), "%s", path);
}

/*
 * The full path @p was renamed from @old_rel to @new_rel, both from the
 * file system's root (the kernel's record has no mount point): below
 * their common directory, @p must end like @old_rel; what comes before is
 * kept.  "/tmp/t/stage/x" renamed "/t/stage/x" -> "/t/dest/y" gives
 * "/tmp/t/dest/y".
 */
static bool follow(const char *p, const char *old_rel, const char *new_rel, char *out, size_t len)
{
	size_t k = 0, lp, lt;
	const char *ot, *nt;

	if (!*old_rel || !*new_rel)
		return false;
	for (size_t i = 0; old_rel[i] && old_rel[i] == new_rel[i]; i++)
		if (old_rel[i] == '/')
			k = i + 1;
	ot = old_rel + k;
	nt = new_rel + k;
	lp = strlen(p);
	lt = strlen(ot);
	if (lt > lp || strcmp(p + lp - lt, ot) || (lp > lt && p[lp - lt - 1] != '/'))
		return false;
	return snprintf(out, len, "%.*s%s", (int)(lp - lt), p, nt) < (int)len;
}

static void on_closed(struct keel_subsys *s, const struct keel_exec_install *ev, const char *opened)
{
	struct exec_inst *in = ((struct exec_priv *)s->priv)->inst;
	char path[PATH_MAX], next[PATH_MAX];
	struct closer who = {
		.pid = ev->pid, .ppid = ev->ppid, .uid = ev->uid, .root_tgid = ev->root_tgid
	};
	int err;

	snprintf(who.comm, sizeof(who.comm), "%.*s", KEEL_COMM_LEN, ev->comm);
	/* renamed while still open: follow those renames, oldest first */
	snprintf(path, sizeof(path), "%s", opened);
	for (size_t i = in->n_early > EARLY_MAX ? in->n_early - EARLY_MAX : 0; i < in->n_early;
	     i++) {
		struct early_rename *e = &in->early[i % EARLY_MAX];

		if (memcmp(&e->key, &ev->key, sizeof(e->key)))
			continue;
		if (follow(path, e->old_rel, e->new_rel, next, sizeof(next)))
			snprintf(path, sizeof(path), "%s", next);
		memset(&e->key, 0, sizeof(e->key));
	}
	err = record(s, &ev->key, ev->nonce, &who, path);

	if (err == -ENOENT || err == -ESTALE)
		wait_add(s, &ev->key, ev->nonce, &who, path);
	else if (err == -ENOMEM)
		fail(s, &ev->key, ev->nonce, path, "out of memory");
}

static void on_renamed(struct keel_subsys *s, const struct keel_exec_install *ev)
{
	struct exec_priv *p = s->priv;
	struct exec_inst *in = p->inst;
	char new_rel[KEEL_PATH_LEN + 1], old_rel[KEEL_PATH_LEN + 1], path[PATH_MAX];
	struct keel_trust_rec *rec;
	struct early_rename *e;

	snprintf(new_rel, sizeof(new_rel), "%.*s", KEEL_PATH_LEN, ev->path);
	snprintf(old_rel, sizeof(old_rel), "%.*s", KEEL_PATH_LEN, ev->old_path);
	/* closed, waiting for its name */
	for (size_t i = 0; i < in->n_wait; i++) {
		struct unresolved u = in->wait[i];
		int err;

		if (memcmp(&u.key, &ev->key, sizeof(ev->key)))
			continue;
		if (!follow(u.path, old_rel, new_rel, path, sizeof(path)))
			return; /* cannot tell where it went: stays waiting, fails closed */
		wait_remove(in, i);
		err = record(s, &u.key, u.nonce, &u.who, path);
		if (err == -ENOENT || err == -ESTALE)
			wait_add(s, &u.key, u.nonce, &u.who, path); /* renamed again since */
		return;
	}
	/* recorded: the record moves */
	rec = malloc(sizeof(*rec));
	if (!rec)
		return;
	if (!keel_trust_get_inode(p->store, ev->key.dev, ev->key.ino, ev->key.gen, rec)) {
		if (follow(rec->path, old_rel, new_rel, path, sizeof(path)) &&
		    keel_trust_rename(p->store, ev->key.dev, ev->key.ino, ev->key.gen, path) >= 0)
			exec_installer_moved(s, path, &ev->key); /* dpkg.dpkg-new -> dpkg */
		/* else its record keeps the old name: re-hashed, then tainted, at restart */
		free(rec);
		return;
	}
	free(rec);
	/* still open for writing: followed when it is closed */
	e = &in->early[in->n_early++ % EARLY_MAX];
	e->key = ev->key;
	snprintf(e->new_rel, sizeof(e->new_rel), "%s", new_rel);
	snprintf(e->old_rel, sizeof(e->old_rel), "%s", old_rel);
}

/*
 * An installer changed a trusted file's metadata (chmod, chown, setcap):
 * the new stamp, and the owner, mode and capabilities the file has now.
 * When keeld cannot read them (the file is gone from its recorded name),
 * the old ones stay: a later re-hash compares the file with them and
 * taints it (fails closed).
 */
static void on_restamp(struct keel_subsys *s, const struct keel_exec_install *ev)
{
	struct exec_priv *p = s->priv;
	struct keel_trust_meta meta, *m = NULL;
	struct keel_trust_rec *rec;
	struct keel_exec_ident id;
	int fd;

	rec = malloc(sizeof(*rec));
	if (rec && !keel_trust_get_inode(p->store, ev->key.dev, ev->key.ino, ev->key.gen, rec) &&
	    !exec_probe(p, rec->path, &fd, &id)) {
		if (!memcmp(&id.key, &ev->key, sizeof(id.key)) && !exec_file_meta(fd, &meta))
			m = &meta;
		close(fd);
	}
	free(rec);
	keel_trust_restamp(p->store, ev->key.dev, ev->key.ino, ev->key.gen, ev->ctime_sec,
			   ev->ctime_nsec, ev->i_version, m);
}

void exec_on_install(struct keel_subsys *s, const struct keel_exec_install *ev)
{
	struct exec_priv *p = s->priv;
	char comm[KEEL_COMM_LEN + 1], path[KEEL_PATH_LEN + 1];
	json_t *o;

	if (!p->inst)
		return;
	snprintf(comm, sizeof(comm), "%.*s", KEEL_COMM_LEN, ev->comm);
	snprintf(path, sizeof(path), "%.*s", KEEL_PATH_LEN, ev->path);
	switch (ev->kind) {
	case KEEL_EXEC_I_START:
		keel_emit(s->d, "exec", "exec.installer",
			  json_pack("{s:I, s:s, s:s}", "pid", (json_int_t)ev->pid, "comm", comm,
				    "via", "config"));
		break;
	case KEEL_EXEC_I_CLOSED:
		on_closed(s, ev, path);
		break;
	case KEEL_EXEC_I_RENAMED:
		on_renamed(s, ev);
		break;
	case KEEL_EXEC_I_RESTAMP:
		on_restamp(s, ev);
		break;
	case KEEL_EXEC_I_REFUSED:
		p->inst->refused++;
		/* NOT_ROOT, USER_CHANGED name no file: a process that is no installer */
		o = ev->reason == KEEL_EXEC_IR_NOT_ROOT || ev->reason == KEEL_EXEC_IR_USER_CHANGED ?
			    json_object() :
			    file_json(&ev->key, path);
		json_object_set_new(o, "pid", json_integer(ev->pid));
		json_object_set_new(o, "uid", json_integer(ev->uid));
		json_object_set_new(o, "comm", json_string(comm));
		json_object_set_new(o, "reason", json_string(refuse_reason(ev->reason)));
		keel_emit(s->d, "exec", "exec.install_refused", o);
		break;
	}
}

/* The kernel removed the trust (or the tracking): nothing to wait for. */
void exec_installer_tainted(struct keel_subsys *s, const struct keel_exec_key *key)
{
	struct exec_inst *in = ((struct exec_priv *)s->priv)->inst;

	for (size_t i = 0; in && i < in->n_wait; i++) {
		if (!memcmp(&in->wait[i].key, key, sizeof(*key))) {
			wait_remove(in, i);
			return;
		}
	}
}

/* Point installer @i at @key, the inode now at its path. */
static void bin_set(struct exec_inst *in, __u32 i, const struct keel_exec_key *key)
{
	struct installer_bin *b = &in->bins[i];

	if (!memcmp(&b->key, key, sizeof(*key)))
		return;
	if (b->key.ino)
		bpf_map__delete_elem(in->inodes, &b->key, sizeof(b->key), 0);
	b->key = *key;
	if (key->ino)
		bpf_map__update_elem(in->inodes, key, sizeof(*key), &i, sizeof(i), BPF_ANY);
}

void exec_installer_moved(struct keel_subsys *s, const char *path, const struct keel_exec_key *key)
{
	struct exec_inst *in = ((struct exec_priv *)s->priv)->inst;

	for (__u32 i = 0; in && i < in->n_bins; i++)
		if (!strcmp(in->bins[i].path, path))
			bin_set(in, i, key);
}

static int add_path(struct exec_priv *p, const char *item, char *why, size_t len)
{
	struct exec_inst *in = p->inst;
	struct keel_exec_ident id;
	char canon[PATH_MAX];
	int fd;

	if (item[0] != '/') {
		snprintf(why, len, "[exec] installers: '%s' is not a full path", item);
		return -EINVAL;
	}
	if (in->n_bins == KEEL_EXEC_MAX_INSTALLERS) {
		snprintf(why, len, "[exec] installers: more than %d paths",
			 KEEL_EXEC_MAX_INSTALLERS);
		return -E2BIG;
	}
	/* the name keeld finds again when something is installed there */
	if (!realpath(item, canon))
		snprintf(canon, sizeof(canon), "%s", item);
	/*
	 * The kernel matches the file, not the name (a bind mount or a chroot
	 * can put another file at the path): the inode there now (none yet:
	 * the first file trusted there), and whatever is installed or trusted
	 * there later (exec_installer_moved).
	 */
	snprintf(in->bins[in->n_bins].path, sizeof(in->bins[0].path), "%s", canon);
	if (!exec_probe(p, canon, &fd, &id)) {
		close(fd);
		bin_set(in, (__u32)in->n_bins, &id.key);
	}
	in->n_bins++;
	return 0;
}

int exec_installers_start(struct keel_subsys *s, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	char list[sizeof(exec_cfg(s)->installers)], *save = NULL;
	int err = 0;

	p->inst = calloc(1, sizeof(*p->inst));
	if (!p->inst)
		return -ENOMEM;
	p->inst->max_wait = exec_cfg(s)->max_installing;
	p->inst->wait = calloc(p->inst->max_wait, sizeof(*p->inst->wait));
	if (!p->inst->wait) {
		snprintf(why, len, "allocating %zu pending installer files: out of memory",
			 p->inst->max_wait);
		return -ENOMEM;
	}
	p->inst->inodes = p->skel->maps.exec_installer_inodes;
	snprintf(list, sizeof(list), "%s", exec_cfg(s)->installers);
	for (char *item = strtok_r(list, ", \t", &save); item && !err;
	     item = strtok_r(NULL, ", \t", &save))
		err = add_path(p, item, why, len);
	return err;
}

void exec_installers_stop(struct keel_subsys *s)
{
	struct exec_priv *p = s->priv;

	if (!p->inst)
		return;
	free(p->inst->wait);
	free(p->inst);
	p->inst = NULL;
}

/*
 * Mark the process @pid (the caller's own keelctl, which then starts the
 * command) as an approved installer.  Only a privileged client may: it
 * could trust any file with trust add anyway.
 */
json_t *exec_cmd_installer_mark(struct keel_subsys *s, json_t *req, bool privileged, char *why,
				size_t len)
{
	struct exec_priv *p = s->priv;
	json_int_t pid = json_integer_value(json_object_get(req, "pid"));
	struct keel_exec_installer v = { .root_tgid = (__u32)pid, .flags = KEEL_INST_ACTIVE };
	int fd, err;

	if (!privileged) {
		snprintf(why, len, "run-installer needs root or the [control] group");
		return NULL;
	}
	if (pid <= 1 || pid > 0x3fffffff) {
		snprintf(why, len, "exec.installer_mark needs \"pid\" (a process id above 1)");
		return NULL;
	}
	/* a pidfd names the process itself, not a number that could be reused */
	fd = pidfd_open((pid_t)pid, 0);
	if (fd < 0) {
		snprintf(why, len, "opening process %lld: %s", (long long)pid, strerror(errno));
		return NULL;
	}
	err = bpf_map__update_elem(p->skel->maps.exec_installer, &fd, sizeof(fd), &v, sizeof(v),
				   BPF_ANY);
	close(fd);
	if (err) {
		snprintf(why, len, "marking process %lld as an installer: %s", (long long)pid,
			 strerror(-err));
		return NULL;
	}
	p->inst->marked++;
	keel_emit(s->d, "exec", "exec.installer",
		  json_pack("{s:I, s:s}", "pid", pid, "via", "run-installer"));
	return json_pack("{s:I}", "pid", pid);
}

/*
 * Read every record the kernel has queued and retry the files still
 * waiting for their name: after it, what an installer wrote and closed
 * before the request is recorded (or reported).
 */
json_t *exec_cmd_installer_sync(struct keel_subsys *s, json_t *req, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	struct exec_inst *in = p->inst;

	(void)req;
	(void)why;
	(void)len;
	keel_ringbuf_consume(&p->rb);
	for (size_t i = in->n_wait; i-- > 0;) {
		struct unresolved u = in->wait[i];
		int err = record(s, &u.key, u.nonce, &u.who, u.path);

		if (err != -ENOENT && err != -ESTALE) {
			wait_remove(in, i);
			if (err == -ENOMEM)
				fail(s, &u.key, u.nonce, u.path, "out of memory");
		}
	}
	return json_pack("{s:I, s:I, s:I, s:I}", "recorded", (json_int_t)in->recorded, "failed",
			 (json_int_t)in->failed, "refused", (json_int_t)in->refused, "waiting",
			 (json_int_t)in->n_wait);
}

void exec_installer_counters(struct keel_subsys *s, json_t *out)
{
	struct exec_inst *in = ((struct exec_priv *)s->priv)->inst;

	if (!in)
		return;
	json_object_set_new(out, "installer_recorded", json_integer((json_int_t)in->recorded));
	json_object_set_new(out, "installer_failed", json_integer((json_int_t)in->failed));
	json_object_set_new(out, "installer_refused", json_integer((json_int_t)in->refused));
	json_object_set_new(out, "installer_waiting", json_integer((json_int_t)in->n_wait));
	json_object_set_new(out, "installers_marked", json_integer((json_int_t)in->marked));
}
