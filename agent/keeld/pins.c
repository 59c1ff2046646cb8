// SPDX-License-Identifier: GPL-2.0-only
/* A subsystem's pins under <pin_dir>/<subsystem>/: see keeld/pins.h. */
#include <linux/magic.h> /* BPF_FS_MAGIC */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/log.h"
#include "keeld/pins.h"
#include "keeld/subsys.h"

static void remove_entries(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX + 256];

	if (!dp)
		return;
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) < 0)
			pr_warn("removing the pin %s: %s, ignoring", path, strerror(errno));
	}
	closedir(dp);
}

static int make_dirs(const struct keel_pins *pins)
{
	struct statfs sfs;

	if (mkdir(pins->root, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (statfs(pins->root, &sfs) < 0)
		return -errno;
	if ((unsigned long)sfs.f_type != BPF_FS_MAGIC)
		return -ENOTSUP; /* pins only live on a bpffs */
	if (mkdir(pins->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int keel_pins_open(struct keel_pins *pins, const struct keel_subsys *s, enum keel_pins_mode mode,
		   char *why, size_t len)
{
	int err;

	if (pins->made)
		return 0;
	snprintf(pins->root, sizeof(pins->root), "%s", s->d->cfg.pin_dir);
	snprintf(pins->dir, sizeof(pins->dir), "%s/%s", pins->root, s->ops->name);
	err = make_dirs(pins);
	if (err) {
		snprintf(why, len,
			 "preparing the pin directory %s: %s (is [bpf] pin_dir %s on a bpffs?)",
			 pins->dir, strerror(-err), pins->root);
		return err;
	}
	pins->made = true;
	/* a keeld that crashed left its pins: they are ours to replace */
	if (mode == KEEL_PINS_FRESH)
		remove_entries(pins->dir);
	return 0;
}

int keel_pins_map(struct keel_pins *pins, struct bpf_map *map, char *why, size_t len)
{
	char path[PATH_MAX + 256];
	int err;

	snprintf(path, sizeof(path), "%s/%s", pins->dir, bpf_map__name(map));
	err = bpf_map__pin(map, path);
	if (err)
		snprintf(why, len, "pinning %s: %s", path, strerror(-err));
	return err;
}

int keel_pins_link(struct keel_pins *pins, struct bpf_link *link, const char *prog, char *why,
		   size_t len)
{
	char path[PATH_MAX + 256];
	int err;

	snprintf(path, sizeof(path), "%s/%s_link", pins->dir, prog);
	/* ours is attached: the old one may go now */
	if (unlink(path) < 0 && errno != ENOENT) {
		err = -errno;
		snprintf(why, len, "replacing the pin %s: %s", path, strerror(-err));
		return err;
	}
	err = bpf_link__pin(link, path);
	if (err)
		snprintf(why, len, "pinning %s: %s", path, strerror(-err));
	return err;
}

/* 1: the map pinned at @path has the shape @map asks for; 0: another; < 0: errno. */
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

int keel_pins_reuse_maps(struct keel_pins *pins, struct bpf_object *obj, char *why, size_t len)
{
	char path[PATH_MAX + 256];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pins->dir, bpf_map__name(map));
		err = pin_compatible(path, map);
		if (err == -EPERM) {
			snprintf(why, len, "reusing %s: %s", path, strerror(-err));
			return err;
		}
		if (err == 0) {
			pr_info("%s has another shape; replacing it", path);
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

/* Is @name the pin of a map or an attached program's link of @skels? */
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

int keel_pins_links(struct keel_pins *pins, struct bpf_object_skeleton *const *skels, int n,
		    char *why, size_t len)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *dir;
	int err;

	for (int i = 0; i < n; i++) {
		for (int j = 0; j < skels[i]->prog_cnt; j++) {
			struct bpf_link *link = *skels[i]->progs[j].link;

			if (!link)
				continue;
			err = keel_pins_link(pins, link, skels[i]->progs[j].name, why, len);
			if (err)
				return err;
		}
	}
	/* links of programs this build no longer has would stay attached forever */
	dir = opendir(pins->dir);
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || wanted(de->d_name, skels, n))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pins->dir, de->d_name);
		if (unlink(path) < 0)
			pr_warn("removing the stale pin %s: %s, ignoring", path, strerror(errno));
	}
	closedir(dir);
	return 0;
}

void keel_pins_remove(struct keel_pins *pins)
{
	if (!pins->made)
		return;
	remove_entries(pins->dir);
	rmdir(pins->dir);
	rmdir(pins->root); /* only succeeds once every subsystem's is gone */
	pins->made = false;
}
