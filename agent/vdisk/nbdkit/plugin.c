// SPDX-License-Identifier: GPL-2.0
/*
 * nbdkit-keel-plugin.so: the disk server.  nbdkit exports the disk over
 * NBD (Unix socket, or TCP on request) and this plugin runs the disk's
 * filter chain in-process: NBD I/O enters at the top of the chain; the
 * channel socket hands out handles entering lower (keel/vdisk_client.h).
 *
 *   nbdkit -f -U SOCKET build/nbdkit-keel-plugin.so disk=DISK.vmdk \
 *          [channel=PATH] [events=PATH] [readonly=true]
 *
 * One disk server per disk on a host: it takes RUN_DIR/<dev>-<ino>.lock
 * (flock) and fails when another server holds it.  Events (NDJSON, one
 * line each: vdisk.open, vdisk.integrity_mismatch, ...) go to events=PATH
 * or standard error.
 */
#define NBDKIT_API_VERSION 2
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nbdkit-plugin.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keel/vdisk.h"
#include "keel/vdisk_client.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static char *disk_path, *channel_path, *events_path;
static bool readonly;
static struct keel_vdisk *disk;
static struct keel_vchannel *channel;
static int lock_fd = -1;
static FILE *events;
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;

static void emit(void *ctx, json_t *e)
{
	struct timespec ts;
	char when[64];
	char *line;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	strftime(when, 40, "%Y-%m-%dT%H:%M:%S", gmtime(&ts.tv_sec));
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%09ldZ", ts.tv_nsec);
	json_object_set_new(e, "time", json_string(when));
	json_object_set_new(e, "subsystem", json_string("vdisk"));
	line = json_dumps(e, JSON_COMPACT);
	if (!line)
		return;
	pthread_mutex_lock(&events_lock);
	fprintf(events ? events : stderr, "%s\n", line);
	fflush(events ? events : stderr);
	pthread_mutex_unlock(&events_lock);
	free(line);
}

static int keel_config(const char *key, const char *value)
{
	char **slot = !strcmp(key, "disk")      ? &disk_path
		      : !strcmp(key, "channel") ? &channel_path
		      : !strcmp(key, "events")  ? &events_path
						: NULL;

	if (!strcmp(key, "readonly")) {
		int r = nbdkit_parse_bool(value);

		if (r < 0)
			return -1;
		readonly = r;
		return 0;
	}
	if (!slot) {
		nbdkit_error("keel: unknown parameter %s (known: disk, channel, events, readonly)",
			     key);
		return -1;
	}
	free(*slot);
	*slot = strdup(value);
	return *slot ? 0 : -1;
}

static int keel_config_complete(void)
{
	if (!disk_path) {
		nbdkit_error("keel: disk=PATH is required (the VMDK to serve)");
		return -1;
	}
	return 0;
}

/* RUN_DIR/<dev>-<ino>.lock: one disk server per disk on this host. */
static int take_lock(void)
{
	char path[PATH_MAX], *slash;
	int r = keel_vdisk_run_path(disk_path, "lock", path, sizeof(path));

	if (r) {
		nbdkit_error("keel: %s: cannot name the disk: %s", disk_path, strerror(-r));
		return -1;
	}
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0755);
	*slash = '/';
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
		nbdkit_error("keel: %s: %s: %s", disk_path, path,
			     errno == EWOULDBLOCK ? "another disk server has this disk open"
						  : strerror(errno));
		return -1;
	}
	return 0;
}

static int keel_get_ready(void)
{
	struct keel_vdisk_opts o = { .flags = readonly ? KEEL_VDISK_RDONLY : 0, .event = emit };
	char err[1024];
	int r;

	if (events_path) {
		events = fopen(events_path, "ae");
		if (!events) {
			nbdkit_error("keel: events=%s: %m", events_path);
			return -1;
		}
	}
	if (take_lock())
		return -1;
	r = keel_vdisk_open(disk_path, &o, &disk, err, sizeof(err));
	if (r) {
		nbdkit_error("keel: %s", err);
		return -1;
	}
	return 0;
}

/* Threads start after nbdkit forks into the background (if it does). */
static int keel_after_fork(void)
{
	char path[PATH_MAX], err[1024];
	json_t *e;
	int r;

	if (!channel_path) {
		r = keel_vdisk_run_path(disk_path, "chan", path, sizeof(path));
		if (r) {
			nbdkit_error("keel: %s: no channel path: %s", disk_path, strerror(-r));
			return -1;
		}
		channel_path = strdup(path);
	}
	r = keel_vchannel_start(disk, channel_path, &channel, err, sizeof(err));
	if (r) {
		nbdkit_error("keel: %s", err);
		return -1;
	}
	e = json_pack("{s:s, s:s, s:s, s:I, s:i, s:o}", "type", "vdisk.open", "disk", disk_path,
		      "channel", channel_path, "size", (json_int_t)keel_vdisk_size(disk), "pid",
		      (int)getpid(), "filters", json_array());
	for (unsigned int i = 0; e && i < keel_vdisk_nfilters(disk); i++)
		json_array_append_new(json_object_get(e, "filters"),
				      json_string(keel_vfilter_name(keel_vdisk_filter(disk, i))));
	if (e)
		emit(NULL, e);
	json_decref(e);
	return 0;
}

static void keel_cleanup(void)
{
	keel_vchannel_stop(channel);
	keel_vdisk_close(disk);
	if (lock_fd >= 0)
		close(lock_fd);
	if (events)
		fclose(events);
	free(disk_path);
	free(channel_path);
	free(events_path);
}

static void *keel_open(int ro)
{
	(void)ro;
	return disk;
}

static int64_t keel_get_size(void *h)
{
	return (int64_t)keel_vdisk_size(h);
}

static int keel_block_size(void *h, uint32_t *min, uint32_t *pref, uint32_t *max)
{
	(void)h;
	*min = KEEL_VF_SECTOR;
	*pref = 4096;
	*max = 0xffffffff;
	return 0;
}

static int keel_can_write(void *h)
{
	return !keel_vdisk_readonly(h);
}

static int keel_can_yes(void *h)
{
	(void)h;
	return 1;
}

static int keel_can_fua(void *h)
{
	(void)h;
	return NBDKIT_FUA_NATIVE;
}

static int result(int r)
{
	if (r) {
		nbdkit_set_error(-r);
		return -1;
	}
	return 0;
}

static unsigned int vf_flags(uint32_t flags)
{
	return flags & NBDKIT_FLAG_FUA ? KEEL_VF_FUA : 0;
}

static int keel_pread(void *h, void *buf, uint32_t count, uint64_t off, uint32_t flags)
{
	(void)flags;
	return result(keel_vfilter_pread(keel_vdisk_top(h), buf, count, off));
}

static int keel_pwrite(void *h, const void *buf, uint32_t count, uint64_t off, uint32_t flags)
{
	return result(keel_vfilter_pwrite(keel_vdisk_top(h), buf, count, off, vf_flags(flags)));
}

static int keel_flush(void *h, uint32_t flags)
{
	(void)flags;
	return result(keel_vfilter_flush(keel_vdisk_top(h)));
}

static int keel_trim(void *h, uint32_t count, uint64_t off, uint32_t flags)
{
	return result(keel_vfilter_discard(keel_vdisk_top(h), off, count, vf_flags(flags)));
}

static int keel_zero(void *h, uint32_t count, uint64_t off, uint32_t flags)
{
	return result(keel_vfilter_discard(keel_vdisk_top(h), off, count,
					   vf_flags(flags) | KEEL_VF_ZERO));
}

static struct nbdkit_plugin plugin = {
	.name = "keel",
	.longname = "keel virtual disk server (VMDK under a filter chain)",
	.version = "0.1.0",
	.config = keel_config,
	.config_complete = keel_config_complete,
	.config_help = "disk=<PATH>       The VMDK to serve (required).\n"
		       "channel=<PATH>    The filter-access socket (default RUN_DIR/<dev>-<ino>.chan).\n"
		       "events=<PATH>     Append NDJSON events here (default stderr).\n"
		       "readonly=<BOOL>   Open the disk read-only.",
	.magic_config_key = "disk",
	.get_ready = keel_get_ready,
	.after_fork = keel_after_fork,
	.cleanup = keel_cleanup,
	.open = keel_open,
	.get_size = keel_get_size,
	.block_size = keel_block_size,
	.can_write = keel_can_write,
	.can_flush = keel_can_yes,
	.can_trim = keel_can_yes,
	.can_zero = keel_can_yes,
	.can_fua = keel_can_fua,
	.can_multi_conn = keel_can_yes,
	.pread = keel_pread,
	.pwrite = keel_pwrite,
	.flush = keel_flush,
	.trim = keel_trim,
	.zero = keel_zero,
	.errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
