// SPDX-License-Identifier: GPL-2.0-only
/*
 * What memh may read: files below [memh] allowed_dirs, opened with openat2's
 * RESOLVE_BENEATH from a descriptor of the directory, so '..' and symlinks
 * cannot lead outside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memh/memh_subsys.h"

/* Which allowed dir holds @path, and the path below it; -1 if none. */
int memh_match_dir(struct memh_priv *p, const char *path, const char **ret_rel)
{
	for (int i = 0; i < p->n_dirs; i++) {
		const char *names[2] = { p->dirs[i].name, p->dirs[i].real };

		for (int j = 0; j < 2; j++) {
			size_t n = strlen(names[j]);

			if (!strncmp(path, names[j], n) && path[n] == '/' && path[n + 1]) {
				*ret_rel = path + n + 1;
				return i;
			}
		}
	}
	return -1;
}

int memh_open_beneath(struct memh_priv *p, struct mreq *r)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int fd = syscall(SYS_openat2, p->dirs[r->dir].fd, r->rel, &how, sizeof(how));

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	r->fd = fd;
	return 0;
}

int memh_parse_dirs(struct memh_priv *p, char *why, size_t len)
{
	char list[sizeof(memh_cfg(p->s)->allowed_dirs)];
	char *save = NULL;

	snprintf(list, sizeof(list), "%s", memh_cfg(p->s)->allowed_dirs);
	for (char *tok = strtok_r(list, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		struct allowed_dir *a = &p->dirs[p->n_dirs];
		size_t n = strlen(tok);

		if (p->n_dirs == MAX_DIRS) {
			snprintf(why, len, "[memh] allowed_dirs: more than %d directories",
				 MAX_DIRS);
			return -E2BIG;
		}
		while (n > 1 && tok[n - 1] == '/')
			tok[--n] = '\0';
		if (tok[0] != '/' || n < 2) {
			snprintf(
				why, len,
				"[memh] allowed_dirs: '%s' is not an absolute directory (and / is refused)",
				tok);
			return -EINVAL;
		}
		snprintf(a->name, sizeof(a->name), "%s", tok);
		a->fd = open(tok, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (a->fd < 0 || !realpath(tok, a->real)) {
			int err = -errno;

			if (a->fd >= 0)
				close(a->fd);
			snprintf(why, len, "[memh] allowed_dirs: opening %s: %s", tok,
				 strerror(-err));
			return err;
		}
		p->n_dirs++;
	}
	return 0;
}

/* Confinement rests on openat2's RESOLVE_BENEATH (Linux 5.6): no fallback. */
int memh_check_openat2(char *why, size_t len)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH };
	int fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != ENOSYS)
		return 0;
	snprintf(
		why, len,
		"openat2() is not available (ENOSYS): files cannot be confined to [memh] allowed_dirs; run Linux 5.6 or later, or set [memh] enabled = false");
	return -ENOSYS;
}
