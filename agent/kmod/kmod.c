// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmod subsystem: keel.ko's presence.  Loads the module when the
 * configuration names one and it is not loaded yet, then opens /dev/keel
 * and checks the ABI version.  Memory handles and upcalls build on this.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "keel/keel_uapi.h"
#include "keeld/subsys.h"

/* The [kmod] section of keel.conf. */
struct kmod_config {
	struct keel_subsys_config subsys; /* enabled, required: first */
	char module[PATH_MAX];
};

#define T struct kmod_config
static const struct keel_opt kmod_options[] = {
	KEEL_OPT_ENABLED(T, "use keel.ko when it is loaded"),
	KEEL_OPT_REQUIRED(T, "exit with an error when keel.ko is not usable"),
	KEEL_OPT_STRING(
		T, "module", module, "",
		"path of keel.ko to load at start when it is not loaded; empty: do not load"),
	KEEL_OPT_END
};
#undef T

struct kmod_priv {
	int fd;
	struct keel_version version;
};

static int load_module(const char *path, char *why, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "opening module %s ([kmod] module): %s", path, strerror(-err));
		return err;
	}
	if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) {
		err = -errno;
		snprintf(why, len, "loading %s: %s (%s); see dmesg", path, strerror(-err),
			 keel_errno_name(err));
	}
	close(fd);
	return err;
}

static int kmod_open(struct keel_subsys *s, char *why, size_t len)
{
	struct kmod_priv *p = s->priv;
	int err;

	p->fd = open("/dev/keel", O_RDWR | O_CLOEXEC);
	if (p->fd < 0) {
		err = -errno;
		snprintf(why, len, "opening /dev/keel: %s", strerror(-err));
		return err;
	}
	memset(&p->version, 0, sizeof(p->version));
	if (ioctl(p->fd, KEEL_IOC_VERSION, &p->version) < 0) {
		err = -errno;
		snprintf(why, len, "asking /dev/keel its version: %s (%s)", strerror(-err),
			 keel_errno_name(err));
		return err;
	}
	p->version.version[sizeof(p->version.version) - 1] = '\0';
	if (p->version.abi != KEEL_ABI_VERSION) {
		snprintf(
			why, len,
			"keel.ko speaks ABI %u, this keeld ABI %u: load the keel.ko built with this keeld",
			p->version.abi, KEEL_ABI_VERSION);
		return -EPROTO;
	}
	return 0;
}

static int kmod_start(struct keel_subsys *s, char *why, size_t len)
{
	(void)s;
	(void)why;
	(void)len;
	return 0; /* nothing to attach yet: the device is open */
}

static void kmod_stop(struct keel_subsys *s)
{
	struct kmod_priv *p = s->priv;

	if (p->fd > 0)
		close(p->fd);
	p->fd = -1;
}

static void kmod_counters(struct keel_subsys *s, json_t *out)
{
	struct kmod_priv *p = s->priv;

	json_object_set_new(out, "module_version", json_string(p->version.version));
	json_object_set_new(out, "abi", json_integer(p->version.abi));
}

/* Load [kmod] module before the feature check, so that it counts as present. */
static int kmod_before_probe(const void *config, char *why, size_t len)
{
	const struct kmod_config *c = config;

	if (!c->subsys.enabled || !c->module[0] || access("/sys/module/keel", F_OK) == 0)
		return 0;
	return load_module(c->module, why, len);
}

const struct keel_subsys_ops keel_kmod_ops = {
	.name = "kmod",
	.summary = "keel.ko: memory handles, upcalls, IO filter",
	.needs = { KEEL_FEAT_KMOD },
	.n_needs = 1,
	.priv_size = sizeof(struct kmod_priv),
	.options = kmod_options,
	.config_size = sizeof(struct kmod_config),
	.before_probe = kmod_before_probe,
	.open = kmod_open,
	.start = kmod_start,
	.stop = kmod_stop,
	.counters = kmod_counters,
};
