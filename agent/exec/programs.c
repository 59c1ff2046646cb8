// SPDX-License-Identifier: GPL-2.0-only
/*
 * Programs named in the configuration for what no file check can judge:
 * [exec] jits may make anonymous memory executable, [exec] tracers may
 * trace other processes and write their memory (bpf/exec.bpf.c, "native
 * code that comes from no file"); [exec] interpreters and
 * strict_interpreters must find their script trusted
 * (bpf/exec_interp.bpf.h), with the option grammar of their kind.  The kernel matches a program by the
 * inode it runs (/proc/PID/exe), not by a path: keeld gives it the inode at
 * each path at start, and again whenever a file is installed or trusted
 * there (a qemu upgrade), as for installers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/exec_priv.h"

struct role_path {
	char path[PATH_MAX];
	__u32 role;		  /* KEEL_EXEC_ROLE_* */
	struct keel_exec_key key; /* the inode there now; ino 0: none */
};

struct exec_progs {
	struct role_path paths[4 * KEEL_EXEC_MAX_ROLE_PATHS];
	size_t n;
	const struct bpf_map *map; /* exec_program_roles */
};

/* Write the roles of @key (every path now holding it) into the kernel's map. */
static void roles_sync(struct exec_progs *pr, const struct keel_exec_key *key)
{
	__u32 roles = 0;

	if (!key->ino)
		return;
	for (size_t i = 0; i < pr->n; i++)
		if (!memcmp(&pr->paths[i].key, key, sizeof(*key)))
			roles |= pr->paths[i].role;
	if (roles)
		bpf_map__update_elem(pr->map, key, sizeof(*key), &roles, sizeof(roles), BPF_ANY);
	else
		bpf_map__delete_elem(pr->map, key, sizeof(*key), 0);
}

static void path_set(struct exec_progs *pr, struct role_path *rp, const struct keel_exec_key *key)
{
	struct keel_exec_key old = rp->key;

	if (!memcmp(&old, key, sizeof(*key)))
		return;
	rp->key = *key;
	roles_sync(pr, &old);
	roles_sync(pr, key);
}

void exec_programs_moved(struct keel_subsys *s, const char *path, const struct keel_exec_key *key)
{
	struct exec_progs *pr = ((struct exec_priv *)s->priv)->progs;

	for (size_t i = 0; pr && i < pr->n; i++)
		if (!strcmp(pr->paths[i].path, path))
			path_set(pr, &pr->paths[i], key);
}

/* An interpreter's option grammar, from its name (python3.11, perl5.36.0, dash, bash). */
static __u32 interp_kind(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (!strncmp(base, "python", 6))
		return KEEL_EXEC_ROLE_PY;
	if (!strncmp(base, "perl", 4))
		return KEEL_EXEC_ROLE_PERL;
	if (n >= 2 && !strcmp(base + n - 2, "sh"))
		return KEEL_EXEC_ROLE_SH;
	return 0;
}

static int add_list(struct exec_priv *p, const char *key, const char *value, __u32 role, char *why,
		    size_t len)
{
	struct exec_progs *pr = p->progs;
	char list[1024], *save = NULL;
	size_t n = 0;

	snprintf(list, sizeof(list), "%s", value);
	for (char *item = strtok_r(list, ", \t", &save); item;
	     item = strtok_r(NULL, ", \t", &save)) {
		struct role_path *rp = &pr->paths[pr->n];
		struct keel_exec_ident id;
		int fd;

		if (item[0] != '/') {
			snprintf(why, len, "[exec] %s: '%s' is not a full path", key, item);
			return -EINVAL;
		}
		if (++n > KEEL_EXEC_MAX_ROLE_PATHS) {
			snprintf(why, len, "[exec] %s: more than %d paths", key,
				 KEEL_EXEC_MAX_ROLE_PATHS);
			return -E2BIG;
		}
		/* the name keeld finds again when something is installed there */
		if (!realpath(item, rp->path))
			snprintf(rp->path, sizeof(rp->path), "%s", item);
		rp->role = role;
		if (role & (KEEL_EXEC_ROLE_INTERP | KEEL_EXEC_ROLE_STRICT))
			rp->role |= interp_kind(rp->path);
		pr->n++;
		/* nothing there (qemu not installed): the first file trusted there */
		if (!exec_probe(p, rp->path, &fd, &id)) {
			close(fd);
			path_set(pr, rp, &id.key);
		}
	}
	return 0;
}

/*
 * Empty the map first: a pinned one reused from the last keeld holds the
 * last configuration's programs.
 */
static void roles_clear(const struct bpf_map *map)
{
	struct keel_exec_key key, next;

	while (!bpf_map__get_next_key(map, NULL, &next, sizeof(next))) {
		key = next;
		if (bpf_map__delete_elem(map, &key, sizeof(key), 0))
			break;
	}
}

int exec_programs_start(struct keel_subsys *s, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	int err;

	p->progs = calloc(1, sizeof(*p->progs));
	if (!p->progs)
		return -ENOMEM;
	p->progs->map = p->skel->maps.exec_program_roles;
	roles_clear(p->progs->map);
	err = add_list(p, "jits", exec_cfg(s)->jits, KEEL_EXEC_ROLE_JIT, why, len);
	if (!err)
		err = add_list(p, "tracers", exec_cfg(s)->tracers, KEEL_EXEC_ROLE_TRACER, why, len);
	if (!err)
		err = add_list(p, "interpreters", exec_cfg(s)->interpreters, KEEL_EXEC_ROLE_INTERP,
			       why, len);
	if (!err)
		err = add_list(p, "strict_interpreters", exec_cfg(s)->strict_interpreters,
			       KEEL_EXEC_ROLE_STRICT, why, len);
	return err;
}

void exec_programs_stop(struct keel_subsys *s)
{
	struct exec_priv *p = s->priv;

	free(p->progs);
	p->progs = NULL;
}
