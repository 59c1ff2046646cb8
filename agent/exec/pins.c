// SPDX-License-Identifier: GPL-2.0-only
/*
 * exec's pins: everything under <pin_dir>/exec outlives keeld.  A keeld
 * that stops cleanly in enforce mode (or is killed) leaves its maps and
 * links pinned, so the kernel keeps enforcing with the last trust it had;
 * the next keeld reuses those maps (the trust, the mode, the events that
 * queued meanwhile) and swaps in its own links only once they are
 * attached.  A map whose shape changed (another build, another
 * [exec] max_trusted) is not reused: the new one replaces its pin.
 */
#include <linux/magic.h>	/* BPF_FS_MAGIC */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/log.h"
#include "exec/exec_priv.h"
#include "exec/guard.h"


static int make_dir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Does the pinned map at @path have the shape @map asks for? */
static int pin_compatible(const char *path, const struct bpf_map *map)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	close(fd);
	if (err)
		return err;
	return info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
	       info.value_size == bpf_map__value_size(map) &&
	       info.max_entries == bpf_map__max_entries(map) &&
	       info.map_flags == bpf_map__map_flags(map);
}

int exec_pins_prepare(struct keel_subsys *s, struct bpf_object *obj, char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	char path[PATH_MAX + 64];
	struct statfs sfs;
	struct bpf_map *map;
	int err;

	err = make_dir(s->d->cfg.pin_dir);
	if (!err && statfs(s->d->cfg.pin_dir, &sfs) < 0)
		err = -errno;
	if (!err && (unsigned long)sfs.f_type != BPF_FS_MAGIC)
		err = -ENOTSUP;
	snprintf(p->pin_path, sizeof(p->pin_path), "%s/exec", s->d->cfg.pin_dir);
	if (!err)
		err = make_dir(p->pin_path);
	if (err) {
		snprintf(why, len, "preparing pin directory %s: %s (is %s on a bpffs?)",
			 p->pin_path, strerror(-err), s->d->cfg.pin_dir);
		return err;
	}
	p->pinned = true;
	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->pin_path, bpf_map__name(map));
		err = pin_compatible(path, map);
		if (err == -EPERM) {
			snprintf(why, len,
				 "reusing %s: refused by keel's guard: the pins belong to a keeld run from another executable; run that keeld and switch to audit, or reboot (docs/exec.md, \"Across restarts\")",
				 path);
			return err;
		}
		if (err == 0) {
			pr_info("exec: %s has another shape; replacing it", path);
			if (unlink(path) < 0) {
				err = -errno;
				snprintf(why, len, "removing the outdated pin %s: %s", path,
					 strerror(-err));
				return err;
			}
		}
		/* libbpf reuses the pin if there is one, else pins at load */
		err = bpf_map__set_pin_path(map, path);
		if (err) {
			snprintf(why, len, "setting the pin path %s: %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

static bool wanted(const char *name, struct bpf_object_skeleton *const *skels, int n)
{
	char link[128];

	for (int i = 0; i < n; i++) {
		const struct bpf_object_skeleton *sk = skels[i];
		struct bpf_map *map;

		bpf_object__for_each_map(map, *sk->obj)
			if (!bpf_map__is_internal(map) && !strcmp(name, bpf_map__name(map)))
				return true;
		for (int j = 0; j < sk->prog_cnt; j++) {
			snprintf(link, sizeof(link), "%s_link", sk->progs[j].name);
			if (*sk->progs[j].link && !strcmp(name, link))
				return true;
		}
	}
	return false;
}

int exec_pins_commit(struct keel_subsys *s, struct bpf_object_skeleton *const *skels, int n,
		     char *why, size_t len)
{
	struct exec_priv *p = s->priv;
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *dir;
	int err;

	for (int i = 0; i < n; i++) {
		for (int j = 0; j < skels[i]->prog_cnt; j++) {
			struct bpf_link *link = *skels[i]->progs[j].link;

			if (!link)
				continue;
			snprintf(path, sizeof(path), "%s/%s_link", p->pin_path,
				 skels[i]->progs[j].name);
			/* ours is attached: the old one may go now */
			if (unlink(path) < 0 && errno != ENOENT) {
				err = -errno;
				snprintf(why, len, "replacing the pin %s: %s", path, strerror(-err));
				return err;
			}
			err = bpf_link__pin(link, path);
			if (err) {
				snprintf(why, len, "pinning %s: %s", path, strerror(-err));
				return err;
			}
		}
	}
	/* links of programs this build no longer has would enforce forever */
	dir = opendir(p->pin_path);
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || wanted(de->d_name, skels, n))
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->pin_path, de->d_name);
		if (unlink(path) < 0)
			pr_warn("exec: removing the stale pin %s: %s, ignoring", path,
				strerror(errno));
	}
	closedir(dir);
	return 0;
}
