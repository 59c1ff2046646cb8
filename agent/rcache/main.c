// SPDX-License-Identifier: GPL-2.0-only
/*
 * keel-rcache: the read cache daemon (docs/rcache.md).  Its own process,
 * not a keeld subsystem: a disk read waits on it, so it must not share
 * keeld's single event loop, and a crash or kill -9 of it costs the cache
 * only (the cache filters read from storage meanwhile), not keeld.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keel/rcache.h"
#include "rcache/server.h"
#include "rcache/store.h"

struct env {
	const char *dir, *socket, *events;
	uint64_t size;
	unsigned int block_size, max_clients, disk_limit_pct, max_disks;
	unsigned int size_interval, size_disks;
};

static volatile int stop;
static FILE *events_out;
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void emit(void *ctx, const char *type, json_t *fields)
{
	struct timespec ts;
	json_t *e;
	char *s;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	e = json_pack("{s:s, s:f}", "type", type, "time",
		      (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
	if (e && fields)
		json_object_update(e, fields);
	json_decref(fields);
	s = e ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	if (!s)
		return;
	pthread_mutex_lock(&events_lock);
	fprintf(events_out, "%s\n", s);
	fflush(events_out);
	pthread_mutex_unlock(&events_lock);
	free(s);
}

/* "64M", "2G": powers of 1024 */
static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'K':
	case 'k':
		v <<= 10;
		end++;
		break;
	case 'M':
	case 'm':
		v <<= 20;
		end++;
		break;
	case 'G':
	case 'g':
		v <<= 30;
		end++;
		break;
	case 'T':
	case 't':
		v <<= 40;
		end++;
		break;
	}
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *ret)
{
	uint64_t v;

	if (parse_size(s, &v) || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned int)v;
	return 0;
}

static const struct argp_option options[] = {
	{ "dir", 'd', "DIR", 0, "cache file, records and dirty marks (default " KEEL_RCACHE_DIR ")",
	  0 },
	{ "size", 's', "BYTES", 0, "cached data, e.g. 4G (default 1G)", 0 },
	{ "block-size", 'b', "BYTES", 0, "cache block, power of two 4K..1M (default 4K)", 0 },
	{ "socket", 'S', "PATH", 0, "listen here (default " KEEL_RCACHE_SOCKET ")", 0 },
	{ "max-clients", 'c', "N", 0, "connections at once, 1..4096 (default 64)", 0 },
	{ "disk-limit", 'l', "PCT", 0,
	  "default share of the cache one disk may fill, 1..100 (default 100)", 0 },
	{ "max-disks", 'm', "N", 0, "disks tracked at once (default 4096)", 0 },
	{ "size-interval", 'i', "SECONDS", 0,
	  "size the disks' limits from their miss-ratio curves this often, 0..86400 (0: never; default 10)",
	  0 },
	{ "size-disks", 'D', "N", 0, "disks whose miss-ratio curve is kept, 1..4096 (default 64)",
	  0 },
	{ "events", 'e', "FILE", 0, "append rcache.* events (NDJSON) here (default: stderr)", 0 },
	{ 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct env *env = state->input;

	switch (key) {
	case 'd':
		env->dir = arg;
		break;
	case 'S':
		env->socket = arg;
		break;
	case 'e':
		env->events = arg;
		break;
	case 's':
		if (parse_size(arg, &env->size))
			argp_error(state, "--size %s: expected a number with K, M, G or T", arg);
		break;
	case 'b':
		if (parse_uint(arg, 4096, 1 << 20, &env->block_size))
			argp_error(state, "--block-size %s: expected 4K..1M", arg);
		break;
	case 'c':
		if (parse_uint(arg, 1, 4096, &env->max_clients))
			argp_error(state, "--max-clients %s: expected 1..4096", arg);
		break;
	case 'l':
		if (parse_uint(arg, 1, 100, &env->disk_limit_pct))
			argp_error(state, "--disk-limit %s: expected 1..100", arg);
		break;
	case 'm':
		if (parse_uint(arg, 1, 1 << 20, &env->max_disks))
			argp_error(state, "--max-disks %s: expected 1..1048576", arg);
		break;
	case 'i':
		if (parse_uint(arg, 0, 86400, &env->size_interval))
			argp_error(state, "--size-interval %s: expected 0..86400 seconds", arg);
		break;
	case 'D':
		if (parse_uint(arg, 1, 4096, &env->size_disks))
			argp_error(state, "--size-disks %s: expected 1..4096", arg);
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument %s", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
	"keel-rcache: the read cache daemon for keel's virtual disks.\v"
	"The cache filter of a disk's chain ([vdisk] filters = ... cache) asks it for\n"
	"blocks; keelctl rcache shows and drops what it holds.\n\n"
	"EXAMPLES:\n"
	"  keel-rcache --dir /var/lib/keel/rcache --size 8G\n"
	"  keel-rcache --dir /nvme/rcache --size 64G --disk-limit 25 --events /var/log/keel/rcache.ndjson\n"
	"  keel-rcache --size 8G --size-interval 0     # limits only by hand (CONTROL size/limit)\n";

int main(int argc, char **argv)
{
	struct env env = { .dir = KEEL_RCACHE_DIR,
			   .socket = KEEL_RCACHE_SOCKET,
			   .size = 1ull << 30,
			   .max_clients = 64,
			   .size_interval = 10,
			   .size_disks = 64 };
	struct keel_rcache_autosize_opts ao = { 0 };
	struct keel_rcache_autosize *autosize = NULL;
	struct argp argp = { options, parse_opt, NULL, doc, NULL, NULL, NULL };
	struct keel_rcache_store_opts so = { 0 };
	struct keel_rcache_server_opts vo = { 0 };
	struct keel_rcache_store *store = NULL;
	struct keel_rcache_server *srv = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	char err[1024];
	int r;

	argp_parse(&argp, argc, argv, 0, NULL, &env);
	events_out = stderr;
	if (env.events && !(events_out = fopen(env.events, "ae"))) {
		fprintf(stderr, "keel-rcache: %s: cannot open: %s\n", env.events, strerror(errno));
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	so.dir = env.dir;
	so.size = env.size;
	so.block_size = env.block_size;
	so.disk_limit_pct = env.disk_limit_pct;
	so.max_disks = env.max_disks;
	so.event = emit;
	r = keel_rcache_store_open(&so, &store, err, sizeof(err));
	if (r) {
		fprintf(stderr, "keel-rcache: %s\n", err);
		return 1;
	}
	if (env.size_interval) {
		ao.max_disks = env.size_disks;
		r = keel_rcache_autosize_new(&ao, store, &autosize);
		if (r) {
			fprintf(stderr, "keel-rcache: miss-ratio curves for %u disks: %s\n",
				env.size_disks, strerror(-r));
			keel_rcache_store_close(store);
			return 1;
		}
	}
	vo.autosize = autosize;
	vo.size_interval_ms = env.size_interval * 1000;
	vo.socket = env.socket;
	vo.max_clients = env.max_clients;
	vo.store = store;
	vo.event = emit;
	r = keel_rcache_server_start(&vo, &srv, err, sizeof(err));
	if (r) {
		fprintf(stderr, "keel-rcache: %s\n", err);
		keel_rcache_autosize_free(autosize);
		keel_rcache_store_close(store);
		return 1;
	}
	emit(NULL, "rcache.start",
	     json_pack("{s:s, s:s, s:I, s:i}", "socket", env.socket, "dir", env.dir, "size",
		       (json_int_t)env.size, "max_clients", (int)env.max_clients));
	keel_rcache_server_run(srv, &stop);
	keel_rcache_server_stop(srv);
	keel_rcache_autosize_free(autosize);
	keel_rcache_store_close(store);
	emit(NULL, "rcache.stop", NULL);
	return 0;
}
