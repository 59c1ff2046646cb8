// SPDX-License-Identifier: GPL-2.0-only
/*
 * File systems whose content can change without keel seeing it.
 *
 * keel's trust is an inode identity and a change stamp the kernel keeps.
 * On some file systems something other than this kernel supplies both, and
 * the content: the image file behind squashfs, iso9660, erofs (which can
 * be rewritten under the mount), the server of 9p, NFS, CIFS, Ceph, or the
 * daemon behind FUSE.  A change there moves no stamp keel can trust, and
 * another image or server can reproduce a trusted file's inode, generation
 * and times exactly.  [exec] unstable_fs names them by type (as
 * /proc/filesystems spells it); [exec] allow_unstable_fs takes some back
 * (a host whose root is NFS, the VM tests' 9p root).  What remains goes to
 * the kernel's exec_unstable_fs map: nothing on those runs in enforce mode
 * (reason unstable_fs), and keeld refuses to trust files there.
 *
 * A switch to enforce mode is refused while keeld's executable, the root
 * directory or /usr/bin is on one of them: every exec would then fail, the
 * one of keelctl that would switch back included.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exec/exec_priv.h"

/*
 * Parse @list into @ret (at most KEEL_EXEC_MAX_FS_TYPES); the count, or
 * -errno with @why naming the bad item.
 */
static int parse_list(const char *list, struct keel_exec_fs_name *ret, char *why, size_t len)
{
	const char *at = list;
	int n = 0;

	while (*at) {
		size_t l = strcspn(at, ",");
		const char *item = at;

		at += l;
		if (*at == ',')
			at++;
		while (l && (*item == ' ' || *item == '\t')) {
			item++;
			l--;
		}
		while (l && (item[l - 1] == ' ' || item[l - 1] == '\t'))
			l--;
		if (!l)
			continue;
		if (l >= KEEL_EXEC_FS_NAME_LEN) {
			snprintf(why, len, "'%.*s' is longer than %d characters", (int)l, item,
				 KEEL_EXEC_FS_NAME_LEN - 1);
			return -EINVAL;
		}
		for (size_t i = 0; i < l; i++) {
			char c = item[i];

			if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
			    !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-') {
				snprintf(
					why, len,
					"'%.*s' is not a file system type name (as in /proc/filesystems)",
					(int)l, item);
				return -EINVAL;
			}
		}
		if (n == KEEL_EXEC_MAX_FS_TYPES) {
			snprintf(why, len, "more than %d file system types",
				 KEEL_EXEC_MAX_FS_TYPES);
			return -E2BIG;
		}
		memset(&ret[n], 0, sizeof(ret[n]));
		memcpy(ret[n].name, item, l);
		n++;
	}
	return n;
}

int exec_fs_check_config(const struct exec_config *c, char *key, size_t keylen, char *msg,
			 size_t msglen)
{
	struct keel_exec_fs_name names[KEEL_EXEC_MAX_FS_TYPES];
	int n;

	n = parse_list(c->unstable_fs, names, msg, msglen);
	if (n < 0) {
		snprintf(key, keylen, "unstable_fs");
		return n;
	}
	n = parse_list(c->allow_unstable_fs, names, msg, msglen);
	if (n < 0) {
		snprintf(key, keylen, "allow_unstable_fs");
		return n;
	}
	return 0;
}

static bool listed(const struct keel_exec_fs_name *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i].name, name))
			return true;
	return false;
}

int exec_fs_start(struct keel_subsys *s, char *why, size_t len)
{
	struct keel_exec_fs_name unstable[KEEL_EXEC_MAX_FS_TYPES], allowed[KEEL_EXEC_MAX_FS_TYPES];
	const struct bpf_map *map;
	struct exec_priv *p = s->priv;
	struct keel_exec_fs_name key, next;
	int n_unstable, n_allowed, err;
	__u32 one = 1;

	/* checked with the configuration already (exec_fs_check_config) */
	n_unstable = parse_list(exec_cfg(s)->unstable_fs, unstable, why, len);
	if (n_unstable < 0)
		return n_unstable;
	n_allowed = parse_list(exec_cfg(s)->allow_unstable_fs, allowed, why, len);
	if (n_allowed < 0)
		return n_allowed;
	/* a pinned map reused from the last keeld holds the last configuration's */
	map = p->skel->maps.exec_unstable_fs;
	while (!bpf_map__get_next_key(map, NULL, &next, sizeof(next))) {
		key = next;
		if (bpf_map__delete_elem(map, &key, sizeof(key), 0))
			break;
	}
	p->n_unstable = 0;
	for (int i = 0; i < n_unstable; i++) {
		if (listed(allowed, n_allowed, unstable[i].name) ||
		    listed(p->unstable, p->n_unstable, unstable[i].name))
			continue;
		err = bpf_map__update_elem(map, &unstable[i], sizeof(unstable[i]), &one,
					   sizeof(one), BPF_ANY);
		if (err) {
			snprintf(why, len, "writing exec_unstable_fs: %s", strerror(-err));
			return err;
		}
		p->unstable[p->n_unstable++] = unstable[i];
	}
	return 0;
}

bool exec_fs_unstable(const struct exec_priv *p, const char *type)
{
	return listed(p->unstable, p->n_unstable, type);
}

/* The file system type of @path, from keeld's own open of it (a directory too). */
static int fs_type_of(struct exec_priv *p, const char *path, struct keel_exec_ident *id)
{
	__u32 tid = (__u32)gettid();
	int fd, err;

	bpf_map__delete_elem(p->skel->maps.exec_ident, &tid, sizeof(tid), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	err = bpf_map__lookup_elem(p->skel->maps.exec_ident, &tid, sizeof(tid), id, sizeof(*id), 0);
	close(fd);
	return err;
}

int exec_fs_enforce_check(struct keel_subsys *s, char *why, size_t len)
{
	static const char *const needed[][2] = {
		{ "/proc/self/exe", "keeld's executable" },
		{ "/", "the root directory /" },
		{ "/usr/bin", "/usr/bin" },
	};
	struct exec_priv *p = s->priv;
	struct keel_exec_ident id;

	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (fs_type_of(p, needed[i][0], &id))
			continue; /* not there: nothing to lock out */
		if (!exec_fs_unstable(p, id.fs_type.name))
			continue;
		snprintf(
			why, len,
			"not switching to enforce: %s is on a file system of type %s, one of [exec] "
			"unstable_fs, where nothing may run in enforce mode (keelctl included); "
			"if its content cannot change behind this host's back, add %s to "
			"[exec] allow_unstable_fs and restart keeld (docs/exec.md, \"File systems\")",
			needed[i][1], id.fs_type.name, id.fs_type.name);
		return -EPERM;
	}
	return 0;
}
