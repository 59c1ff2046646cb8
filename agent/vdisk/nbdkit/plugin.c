// SPDX-License-Identifier: GPL-2.0-only
/*
 * nbdkit-keel-plugin.so: the disk server.  nbdkit exports the disk over
 * NBD (Unix socket, or TCP on request) and this plugin runs the disk's
 * filter chain in-process: NBD I/O enters at the top of the chain; the
 * channel socket hands out handles entering lower (keel/vdisk_client.h).
 *
 *   nbdkit -f -U SOCKET build/nbdkit-keel-plugin.so disk=DISK.vmdk \
 *          [channel=PATH] [events=PATH] [readonly=true]
 *          [owner_listen=ADDR cluster_key=FILE [host_id=ID] [lease_ms=N]
 *           [renew_ms=N] [standby=true] [owner_control=PATH]]
 *
 * One disk server per disk on a host: it takes RUN_DIR/<dev>-<ino>.lock
 * (flock) and fails when another server holds it.  Events (NDJSON, one
 * line each: vdisk.open, vdisk.integrity_mismatch, ...) go to events=PATH
 * or standard error.
 *
 * With owner_listen, the disk is shared between hosts (agent/vdisk/owner.h):
 * the server opens it only once it owns it, closes it when another host's
 * signed release request asks, and every I/O passes the ownership gate.
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
#include "vdisk/owner.h"
#include "vmdk/vmdk.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static char *disk_path, *channel_path, *events_path;
static bool readonly;
static struct keel_vdisk *disk;
static struct keel_vchannel *channel;
static int lock_fd = -1;
static FILE *events;
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
/* ownership: the disk is open only while this server owns it; I/O holds the
 * lock for reading, closing it for writing (writers first, so a release is
 * not starved by a stream of I/O) */
static char *owner_listen, *cluster_key, *host_id, *owner_control, *lease_s, *renew_s;
static bool standby;
static struct keel_owner_srv *owner;
static pthread_rwlock_t disk_lock;
static uint64_t disk_size;
static int connections;

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
	char **slot = !strcmp(key, "disk")	    ? &disk_path :
		      !strcmp(key, "channel")	    ? &channel_path :
		      !strcmp(key, "events")	    ? &events_path :
		      !strcmp(key, "owner_listen")  ? &owner_listen :
		      !strcmp(key, "cluster_key")   ? &cluster_key :
		      !strcmp(key, "host_id")	    ? &host_id :
		      !strcmp(key, "owner_control") ? &owner_control :
		      !strcmp(key, "lease_ms")	    ? &lease_s :
		      !strcmp(key, "renew_ms")	    ? &renew_s :
						      NULL;

	if (!strcmp(key, "readonly") || !strcmp(key, "standby")) {
		int r = nbdkit_parse_bool(value);

		if (r < 0)
			return -1;
		*(!strcmp(key, "standby") ? &standby : &readonly) = r;
		return 0;
	}
	if (!slot) {
		nbdkit_error(
			"keel: unknown parameter %s (known: disk, channel, events, readonly, owner_listen, cluster_key, host_id, lease_ms, renew_ms, standby, owner_control)",
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
			     errno == EWOULDBLOCK ? "another disk server has this disk open" :
						    strerror(errno));
		return -1;
	}
	return 0;
}

static int gate(void *ctx)
{
	(void)ctx;
	return owner ? keel_owner_srv_gate(owner) : 0;
}

/* Open the chain and its channel (at start, or when ownership is acquired). */
static int open_disk(void *ctx, char *err, size_t errlen)
{
	struct keel_vdisk_opts o = { .flags = readonly ? KEEL_VDISK_RDONLY : 0,
				     .event = emit,
				     .gate = gate };
	struct keel_vdisk *d;
	struct keel_vchannel *ch;
	json_t *e;
	int r;

	(void)ctx;
	r = keel_vdisk_open(disk_path, &o, &d, err, errlen);
	if (r)
		return r;
	r = keel_vchannel_start(d, channel_path, &ch, err, errlen);
	if (r) {
		keel_vdisk_close(d);
		return r;
	}
	pthread_rwlock_wrlock(&disk_lock);
	disk = d;
	channel = ch;
	pthread_rwlock_unlock(&disk_lock);
	e = json_pack("{s:s, s:s, s:s, s:I, s:i, s:o}", "type", "vdisk.open", "disk", disk_path,
		      "channel", channel_path, "size", (json_int_t)keel_vdisk_size(d), "pid",
		      (int)getpid(), "filters", json_array());
	for (unsigned int i = 0; e && i < keel_vdisk_nfilters(d); i++)
		json_array_append_new(json_object_get(e, "filters"),
				      json_string(keel_vfilter_name(keel_vdisk_filter(d, i))));
	if (e)
		emit(NULL, e);
	json_decref(e);
	return 0;
}

/* Release: handles closed, the I/O admitted finishes, every filter flushed, closed. */
static int close_disk(void *ctx, char *err, size_t errlen)
{
	int r = 0;

	(void)ctx;
	keel_vchannel_stop(channel);
	channel = NULL;
	pthread_rwlock_wrlock(&disk_lock);
	if (disk && !keel_vdisk_readonly(disk))
		r = keel_vfilter_flush(keel_vdisk_top(disk));
	if (r) {
		snprintf(err, errlen, "%s: flush before release: %s", disk_path, strerror(-r));
	} else {
		keel_vdisk_close(disk);
		disk = NULL;
	}
	pthread_rwlock_unlock(&disk_lock);
	return r;
}

static int busy(void *ctx)
{
	(void)ctx;
	return __atomic_load_n(&connections, __ATOMIC_RELAXED);
}

static int parse_ms(const char *what, const char *s, unsigned int *ret)
{
	char *end;
	unsigned long v;

	if (!s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 3600000) {
		nbdkit_error("keel: %s=%s: not a number of milliseconds up to 3600000", what, s);
		return -1;
	}
	*ret = (unsigned int)v;
	return 0;
}

static int keel_get_ready(void)
{
	struct keel_vdisk_opts o = { .flags = readonly ? KEEL_VDISK_RDONLY : 0, .event = emit };
	pthread_rwlockattr_t ra;
	struct keel_vmdk *v;
	char err[1024];
	int r;

	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&disk_lock, &ra);
	pthread_rwlockattr_destroy(&ra);

	if (events_path) {
		events = fopen(events_path, "ae");
		if (!events) {
			nbdkit_error("keel: events=%s: %m", events_path);
			return -1;
		}
	}
	if (take_lock())
		return -1;
	if (owner_listen) {
		/* not open until owned: only its size now, read only */
		r = keel_vmdk_open(disk_path, KEEL_VMDK_RDONLY, &v, err, sizeof(err));
		if (r) {
			nbdkit_error("keel: %s", err);
			return -1;
		}
		disk_size = keel_vmdk_size(v);
		keel_vmdk_close(v);
		return 0;
	}
	r = keel_vdisk_open(disk_path, &o, &disk, err, sizeof(err));
	if (r) {
		nbdkit_error("keel: %s", err);
		return -1;
	}
	disk_size = keel_vdisk_size(disk);
	return 0;
}

/* Threads start after nbdkit forks into the background (if it does). */
static int keel_after_fork(void)
{
	char path[PATH_MAX], err[PATH_MAX + 1024];
	struct keel_owner_srv_conf c = {
		.disk = disk_path,
		.host = host_id,
		.listen = owner_listen,
		.key_file = cluster_key,
		.control = owner_control,
		.standby = standby,
		.event = emit,
		.open = open_disk,
		.close = close_disk,
		.busy = busy,
	};
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
	if (owner_listen) {
		if (!owner_control) {
			r = keel_vdisk_run_path(disk_path, "own", path, sizeof(path));
			if (r) {
				nbdkit_error("keel: %s: no control path: %s", disk_path,
					     strerror(-r));
				return -1;
			}
			owner_control = strdup(path);
			c.control = owner_control;
		}
		if (parse_ms("lease_ms", lease_s, &c.lease_ms) ||
		    parse_ms("renew_ms", renew_s, &c.renew_ms))
			return -1;
		r = keel_owner_srv_start(&c, &owner, err, sizeof(err));
		if (r) {
			nbdkit_error("keel: %s", err);
			return -1;
		}
		/* it serves (exports) from now on, owner or not: keeld's "serving" */
		e = json_pack("{s:s, s:s, s:I, s:i, s:o}", "type", "vdisk.owner_server", "disk",
			      disk_path, "size", (json_int_t)disk_size, "pid", (int)getpid(),
			      "status", keel_owner_srv_status(owner));
		if (e)
			emit(NULL, e);
		json_decref(e);
		return 0;
	}
	r = open_disk(NULL, err, sizeof(err));
	if (r) {
		nbdkit_error("keel: %s", err);
		disk = NULL;
		return -1;
	}
	return 0;
}

static void keel_cleanup(void)
{
	char err[PATH_MAX + 256];

	/* a clean stop (keelctl vdisk close, SIGTERM) lets another host claim
	 * the disk at once instead of waiting out the lease */
	if (owner && keel_owner_srv_release(owner, err, sizeof(err)))
		nbdkit_error("keel: releasing the disk at exit: %s", err);
	keel_owner_srv_stop(owner);
	owner = NULL;
	keel_vchannel_stop(channel);
	keel_vdisk_close(disk);
	if (lock_fd >= 0)
		close(lock_fd);
	if (events)
		fclose(events);
	free(disk_path);
	free(channel_path);
	free(events_path);
	free(owner_listen);
	free(cluster_key);
	free(host_id);
	free(owner_control);
	free(lease_s);
	free(renew_s);
}

static void *keel_open(int ro)
{
	(void)ro;
	__atomic_add_fetch(&connections, 1, __ATOMIC_RELAXED);
	return &disk_lock; /* the disk itself may come and go (ownership) */
}

static void keel_close(void *h)
{
	(void)h;
	__atomic_sub_fetch(&connections, 1, __ATOMIC_RELAXED);
}

static int64_t keel_get_size(void *h)
{
	(void)h;
	return (int64_t)disk_size;
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
	(void)h;
	return !readonly;
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

/* Every I/O holds the disk for reading; a released disk is ESHUTDOWN. */
static struct keel_vdisk *enter(void)
{
	pthread_rwlock_rdlock(&disk_lock);
	if (disk)
		return disk;
	pthread_rwlock_unlock(&disk_lock);
	nbdkit_set_error(ESHUTDOWN);
	return NULL;
}

static int leave(int r)
{
	pthread_rwlock_unlock(&disk_lock);
	return result(r);
}

static int keel_pread(void *h, void *buf, uint32_t count, uint64_t off, uint32_t flags)
{
	struct keel_vdisk *d = enter();

	(void)h;
	(void)flags;
	return d ? leave(keel_vfilter_pread(keel_vdisk_top(d), buf, count, off)) : -1;
}

static int keel_pwrite(void *h, const void *buf, uint32_t count, uint64_t off, uint32_t flags)
{
	struct keel_vdisk *d = enter();

	(void)h;
	return d ? leave(keel_vfilter_pwrite(keel_vdisk_top(d), buf, count, off, vf_flags(flags))) :
		   -1;
}

static int keel_flush(void *h, uint32_t flags)
{
	struct keel_vdisk *d;

	(void)h;
	(void)flags;
	/*
	 * Released or never owned: every write this server acknowledged was
	 * flushed by the release, and none was admitted since, so a flush has
	 * nothing to do.  A migration's source QEMU flushes again after the
	 * switchover's handoff; failing that would fail the migration.  A fenced
	 * server may hold writes it acknowledged and never flushed: EIO.
	 */
	if (owner && keel_owner_srv_clean(owner)) {
		pthread_rwlock_rdlock(&disk_lock);
		if (!disk) {
			pthread_rwlock_unlock(&disk_lock);
			return 0;
		}
		pthread_rwlock_unlock(&disk_lock);
	}
	d = enter();
	return d ? leave(keel_vfilter_flush(keel_vdisk_top(d))) : -1;
}

static int keel_trim(void *h, uint32_t count, uint64_t off, uint32_t flags)
{
	struct keel_vdisk *d = enter();

	(void)h;
	return d ? leave(keel_vfilter_discard(keel_vdisk_top(d), off, count, vf_flags(flags))) : -1;
}

static int keel_zero(void *h, uint32_t count, uint64_t off, uint32_t flags)
{
	struct keel_vdisk *d = enter();

	(void)h;
	return d ? leave(keel_vfilter_discard(keel_vdisk_top(d), off, count,
					      vf_flags(flags) | KEEL_VF_ZERO)) :
		   -1;
}

static struct nbdkit_plugin plugin = {
	.name = "keel",
	.longname = "keel virtual disk server (VMDK under a filter chain)",
	.version = "0.1.0",
	.config = keel_config,
	.config_complete = keel_config_complete,
	.config_help =
		"disk=<PATH>       The VMDK to serve (required).\n"
		"channel=<PATH>    The filter-access socket (default RUN_DIR/<dev>-<ino>.chan).\n"
		"events=<PATH>     Append NDJSON events here (default stderr).\n"
		"readonly=<BOOL>   Open the disk read-only.\n"
		"owner_listen=tcp:ADDR:PORT|unix:PATH  Share the disk between hosts:\n"
		"                  release requests arrive here (docs/vdisk.md).\n"
		"cluster_key=<PATH> The per-cluster HMAC key (mode 0600).\n"
		"host_id=<ID>      Default $KEEL_HOST_ID, else /etc/machine-id.\n"
		"lease_ms=<N> renew_ms=<N>  Lease length and renewal interval.\n"
		"standby=<BOOL>    Do not acquire the disk at start.\n"
		"owner_control=<PATH> Local control socket (default RUN_DIR/<dev>-<ino>.own).",
	.magic_config_key = "disk",
	.get_ready = keel_get_ready,
	.after_fork = keel_after_fork,
	.cleanup = keel_cleanup,
	.open = keel_open,
	.close = keel_close,
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
